"""AZ-NAS: each component against a by-hand computation, the aggregate, NB201 networks."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import freedarts_cli.proxies.az_nas as az
from freedarts_cli.proxies import AGGREGATES, PROXIES
from freedarts_cli.spaces.nb201 import NB201Space

CPU = torch.device("cpu")
F64 = torch.float64
COMPONENTS = ("az_expressivity", "az_progressivity", "az_trainability", "az_complexity")


class BlockNet(nn.Module):
    """A stem, two blocks in a ModuleList (the second stride 2), a linear head."""

    def __init__(self):
        super().__init__()
        self.input_shape = (2, 4, 4)
        self.stem = nn.Conv2d(2, 3, 1, bias=False)
        self.cells = nn.ModuleList(
            [nn.Conv2d(3, 3, 1, bias=False), nn.Conv2d(3, 4, 3, stride=2, padding=1, bias=False)]
        )
        self.classifier = nn.Linear(4, 2)

    def forward(self, x):
        x = self.stem(x)
        for cell in self.cells:
            x = torch.relu(cell(x))
        return self.classifier(x.mean(dim=(2, 3)))


def kaiming_draws(net):
    """The authors' init_model by hand, in module order: N(0, 2/fan_in) weights, zero biases."""
    weights = {}
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            fan_in = m.weight[0].numel()
            weights[m] = torch.empty_like(m.weight).normal_(0, math.sqrt(2.0 / fan_in))
    return weights


def entropy_by_hand(feature):
    f = feature.detach().numpy()
    b, c = f.shape[:2]
    x = np.moveaxis(f, 1, -1).reshape(-1, c)
    x = x - x.mean(axis=0)
    lam = np.linalg.eigvalsh(x.T @ x / len(x))
    p = lam / lam.sum()
    return float(-(p * np.log(p + 1e-8)).sum())


def test_components_are_registered_data_agnostic():
    for name, floor in zip(COMPONENTS, (True, True, True, False), strict=True):
        p = PROXIES[name]
        assert (p.needs_data, p.needs_labels, p.floor, p.dtype) == (False, False, floor, None)
    assert AGGREGATES["az_nas"].parts == COMPONENTS


def test_feature_entropy_matches_numpy():
    torch.manual_seed(0)
    f = torch.randn(3, 4, 5, 5, dtype=F64) * torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=F64).view(
        1, 4, 1, 1
    )
    assert float(az.feature_entropy(f)) == pytest.approx(entropy_by_hand(f), rel=1e-12)
    assert math.isnan(float(az.feature_entropy(torch.zeros(2, 3, 2, 2, dtype=F64))))


def test_block_features_are_the_stem_output_and_every_block_output():
    net = BlockNet().to(F64)
    x = torch.randn(2, 2, 4, 4, dtype=F64)
    feats = az.block_features(net, x)
    s = net.stem(x)
    b0 = net.cells[0](s)
    b1 = net.cells[1](torch.relu(b0))
    for got, want in zip(feats, (s, b0, b1), strict=True):
        torch.testing.assert_close(got, want)
    assert len(feats) == 3


def test_expressivity_and_progressivity_match_a_by_hand_computation(monkeypatch):
    monkeypatch.setattr(az, "BATCH", 6)
    net = BlockNet().to(F64)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    torch.manual_seed(5)
    expressivity = PROXIES["az_expressivity"](net)
    torch.manual_seed(5)
    progressivity = PROXIES["az_progressivity"](net)
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k])  # the re-initialisation is undone

    torch.manual_seed(5)
    w = kaiming_draws(net)
    x = torch.randn(6, 2, 4, 4, dtype=F64)
    s = F.conv2d(x, w[net.stem])
    b0 = F.conv2d(s, w[net.cells[0]])
    b1 = F.conv2d(torch.relu(b0), w[net.cells[1]], stride=2, padding=1)
    h = np.array([entropy_by_hand(t) for t in (s, b0, b1)])
    assert expressivity == pytest.approx(h.sum(), rel=1e-10)
    assert progressivity == pytest.approx(min(h[1] - h[0], h[2] - h[1]), rel=1e-8, abs=1e-12)


def sigma_term(m):
    sigma = np.linalg.svd(m, compute_uv=False).max()
    return -sigma - 1 / (sigma + 1e-6) + 2


