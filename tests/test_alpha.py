import math

import pytest
import torch

from freedarts_cli.alpha import active_ops, check_scale, draw_alpha
from freedarts_cli.errors import UserError


@pytest.mark.parametrize("bad", [-1, 0, float("nan"), float("inf"), "abc", None, True])
def test_scale_must_be_positive_and_finite(bad):
    with pytest.raises(UserError, match="a="):
        check_scale(bad)


def test_scale_accepts_strings_and_numbers():
    assert check_scale("1e-3") == 1e-3
    assert check_scale(2) == 2.0


def test_alpha_is_a_times_standard_normal():
    alpha = torch.zeros(200, 50, dtype=torch.float64)
    torch.manual_seed(0)
    draw_alpha(alpha, 1e-3)
    assert math.isclose(alpha.std().item(), 1e-3, rel_tol=0.05)
    assert abs(alpha.mean().item()) < 1e-4
    torch.manual_seed(0)
    again = torch.zeros_like(alpha)
    draw_alpha(again, 1e-3)
    assert torch.equal(alpha, again)


def test_active_ops_lists_unpruned_indices():
    mask = torch.tensor([[True, False, True], [False, False, True]])
    assert active_ops(mask) == [[0, 2], [2]]


def test_float32_alpha_is_the_float64_alpha_rounded():
    """Comparing numerics must compare only numerics: the same seed draws the same α."""
    a64, a32 = torch.empty(6, 5, dtype=torch.float64), torch.empty(6, 5, dtype=torch.float32)
    torch.manual_seed(3)
    draw_alpha(a64, 1e-3)
    torch.manual_seed(3)
    draw_alpha(a32, 1e-3)
    assert torch.equal(a32, a64.float())
