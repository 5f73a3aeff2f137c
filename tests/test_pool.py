import pytest
import torch
from torch import nn

from freedarts_cli.pool import AvgPool3x3


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (3, 5, 7, 11), (1, 2, 1, 1), (4, 16, 32, 32)])
def test_window_sum_pool_equals_pytorchs_bit_for_bit(dtype, shape):
    torch.manual_seed(0)
    x = torch.randn(shape, dtype=dtype, requires_grad=True)
    ours, theirs = AvgPool3x3()(x), nn.AvgPool2d(3, 1, 1, count_include_pad=False)(x)
    assert torch.equal(ours, theirs)
    upstream = torch.randn_like(ours)
    (g_ours,) = torch.autograd.grad(ours, x, upstream)
    (g_theirs,) = torch.autograd.grad(theirs, x, upstream)
    assert torch.equal(g_ours, g_theirs)


def test_window_sum_pool_has_derivatives_of_every_order():
    """GraSP-α differentiates the backward pass again."""
    x = torch.randn(2, 3, 6, 5, dtype=torch.float64, requires_grad=True)
    pool = AvgPool3x3()
    assert torch.autograd.gradcheck(lambda t: pool(t) ** 2, (x,))
    assert torch.autograd.gradgradcheck(lambda t: pool(t) ** 2, (x,))


def test_counts_exclude_the_padding():
    out = AvgPool3x3()(torch.ones(1, 1, 4, 5))
    assert torch.equal(out, torch.ones(1, 1, 4, 5))  # a constant image stays constant
    x = torch.zeros(1, 1, 3, 3)
    x[0, 0, 0, 0] = 4.0
    assert AvgPool3x3()(x)[0, 0, 0, 0] == 1.0  # a corner window covers 4 pixels
