"""Zero-cost proxies on whole networks: formulas against independent computations."""

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

from freedarts_cli.data import Batch, Synthetic
from freedarts_cli.errors import UserError
from freedarts_cli.proxies import (
    AGGREGATES,
    PROXIES,
    ProxyError,
    combine,
    percentile_ranks,
    resolve,
)
from freedarts_cli.proxies.activation import relu_kernel
from freedarts_cli.spaces.nb201 import NB201Space

from .proxies import CPU, F64, Tiny, tiny_batch

CONV3 = [3] * 6  # every edge nor_conv_3x3
NONE = [0] * 6  # every edge none: the output ignores the input


def network(choice=(2, 3, 4, 1, 3, 2), seed=0, dtype=F64):
    torch.manual_seed(seed)
    return NB201Space(N=1).network(list(choice), dtype, CPU)


def batch(n=8, seed=0, dtype=F64):
    return Synthetic(batch_size=n).batch(seed, dtype, CPU)


def test_registry_names_and_data_needs():
    assert {
        "synflow",
        "snip",
        "grasp",
        "fisher",
        "grad_norm",
        "jacob_cov",
        "nwot",
        "zen",
        "meco",
        "swap",
        "zico",
        "epe_nas",
        "l2_norm",
        "plain",
        "flops",
        "params",
        "trainable_layers",
    } <= set(PROXIES)
    agnostic = {n for n, p in PROXIES.items() if not p.needs_data}
    assert {"synflow", "zen", "meco", "flops", "params", "trainable_layers", "l2_norm"} <= agnostic
    assert not agnostic & {"snip", "nwot", "swap", "zico", "epe_nas", "plain"}
    assert PROXIES["synflow"].dtype == F64
    parts, combine_fn = resolve("combined")
    assert [p.name for p in parts] == ["nwot", "synflow"]
    columns = [[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]]
    assert combine_fn(columns) == pytest.approx(combine(columns, [0.6, 0.4]))
    assert {"combined"} <= set(AGGREGATES)
    with pytest.raises(UserError, match="synflow.*combined"):
        resolve("nope")


def test_synflow_matches_a_brute_force_computation_on_a_copy():
    net = network()
    score = PROXIES["synflow"](net)
    ref = copy.deepcopy(net)
    for parent in list(ref.modules()):  # BN layers out, by hand
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.BatchNorm2d):
                setattr(parent, name, nn.Identity())
    with torch.no_grad():
        for p in ref.parameters():
            p.abs_()
    ref(torch.ones(1, 3, 32, 32, dtype=F64)).sum().backward()
    expected = sum(
        (m.weight * m.weight.grad).abs().sum().item()
        for m in ref.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
    )
    assert score == pytest.approx(expected, rel=1e-10)


def test_synflow_by_hand_on_a_linear_chain():
    # Without biases each layer's Σ θ·∂R/∂θ is R itself (R is linear in each layer): S = 2R.
    torch.manual_seed(0)
    net = Tiny(nn.Linear(3, 5, bias=False), nn.ReLU(), nn.Linear(5, 2, bias=False)).float()
    r = (
        (net[2].weight.abs().double() @ net[0].weight.abs().double() @ torch.ones(3, 1, dtype=F64))
        .sum()
        .item()
    )
    assert PROXIES["synflow"](net) == pytest.approx(2 * r, rel=1e-12)
    assert net[0].weight.dtype == torch.float32  # scored on a float64 copy


def test_synflow_ignores_weight_signs_and_bn():
    net = network()
    first = PROXIES["synflow"](net)
    with torch.no_grad():
        for p in net.parameters():
            p.neg_()
        for m in net.modules():  # BN is removed: its parameters cannot matter
            if isinstance(m, nn.BatchNorm2d):
                m.weight.fill_(7.0)
    assert PROXIES["synflow"](net) == pytest.approx(first, rel=1e-12)


def test_synflow_ranks_an_all_none_cell_below_all_conv():
    assert PROXIES["synflow"](network(NONE)) == 0.0
    assert PROXIES["synflow"](network(CONV3)) > 0.0


@pytest.mark.parametrize("name", sorted(PROXIES))
def test_proxies_leave_the_network_as_they_found_it(name):
    net = network()
    net.eval()
    net.cells[1].train()  # mixed modes must come back exactly
    net.classifier.weight.requires_grad_(False)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    modes = [m.training for m in net.modules()]
    flags = [p.requires_grad for p in net.parameters()]
    torch.manual_seed(1)  # data-agnostic proxies draw their inputs from torch's RNG
    value = PROXIES[name](net, batch())
    assert math.isfinite(value)
    assert all(torch.equal(v, state[k]) for k, v in net.state_dict().items())
    assert [m.training for m in net.modules()] == modes
    assert [p.requires_grad for p in net.parameters()] == flags
    assert all(p.grad is None for p in net.parameters())
    torch.manual_seed(1)
    assert PROXIES[name](net, batch()) == value  # deterministic given the seed


@pytest.mark.parametrize("name", ["synflow", "snip", "grad_norm"])
def test_non_finite_scores_are_user_errors(name):
    net = network()
    with torch.no_grad():
        net.classifier.weight[0, 0] = float("nan")
    with pytest.raises(ProxyError, match=f"proxy {name} .*float64.*another proxy"):
        PROXIES[name](net, batch())


def test_data_proxies_need_a_batch():
    with pytest.raises(UserError, match="snip needs a batch"):
        PROXIES["snip"](network(), None)


