"""ZiCo: the formula against a by-hand computation, its σ = 0 rules, and NB201 on real CIFAR-10."""

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

import freedarts_cli.proxies.zico  # noqa: F401  (registers zico)
from freedarts_cli.errors import UserError
from freedarts_cli.proxies import PROXIES
from freedarts_cli.proxies.zico import inverse_cv_score
from freedarts_cli.spaces.nb201 import NB201Space

from . import CPU, Tiny, nb201_cell_on_cifar10, tiny_batch


def by_hand(net, b):
    """Two half-batches, .backward() on a copy, numpy statistics; with two samples
    mean|g| / std = (|g1| + |g2|) / |g1 - g2|."""
    ref = copy.deepcopy(net)
    half = len(b.images) // 2
    grads = []
    for sl in (slice(0, half), slice(half, None)):
        ref.zero_grad()
        nn.functional.cross_entropy(ref(b.images[sl]), b.labels[sl]).backward()
        grads.append(
            [
                m.weight.grad.numpy().ravel().copy()
                for m in ref.modules()
                if isinstance(m, (nn.Conv2d, nn.Linear))
            ]
        )
    total = 0.0
    for g1, g2 in zip(*grads, strict=True):
        diff = np.abs(g1 - g2)
        keep = diff != 0
        s = np.sum((np.abs(g1[keep]) + np.abs(g2[keep])) / diff[keep])
        if s != 0:
            total += math.log(s)
    return total


def test_zico_matches_a_by_hand_computation_on_an_mlp():
    torch.manual_seed(0)
    net = Tiny(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 3)).double()
    with torch.no_grad():  # a dead hidden unit: its weights get zero gradients (σ = 0)
        net[0].weight[0] = 0.0
        net[0].bias[0] = -1.0
    b = tiny_batch(n=8, classes=3)
    value = PROXIES["zico"](net, b)
    assert value == pytest.approx(by_hand(net, b), rel=1e-12)
    assert PROXIES["zico"].needs_data and PROXIES["zico"].needs_labels


def test_inverse_cv_reductions_by_hand():
    # layer 1: weights with g = (1, 3) and (2, 2) (σ = 0: left out) -> log(2 / 1)
    # layer 2: every weight with σ = 0 -> adds nothing; layer 3: (0, 4) -> log(2 / 2) = 0
    per_split = [
        [torch.tensor([1.0, 2.0]), torch.tensor([5.0, -1.0]), torch.tensor([0.0])],
        [torch.tensor([3.0, 2.0]), torch.tensor([5.0, -1.0]), torch.tensor([4.0])],
    ]
    assert inverse_cv_score(per_split).item() == pytest.approx(math.log(2.0), rel=1e-15)
    # three mini-batches: population std (ddof = 0), mean of |g| over signed g's std
    g = torch.tensor([[1.0], [-2.0], [4.0]])
    expected = math.log(np.mean(np.abs([1.0, -2.0, 4.0])) / np.std([1.0, -2.0, 4.0]))
    assert inverse_cv_score([[g[0]], [g[1]], [g[2]]]).item() == pytest.approx(expected)


def test_zico_needs_two_images():
    net = Tiny(nn.Linear(3, 2)).double()
    with pytest.raises(UserError, match="zico needs a batch of at least 2"):
        PROXIES["zico"](net, tiny_batch(n=1, classes=3))


def test_zico_on_nb201_real_cifar10(cifar10_subset):
    net, b = nb201_cell_on_cifar10(cifar10_subset, 16)
    net.eval()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    value = PROXIES["zico"](net, b)
    assert math.isfinite(value) and value > 0
    assert all(torch.equal(v, state[k]) for k, v in net.state_dict().items())
    assert not any(m.training for m in net.modules())
    assert all(p.grad is None for p in net.parameters())
    assert PROXIES["zico"](net, b) == value
    # every weight's loss gradient is 0 when no path reaches the output: the score is 0
    torch.manual_seed(0)
    dead = NB201Space(N=1).network([0] * 6, torch.float32, CPU)
    assert PROXIES["zico"](dead, b) == 0.0
    torch.manual_seed(0)
    assert PROXIES["zico"](NB201Space(N=1).network([3] * 6, torch.float32, CPU), b) > 0.0
