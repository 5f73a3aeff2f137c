"""Every proxy is defined on every space freedarts correlate scores (issue 24, item 2): the same
code gives a finite value on a DARTS and a NAS-Bench-101 network, shrunk here for speed."""

import math

import pytest
import torch

from freedarts_cli.data import Batch
from freedarts_cli.proxies import PROXIES
from freedarts_cli.proxies.shared import score_all
from freedarts_cli.spaces.darts import DartsSpace
from freedarts_cli.spaces.nb101 import NB101Space

from . import CPU

DARTS = (
    "Genotype(normal=[('sep_conv_3x3', 0), ('dil_conv_5x5', 1), ('skip_connect', 0), "
    "('max_pool_3x3', 2), ('sep_conv_5x5', 1), ('avg_pool_3x3', 3), ('dil_conv_3x3', 0), "
    "('sep_conv_3x3', 4)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
    "('sep_conv_3x3', 1), ('skip_connect', 2), ('avg_pool_3x3', 0), ('dil_conv_3x3', 1), "
    "('sep_conv_5x5', 2), ('skip_connect', 3), ('dil_conv_5x5', 4)], reduce_concat=[2, 3, 4, 5])"
)
NB101 = (
    "0111101000001100000010000110000001100000000000000|"
    "input,maxpool3x3,conv1x1-bn-relu,conv3x3-bn-relu,conv3x3-bn-relu,conv3x3-bn-relu,output"
)
SPACES = {
    "darts": (DartsSpace(network_C=8, network_layers=5, input_size=16), DARTS),
    "nb101": (NB101Space(stem_channels=8, stacks=2, cells_per_stack=1, input_size=16), NB101),
}


@pytest.mark.parametrize("name", SPACES)
def test_every_proxy_gives_a_finite_value(name):
    space, arch = SPACES[name]
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(16) % 10
    images = torch.randn(16, 3, 16, 16, generator=g)
    scored = {}
    for dtype in {p.dtype or torch.float32 for p in PROXIES.values()}:
        torch.manual_seed(0)
        net = space.network(space.parse(arch), dtype, CPU)
        mine = [p for p in PROXIES.values() if (p.dtype or torch.float32) == dtype]
        scored.update(score_all(mine, net, Batch(images.to(dtype), labels, labels)))
    assert set(scored) == set(PROXIES)
    bad = {n: s for n, s in scored.items() if s.error or not math.isfinite(s.value)}
    assert not bad, bad