def test_snip_and_grad_norm_match_plain_backward():
    net, b = network(), batch()
    ref = copy.deepcopy(net)
    ref.train()
    nn.functional.cross_entropy(ref(b.images), b.labels).backward()
    layers = [m for m in ref.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    snip = sum((m.weight * m.weight.grad).abs().sum().item() for m in layers)
    norm = sum(m.weight.grad.norm().item() for m in layers)
    assert PROXIES["snip"](net, b) == pytest.approx(snip, rel=1e-10)
    assert PROXIES["grad_norm"](net, b) == pytest.approx(norm, rel=1e-10)


def test_grasp_is_minus_theta_times_a_finite_difference_hessian_product():
    torch.manual_seed(0)
    net = Tiny(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    b = tiny_batch()
    weights = [net[0].weight, net[2].weight]

    def grads():
        loss = nn.functional.cross_entropy(net(b.images), b.labels)
        return torch.autograd.grad(loss, weights)

    g, eps = grads(), 1e-6
    with torch.no_grad():
        for w, gi in zip(weights, g, strict=True):
            w.add_(eps * gi)
    plus = grads()
    with torch.no_grad():
        for w, gi in zip(weights, g, strict=True):
            w.sub_(2 * eps * gi)
    minus = grads()
    with torch.no_grad():
        for w, gi in zip(weights, g, strict=True):
            w.add_(eps * gi)
    expected = sum(
        (-w * (p - m) / (2 * eps)).sum().item()
        for w, p, m in zip(weights, plus, minus, strict=True)
    )
    assert PROXIES["grasp"](net, b) == pytest.approx(expected, rel=1e-6)


def test_fisher_by_hand_on_a_linear_layer():
    # One Linear layer: a = xWᵀ + b, Δ_k = ½ mean_n (a_nk ∂L/∂a_nk)², weighted by fan-in 3.
    torch.manual_seed(0)
    net = Tiny(nn.Linear(3, 2)).double()
    b = tiny_batch()
    a = net(b.images).detach().requires_grad_(True)
    (g,) = torch.autograd.grad(nn.functional.cross_entropy(a, b.labels), a)
    expected = (3 * 0.5 * (a * g).pow(2).mean(0)).sum().item()
    assert PROXIES["fisher"](net, b) == pytest.approx(expected, rel=1e-12)


def test_jacob_cov_by_hand_on_a_linear_net():
    # f(x) = Wx + c: every image has the Jacobian Wᵀ1, the correlation matrix is all ones,
    # eigenvalues {n, 0, ..., 0}.
    torch.manual_seed(0)
    net = Tiny(nn.Linear(3, 2)).double()
    n, k = 6, 1e-5
    expected = -(math.log(n + k) + 1 / (n + k) + (n - 1) * (math.log(k) + 1 / k))
    assert PROXIES["jacob_cov"](net, tiny_batch(n)) == pytest.approx(expected, rel=1e-6)


def test_relu_kernel_matches_a_hand_computation():
    torch.manual_seed(0)
    net = Tiny(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2)).double()
    x = tiny_batch(n=7).images
    h1 = net[0](x)
    h2 = net[2](torch.relu(h1))
    expected = torch.zeros(7, 7, dtype=F64)
    for h in (h1, h2):
        for i in range(7):
            for j in range(7):
                expected[i, j] += ((h[i] > 0) == (h[j] > 0)).sum()
    kernel = relu_kernel(net, x)
    assert torch.equal(kernel, expected)
    assert torch.all(kernel.diagonal() == 9)  # each image agrees with itself on 5 + 4 units
    assert torch.linalg.eigvalsh(kernel).min() > -1e-9  # a sum of Gram matrices: PSD


def test_nwot_prefers_distinct_images_and_floors_degenerate_nets():
    net, b = network(), batch(16)
    distinct = PROXIES["nwot"](net, b)
    images = b.images.clone()
    images[1] = images[0]
    assert math.isfinite(distinct)
    assert PROXIES["nwot"](net, Batch(images, b.labels, b.labels)) == -math.inf < distinct
    # no ReLU sees the input: every image has the same codes -> the lowest score, not an error
    assert PROXIES["nwot"](network(NONE), b) == -math.inf
    assert PROXIES["jacob_cov"](network(NONE), b) == -math.inf
    assert math.isfinite(PROXIES["jacob_cov"](net, b))


def test_percentile_ranks_average_ties_and_put_minus_inf_last():
    assert percentile_ranks([3.0, 1.0, 2.0]) == pytest.approx([5 / 6, 1 / 6, 3 / 6])
    assert percentile_ranks([1.0, 1.0, 2.0]) == pytest.approx([1 / 3, 1 / 3, 5 / 6])
    assert percentile_ranks([0.0, -math.inf]) == pytest.approx([3 / 4, 1 / 4])


def test_combine_weights_percentiles_and_ignores_monotone_rescaling():
    logdet = np.array([10.0, 20.0, 30.0])
    synflow = np.array([1e30, 1e2, 1e10])
    combined = combine([logdet, synflow], [0.6, 0.4])
    assert combined == pytest.approx(
        [0.6 / 6 + 0.4 * 5 / 6, 0.6 * 3 / 6 + 0.4 / 6, 0.6 * 5 / 6 + 0.4 * 3 / 6]
    )
    assert combine([logdet, np.log(synflow)], [0.6, 0.4]) == pytest.approx(combined)
