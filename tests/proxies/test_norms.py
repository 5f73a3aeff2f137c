"""l2_norm and plain (zero-cost NAS library) against by-hand computations."""

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

import freedarts_cli.proxies.norms  # noqa: F401  (registers l2_norm, plain)
from freedarts_cli.proxies import PROXIES
from freedarts_cli.spaces.nb201 import NB201Space

from . import CPU, Tiny, nb201_cell_on_cifar10, tiny_batch


def mlp():
    torch.manual_seed(0)
    return Tiny(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2)).double()


def test_l2_norm_is_the_sum_of_layer_frobenius_norms():
    net = mlp()
    with torch.no_grad():
        net[1].weight.fill_(5.0)  # BN parameters and biases are not counted
        net[0].bias.fill_(7.0)
    w0, w3 = net[0].weight.detach().numpy().copy(), net[3].weight.detach().numpy().copy()
    expected = math.sqrt(np.sum(w0**2)) + math.sqrt(np.sum(w3**2))
    assert PROXIES["l2_norm"](net) == pytest.approx(expected, rel=1e-12)
    assert not PROXIES["l2_norm"].needs_data
    with torch.no_grad():
        net[3].weight.mul_(2.0)
    assert PROXIES["l2_norm"](net) == pytest.approx(expected + math.sqrt(np.sum(w3**2)), rel=1e-12)


def test_plain_is_the_signed_sum_of_theta_times_gradient():
    net, b = mlp(), tiny_batch()
    ref = copy.deepcopy(net)
    ref.train()
    nn.functional.cross_entropy(ref(b.images), b.labels).backward()
    expected = sum(
        float(np.sum(m.weight.detach().numpy() * m.weight.grad.numpy())) for m in (ref[0], ref[3])
    )
    assert PROXIES["plain"](net, b) == pytest.approx(expected, rel=1e-10)
    assert PROXIES["plain"].needs_labels


def test_plain_of_a_layer_before_train_mode_bn_vanishes():
    # L(αW) = L(W) for the layer that feeds the BN, so its θ·∂L/∂θ is 0: only the last layer
    # counts, and that term is d/dα L(α W_last)|α=1, checked by a central difference.
    net, b = mlp(), tiny_batch()
    with torch.no_grad():
        net[1].eps = 1e-12  # BN's ε is what breaks the invariance

    def loss_with(scale):
        ref = copy.deepcopy(net)
        with torch.no_grad():
            ref[3].weight.mul_(scale)
        return nn.functional.cross_entropy(ref(b.images), b.labels).item()

    h = 1e-5
    derivative = (loss_with(1 + h) - loss_with(1 - h)) / (2 * h)
    assert PROXIES["plain"](net, b) == pytest.approx(derivative, rel=1e-6)


def test_norms_on_nb201_real_cifar10(cifar10_subset):
    net, b = nb201_cell_on_cifar10(cifar10_subset, 16)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    for name in ("l2_norm", "plain"):
        value = PROXIES[name](net, b if PROXIES[name].needs_data else None)
        assert math.isfinite(value)
        assert PROXIES[name](net, b if PROXIES[name].needs_data else None) == value
    assert all(torch.equal(v, state[k]) for k, v in net.state_dict().items())
    assert all(p.grad is None for p in net.parameters())
    # every 1x1/3x3 conv adds a norm: the all-3x3 cell beats the all-none cell
    torch.manual_seed(0)
    conv = PROXIES["l2_norm"](NB201Space(N=1).network([3] * 6, torch.float32, CPU))
    torch.manual_seed(0)
    assert conv > PROXIES["l2_norm"](NB201Space(N=1).network([0] * 6, torch.float32, CPU))
