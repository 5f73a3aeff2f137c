"""flops, params, trainable_layers: counts by hand, NB201 closed forms and ordering."""

import math

import pytest
import torch
from torch import nn

import freedarts_cli.proxies.baselines  # noqa: F401  (registers flops, params, trainable_layers)
from freedarts_cli.proxies import PROXIES
from freedarts_cli.spaces.nb201 import NB201Space

CPU = torch.device("cpu")
NAMES = ("flops", "params", "trainable_layers")


class Small(nn.Module):
    """conv 3x3 (bias) -> BN -> ReLU -> 2x2 avg pool -> depthwise 3x3 stride 2 -> linear."""

    input_shape = (3, 32, 32)

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=True)
        self.bn = nn.BatchNorm2d(8)
        self.pool = nn.AvgPool2d(2)
        self.dw = nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8, bias=False)
        self.fc = nn.Linear(8 * 8 * 8, 10)

    def forward(self, x):
        x = self.dw(self.pool(torch.relu(self.bn(self.conv(x)))))
        return self.fc(x.flatten(1))


def test_flops_of_known_layers_by_hand():
    conv = 32 * 32 * 8 * (3 * 3 * 3) + 32 * 32 * 8  # multiply-adds + the bias adds
    dw = 8 * 8 * 8 * (3 * 3 * 1)  # 16x16 -> 8x8, one input channel per group
    fc = 512 * 10 + 10  # BN and pooling count nothing
    assert PROXIES["flops"](Small()) == conv + dw + fc


def test_params_and_trainable_layers_by_hand():
    net = Small()
    assert PROXIES["params"](net) == sum(p.numel() for p in net.parameters())
    assert PROXIES["params"](net) == (8 * 27 + 8) + 2 * 8 + 8 * 9 + (512 * 10 + 10)
    # conv weight+bias, BN weight+bias, depthwise weight, fc weight+bias
    assert PROXIES["trainable_layers"](net) == 7


def nb201_flops(choice):
    """Closed form for NB201 (C=16, N=5, 32x32): every 3x3 conv of a cell costs
    H·W·C·9C = 2,359,296 multiply-adds at every stage (H·W·C² is constant), every 1x1 conv
    262,144; the rest (stem, two ResNet blocks, classifier) 7,783,050."""
    n3, n1 = choice.count(3), choice.count(2)
    return 7_783_050 + 15 * (2_359_296 * n3 + 262_144 * n1)


@pytest.mark.parametrize(
    "arch",
    [
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
        "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
        "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_3x3~1|none~2|",
    ],
)
def test_nb201_counts_match_closed_forms(arch):
    space = NB201Space()
    choice = space.parse(arch)
    torch.manual_seed(0)
    net = space.network(choice, torch.float32, CPU)
    k = choice.count(2) + choice.count(3)
    assert PROXIES["flops"](net) == nb201_flops(choice)
    assert PROXIES["params"](net) == sum(p.numel() for p in net.parameters())
    assert PROXIES["trainable_layers"](net) == 21 + 45 * k


def test_nb201_published_extremes_and_ordering():
    # the extremes NATS-Bench's get_compute_costs lists for CIFAR-10 (from memory of the API:
    # it is not available offline): all-3x3 220.11969 MFLOPs / 1.531546 M params, all-none
    # 7.78305 / 0.073306; they agree with the closed form above
    space = NB201Space()
    conv = space.network([3] * 6, torch.float32, CPU)
    none = space.network([0] * 6, torch.float32, CPU)
    assert PROXIES["flops"](conv) == 220_119_690
    assert PROXIES["params"](conv) == 1_531_546
    assert PROXIES["flops"](none) == 7_783_050
    assert PROXIES["params"](none) == 73_306
    for name in NAMES:
        assert PROXIES[name](conv) > PROXIES[name](none)


def test_baselines_are_data_free_and_leave_the_network_alone():
    torch.manual_seed(0)
    net = NB201Space(N=1).network([3, 2, 1, 4, 0, 3], torch.float64, CPU)
    net.eval()
    net.cells[1].train()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    modes = [m.training for m in net.modules()]
    rng = torch.get_rng_state()
    for name in NAMES:
        assert not PROXIES[name].needs_data
        value = PROXIES[name](net, None)
        assert math.isfinite(value) and value > 0
        assert PROXIES[name](net, None) == value
    assert torch.equal(torch.get_rng_state(), rng)  # no random input drawn
    assert all(torch.equal(v, state[k]) for k, v in net.state_dict().items())
    assert [m.training for m in net.modules()] == modes
    assert all(p.grad is None for p in net.parameters())
