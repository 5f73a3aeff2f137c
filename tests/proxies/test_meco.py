"""MeCo: the per-layer term and the sum against numpy, NB201 networks."""

import math

import numpy as np
import pytest
import torch
from torch import nn

import freedarts_cli.proxies.meco  # noqa: F401  (registers meco)
from freedarts_cli.proxies import PROXIES
from freedarts_cli.proxies.meco import min_correlation_eigenvalue
from freedarts_cli.spaces.nb201 import NB201Space

CPU = torch.device("cpu")
F64 = torch.float64


def by_hand(feature: np.ndarray) -> float:
    """λ_min of the channel correlation matrix, NaN entries (constant channels) set to 0."""
    fea = feature.reshape(feature.shape[0], -1)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(fea)
    corr[~np.isfinite(corr)] = 0.0
    return float(np.min(np.real(np.linalg.eig(corr)[0])))


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.input_shape = (3, 5, 5)
        self.body = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(self.body(x).mean(dim=(2, 3)))


def test_meco_is_registered_data_agnostic():
    p = PROXIES["meco"]
    assert (p.needs_data, p.needs_labels, p.floor, p.dtype) == (False, False, False, None)


def test_min_eigenvalue_matches_numpy_with_a_constant_channel():
    g = torch.Generator().manual_seed(0)
    fea = torch.randn(6, 4, 4, generator=g, dtype=F64)
    assert min_correlation_eigenvalue(fea).item() == pytest.approx(by_hand(fea.numpy()), abs=1e-12)
    fea[2] = 3.0  # constant channel: its row and column of P are NaN, set to 0 -> λ_min = 0
    assert min_correlation_eigenvalue(fea).item() == pytest.approx(by_hand(fea.numpy()), abs=1e-12)
    assert by_hand(fea.numpy()) == pytest.approx(0.0, abs=1e-12)
    fea = torch.randn(6, 3, 1, generator=g, dtype=F64)  # 6 channels, 3 observations: rank 2
    assert min_correlation_eigenvalue(fea).item() == pytest.approx(0.0, abs=1e-12)


def test_meco_sums_every_module_output_of_one_gaussian_image():
    net = ConvNet().to(F64)
    torch.manual_seed(5)
    score = PROXIES["meco"](net)

    torch.manual_seed(5)
    x = torch.randn(1, 3, 5, 5, dtype=F64)
    with torch.no_grad():
        conv = net.body[0](x)
        z = conv.numpy()[0]
        bn = (z - z.mean(axis=(1, 2), keepdims=True)) / np.sqrt(
            z.var(axis=(1, 2), keepdims=True) + 1e-5
        )  # train mode, one image
        relu = np.maximum(bn, 0.0)
    # conv, BN, ReLU, and the Sequential around them (its output is the ReLU's again); the
    # root's and the classifier's [1, 2] outputs add exact zeros.
    expected = by_hand(z) + by_hand(bn) + 2 * by_hand(relu)
    assert score == pytest.approx(expected, rel=1e-9)
    assert expected > 0.01


def test_meco_on_nb201_is_finite_and_leaves_the_network_unchanged():
    torch.manual_seed(0)
    net = NB201Space(N=1).network([2, 3, 4, 1, 3, 2], torch.float32, CPU)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    torch.manual_seed(1)
    value = PROXIES["meco"](net)
    assert math.isfinite(value) and value > 0
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    torch.manual_seed(1)
    assert PROXIES["meco"](net) == value  # the caller's seed fixes the input