def test_block_trainability_of_a_linear_block_matches_numpy():
    torch.manual_seed(1)
    w = torch.randn(4, 3, 1, 1, dtype=F64)
    f_in = torch.randn(2, 3, 4, 4, dtype=F64, requires_grad=True)
    g = torch.randint(0, 2, (2, 4, 4, 4), dtype=F64) * 2 - 1
    got = az.block_trainability(f_in, F.conv2d(f_in, w), g)
    # g_in = Wᵀ g at every pixel; M = Σ_pixels g_in g_outᵀ / (B·H·W)
    wn, gn = w[:, :, 0, 0].numpy(), np.moveaxis(g.numpy(), 1, -1).reshape(-1, 4)
    g_in = gn @ wn
    assert got == pytest.approx(sigma_term(g_in.T @ gn / len(gn)), rel=1e-10)


def test_block_trainability_pixel_unshuffles_a_strided_block():
    torch.manual_seed(2)
    w = torch.randn(4, 3, 1, 1, dtype=F64)
    f_in = torch.randn(2, 3, 4, 4, dtype=F64, requires_grad=True)
    g = torch.randint(0, 2, (2, 4, 2, 2), dtype=F64) * 2 - 1
    got = az.block_trainability(f_in, F.conv2d(f_in, w, stride=2), g)
    # by hand: g_in lives on the even pixels; unshuffled, channel c·4 + 0 holds (Wᵀg)_c and the
    # three other phases are zero: M is (12 × 4) with rows 0, 4, 8 = Wᵀ-mapped outer products
    gn = np.moveaxis(g.numpy(), 1, -1).reshape(-1, 4)
    m = np.zeros((12, 4))
    m[0::4] = (gn @ w[:, :, 0, 0].numpy()).T @ gn / len(gn)
    assert got == pytest.approx(sigma_term(m), rel=1e-10)


def test_block_trainability_of_the_identity_is_minus_infinity():
    f_in = torch.randn(2, 3, 2, 2, dtype=F64, requires_grad=True)
    g = torch.ones(2, 3, 2, 2, dtype=F64)
    assert az.block_trainability(f_in, f_in * 1.0 + 0.0 * f_in, g) == -math.inf


def test_az_nas_is_the_sum_of_log_rank_over_n():
    cols = [
        [3.0, 1.0, 2.0, 2.0, -math.inf],
        [0.5, 0.1, 0.9, 0.3, 0.2],
        [1.0, 1.0, 1.0, 5.0, 4.0],
        [7.0, 8.0, 9.0, 10.0, 11.0],
    ]

    def average_ranks(c):  # by hand: 1 + (# smaller) + (# equal − 1)/2
        c = np.asarray(c)
        return np.array([1 + np.sum(c < v) + (np.sum(c == v) - 1) / 2 for v in c])

    want = sum(np.log(average_ranks(c) / 5) for c in cols)
    np.testing.assert_allclose(AGGREGATES["az_nas"].combine(cols), want, rtol=1e-12)


NB201_ARCH = (
    "|nor_conv_1x1~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|"
)


def test_nb201_network_gives_finite_components_and_is_left_unchanged():
    space = NB201Space()
    net = space.network(space.parse(NB201_ARCH), torch.float32, CPU)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    torch.manual_seed(0)
    values = {n: PROXIES[n](net) for n in COMPONENTS}
    assert all(math.isfinite(v) for v in values.values()), values
    assert values["az_expressivity"] > 0 and values["az_trainability"] <= 0
    assert values["az_complexity"] == PROXIES["flops"](net)
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k])


def test_nb201_degenerate_cells_score_the_floor():
    space = NB201Space()
    # only 3<-0 is live and it is a skip: the cell is the identity
    ident = space.network(
        space.parse("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"), torch.float32, CPU
    )
    torch.manual_seed(0)
    assert PROXIES["az_trainability"](ident) == -math.inf
    # no path reaches node 3: every map after the first cell is 0
    dead = space.network(
        space.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"), torch.float32, CPU
    )
    torch.manual_seed(0)
    assert PROXIES["az_expressivity"](dead) == -math.inf
    assert PROXIES["az_progressivity"](dead) == -math.inf
