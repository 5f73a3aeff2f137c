"""EPE-NAS: the per-class Jacobian score against the authors' recipe, written out with numpy."""

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

import freedarts_cli.proxies.epe_nas  # noqa: F401  (registers epe_nas)
from freedarts_cli.data import Batch
from freedarts_cli.proxies import PROXIES
from freedarts_cli.spaces.nb201 import NB201Space

from . import CPU, F64, Tiny, nb201_cell_on_cifar10


def by_hand(net, x, labels):
    """Per-image Jacobians by torch.autograd.functional.jacobian (no batch coupling: no BN),
    then the authors' ``eval_score_perclass``: rows stacked per class, np.corrcoef, k = 1e-5."""
    ref = copy.deepcopy(net)
    jac = np.stack(
        [torch.autograd.functional.jacobian(lambda v: ref(v[None]).sum(), xi).numpy() for xi in x]
    )
    per_class = {}
    for i, c in enumerate(labels.tolist()):
        per_class[c] = np.vstack((per_class[c], jac[i])) if c in per_class else jac[i]
    score = 0.0
    for rows in per_class.values():
        score += abs(np.sum(np.log(np.abs(np.corrcoef(rows)) + 1e-5)))
    return score


def test_epe_nas_matches_the_authors_recipe_on_an_mlp():
    torch.manual_seed(0)
    net = Tiny(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 4), input_shape=(5,)).double()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(9, 5, generator=g, dtype=F64)
    labels = torch.tensor([0, 0, 0, 3, 3, 3, 3, 2, 0])  # class 2 holds one image: log(1 + k)
    value = PROXIES["epe_nas"](net, Batch(x, labels, labels))
    assert value == pytest.approx(by_hand(net, x, labels), rel=1e-10)
    assert value > 0
    # the score depends on which images share a class
    other = torch.tensor([0, 1, 0, 1, 0, 1, 0, 1, 0])
    assert PROXIES["epe_nas"](net, Batch(x, other, other)) == pytest.approx(
        by_hand(net, x, other), rel=1e-10
    )


def test_a_single_class_of_two_images_by_hand():
    # f(x) = w·relu(x) with x > 0 on the used coordinates: J_n = w masked by x_n > 0
    net = Tiny(nn.ReLU(), nn.Linear(3, 1, bias=False), input_shape=(3,)).double()
    with torch.no_grad():
        net[1].weight[:] = torch.tensor([[1.0, 2.0, 3.0]], dtype=F64)
    x = torch.tensor([[1.0, 1.0, -1.0], [-1.0, 1.0, 1.0]], dtype=F64)
    y = torch.tensor([4, 4])
    rho = np.corrcoef([1.0, 2.0, 0.0], [0.0, 2.0, 3.0])[0, 1]
    expected = abs(2 * math.log(1 + 1e-5) + 2 * math.log(abs(rho) + 1e-5))
    assert PROXIES["epe_nas"](net, Batch(x, y, y)) == pytest.approx(expected, rel=1e-12)


def test_epe_nas_on_nb201_real_cifar10(cifar10_subset):
    net, b = nb201_cell_on_cifar10(cifar10_subset, 32)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    value = PROXIES["epe_nas"](net, b)
    assert math.isfinite(value) and value > 0
    assert all(torch.equal(v, state[k]) for k, v in net.state_dict().items())
    assert all(p.grad is None for p in net.parameters())
    assert PROXIES["epe_nas"](net, b) == value
    assert PROXIES["epe_nas"].needs_labels and PROXIES["epe_nas"].floor


def test_a_network_blind_to_its_input_scores_minus_inf():
    torch.manual_seed(0)
    net = NB201Space(N=1).network([0] * 6, F64, CPU)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 3, 32, 32, generator=g, dtype=F64)
    y = torch.tensor([0, 1, 0, 1, 2, 2])
    assert PROXIES["epe_nas"](net, Batch(x, y, y)) == -math.inf
