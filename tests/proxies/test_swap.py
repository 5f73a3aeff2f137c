"""SWAP-Score: pattern counts against a brute-force set of tuples, the repeat average, NB201 on
the real CIFAR-10 subset."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import freedarts_cli.proxies.swap as swap_module
from freedarts_cli.data import CIFAR, Batch
from freedarts_cli.errors import UserError
from freedarts_cli.proxies import PROXIES
from freedarts_cli.proxies.swap import activation_patterns, regular_factor
from freedarts_cli.spaces.nb201 import NB201Space

CPU = torch.device("cpu")
F64 = torch.float64


class ConvNet(nn.Module):
    """conv-ReLU-conv-ReLU on a 4×4 map, then a linear classifier (whose ReLU-free head and the
    MLP ReLU below must not count: the authors hook ReLUs with 4-D inputs only)."""

    def __init__(self, c=3):
        super().__init__()
        self.input_shape = (2, 4, 4)
        self.conv1 = nn.Conv2d(2, c, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(c, c, 1)
        self.relu2 = nn.ReLU6()
        self.fc = nn.Linear(c, 4)
        self.mlp_relu = nn.ReLU()

    def forward(self, x):
        return self.mlp_relu(
            self.fc(self.relu2(self.conv2(self.relu1(self.conv1(x)))).mean(dim=(2, 3)))
        )


def brute_force(net, x):
    """Distinct tuples (sign over the samples) among all units of both conv ReLUs."""
    with torch.no_grad():
        a1 = torch.relu(F.conv2d(x, net.conv1.weight, net.conv1.bias, padding=1))
        a2 = torch.clamp(F.conv2d(a1, net.conv2.weight, net.conv2.bias), 0, 6)
    units = torch.cat([a1.reshape(len(x), -1), a2.reshape(len(x), -1)], dim=1)
    return len({tuple(torch.sign(units[:, u]).tolist()) for u in range(units.shape[1])})


def test_swap_is_registered_needing_images_not_labels():
    p = PROXIES["swap"]
    assert (p.needs_data, p.needs_labels, p.floor, p.dtype) == (True, False, False, None)


@pytest.mark.parametrize("n", [5, 16, 60])  # 60 samples: two packed words per unit
def test_pattern_count_matches_a_set_of_tuples(n):
    torch.manual_seed(n)
    net = ConvNet().to(F64)
    x = torch.randn(n, 2, 4, 4, dtype=F64)
    count = activation_patterns(net, x)
    assert count == brute_force(net, x)
    assert 1 < count <= 2 * 3 * 16


def test_swap_averages_32_gaussian_reinitialisations_of_16_images():
    net = ConvNet().to(F64)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(20, 2, 4, 4, generator=g, dtype=F64)
    batch = Batch(x, torch.zeros(20, dtype=torch.long), torch.zeros(20, dtype=torch.long))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    torch.manual_seed(7)
    score = PROXIES["swap"](net, batch)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())

    ref = ConvNet().to(F64)  # built before seeding: its default init draws from the RNG too
    torch.manual_seed(7)  # by hand: N(0,1) conv and linear weights, zero biases, in module order
    counts = []
    for _ in range(32):
        with torch.no_grad():
            for layer in (ref.conv1, ref.conv2, ref.fc):
                layer.weight.normal_()
                layer.bias.zero_()
        counts.append(brute_force(ref, x[:16]))
    assert score == pytest.approx(sum(counts) / 32, rel=1e-12)
    assert len(set(counts)) > 1  # the re-initialisations differ


def test_regular_factor_by_hand():
    net = ConvNet()
    theta = sum(p.numel() for p in net.parameters()) / 1e3
    assert regular_factor(net, 0.05, 0.01) == pytest.approx(math.exp(-((theta - 0.05) ** 2) / 0.01))
    assert regular_factor(net, theta, 1.0) == 1.0


def test_a_network_without_conv_relus_is_an_error():
    net = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    with pytest.raises(UserError, match="ReLU"):
        activation_patterns(net, torch.randn(4, 3))


def test_swap_on_nb201_with_real_cifar10(cifar10_subset, monkeypatch):
    monkeypatch.setattr(swap_module, "REPEATS", 2)
    batch = CIFAR("cifar10", root=str(cifar10_subset), batch_size=16).batch(0, torch.float32, CPU)
    space = NB201Space(N=1)
    torch.manual_seed(0)
    net = space.network([2, 3, 4, 1, 3, 2], torch.float32, CPU)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    torch.manual_seed(1)
    value = PROXIES["swap"](net, batch)
    assert math.isfinite(value) and value > 100
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    dead = space.network([0] * 6, torch.float32, CPU)  # no cell passes the input on
    torch.manual_seed(1)
    assert PROXIES["swap"](dead, batch) < value
