"""Zen-score: the formula against a by-hand computation, the pre-GAP rule, NB201 networks."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import freedarts_cli.proxies.zen as zen_module
from freedarts_cli.proxies import PROXIES
from freedarts_cli.proxies.zen import gaussian_reinit, pre_gap_capture
from freedarts_cli.spaces.nb201 import NB201Space

CPU = torch.device("cpu")
F64 = torch.float64


class ConvNet(nn.Module):
    """conv-BN-ReLU, then a functional global mean and a linear classifier (NB201's head)."""

    def __init__(self, c=4, hw=6):
        super().__init__()
        self.input_shape = (3, hw, hw)
        self.conv = nn.Conv2d(3, c, 3, padding=1, bias=True)
        self.bn = nn.BatchNorm2d(c)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(c, 2)

    def forward(self, x):
        return self.fc(self.relu(self.bn(self.conv(x))).mean(dim=(2, 3)))


def test_zen_is_registered_data_agnostic_with_a_floor():
    p = PROXIES["zen"]
    assert (p.needs_data, p.needs_labels, p.floor, p.dtype) == (False, False, True, None)


def test_zen_matches_a_by_hand_computation(monkeypatch):
    monkeypatch.setattr(zen_module, "BATCH", 5)
    net = ConvNet().to(F64)
    torch.manual_seed(3)
    score = PROXIES["zen"](net)

    # By hand, drawing in the proxy's order: x, ε, then N(0,1) conv then linear weights.
    torch.manual_seed(3)
    x = torch.randn(5, 3, 6, 6, dtype=F64)
    eps = torch.randn(5, 3, 6, 6, dtype=F64)
    w = torch.randn_like(net.conv.weight)
    torch.randn_like(net.fc.weight)  # the classifier's draw (it does not reach the pre-GAP map)

    def pre_gap(inp):
        z = F.conv2d(inp, w, torch.zeros(4, dtype=F64), padding=1)
        mean = z.mean(dim=(0, 2, 3), keepdim=True)
        var = z.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
        return torch.relu((z - mean) / torch.sqrt(var + 1e-5)), z.var(dim=(0, 2, 3))  # unbiased

    f1, v1 = pre_gap(x)
    f2, v2 = pre_gap(x + 0.01 * eps)
    diff = (f2 - f1).abs().sum(dim=(1, 2, 3)).mean()
    running_var = 0.9 * (0.9 * 1.0 + 0.1 * v1) + 0.1 * v2  # momentum 0.1 from 1
    expected = math.log(diff) + math.log(math.sqrt(running_var.mean()))
    assert score == pytest.approx(expected, rel=1e-10)


def test_zen_restores_weights_and_statistics():
    net = ConvNet().to(F64)
    with torch.no_grad():
        net.bn.running_var.fill_(3.0)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    torch.manual_seed(0)
    PROXIES["zen"](net)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_gaussian_reinit_draws_standard_normal_weights_and_restores_them():
    net = ConvNet(c=64).to(F64)
    saved = net.conv.weight.detach().clone()
    with gaussian_reinit(net):
        assert net.conv.weight.std().item() == pytest.approx(1.0, abs=0.05)
        assert torch.equal(net.conv.bias, torch.zeros(64, dtype=F64))
        assert torch.equal(net.bn.weight, torch.ones(64, dtype=F64))
    assert torch.equal(net.conv.weight, saved)


class PoolHead(nn.Module):
    """A body with an SE-style Linear inside, then AdaptiveAvgPool2d, flatten, classifier."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.gate = nn.Linear(4, 4)
        self.last = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        y = self.conv(x)
        y = y * torch.sigmoid(self.gate(y.mean(dim=(2, 3))))[:, :, None, None]
        self.expected = self.last(y)
        return self.fc(self.pool(self.expected).flatten(1))


def test_pre_gap_is_the_map_the_classifier_pools():
    net = PoolHead()
    with torch.no_grad(), pre_gap_capture(net) as maps:
        net(torch.randn(2, 3, 5, 5))
    assert len(maps) == 1 and maps[0] is net.expected  # not the 1×1 pool output


def test_zen_on_nb201_is_finite_unchanged_and_minus_inf_without_a_path():
    space = NB201Space(N=1)
    torch.manual_seed(0)
    net = space.network([2, 3, 4, 1, 3, 2], torch.float32, CPU)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    torch.manual_seed(1)
    value = PROXIES["zen"](net)
    assert math.isfinite(value)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    with torch.no_grad(), pre_gap_capture(net) as maps:  # the map is lastact's output
        out = net.lastact.register_forward_hook(lambda m, i, o: maps.append(("lastact", o)))
        net(torch.randn(2, 3, 32, 32))
        out.remove()
    assert maps[1] is maps[0][1]
    torch.manual_seed(1)
    dead = space.network([0] * 6, torch.float32, CPU)
    assert PROXIES["zen"](dead) == -math.inf
