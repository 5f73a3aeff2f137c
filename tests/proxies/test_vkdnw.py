"""VKDNW: the Jacobian, the covariance factor, the Fisher matrix and the decile entropy against
by-hand computations; the rankings on synthetic columns; NB201 networks."""

import math

import numpy as np
import pytest
import torch
from torch import nn

import freedarts_cli.proxies.vkdnw as vk
from freedarts_cli.proxies import AGGREGATES, PROXIES
from freedarts_cli.spaces.nb201 import NB201Space

CPU = torch.device("cpu")
F64 = torch.float64


class SmallNet(nn.Module):
    """conv(bias)-BN-ReLU, a second conv (stride 2, no bias), global mean, linear (3 classes)."""

    def __init__(self):
        super().__init__()
        self.input_shape = (2, 4, 4)
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.bn = nn.BatchNorm2d(3)
        self.conv2 = nn.Conv2d(3, 2, 1, stride=2, bias=False)
        self.fc = nn.Linear(2, 3)

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x)))
        return self.fc(torch.relu(self.conv2(x)).mean(dim=(2, 3)))


def brute_jacobian(net, x, count):
    """∂z[n, c]/∂(first element of each of the first `count` parameter tensors), one sample and
    one class at a time."""
    params = [p for _, p in list(net.named_parameters())[:count]]
    jac = torch.zeros(len(x), 3, len(params), dtype=x.dtype)
    for n in range(len(x)):
        z = net(x[n : n + 1])[0]
        for c in range(z.shape[0]):
            grads = torch.autograd.grad(z[c], params, retain_graph=True, allow_unused=True)
            for k, g in enumerate(grads):
                jac[n, c, k] = 0 if g is None else g.reshape(-1)[0]
    return jac


def factor_by_hand(p):
    """Tanabe & Sagae's lower-triangular factor of diag(p) − p pᵀ, with explicit loops."""
    c = len(p)
    q = [1 - sum(p[: j + 1]) for j in range(c)]
    q[-1] = 0.0
    L = np.zeros((c, c))
    for j in range(c):
        q_prev = 1.0 if j == 0 else q[j - 1]
        d = math.sqrt(max(p[j] * q[j] / q_prev, 0.0))
        L[j, j] = d
        for i in range(j + 1, c):
            L[i, j] = -p[i] * d / q[j] if q[j] > 0 else 0.0
    return L


def smoothed(z, alpha=0.05):
    e = np.exp(z - z.max())
    return e / e.sum() * (1 - alpha) + alpha / len(z)


def entropy_by_hand(lam):
    q = np.quantile(np.asarray(lam, dtype=np.float64), [0.1 * i for i in range(1, 10)])
    t = q / (np.abs(q).sum() + 1e-10)
    return float(-(t * np.log(t + 1e-10)).sum())


def test_vkdnw_is_registered_and_its_rankings_name_network_proxies():
    p = PROXIES["vkdnw"]
    assert (p.needs_data, p.needs_labels, p.floor, p.dtype) == (False, False, False, None)
    assert AGGREGATES["vkdnw_single"].parts == ("trainable_layers", "vkdnw")
    assert AGGREGATES["vkdnw_agg"].parts == (
        "trainable_layers",
        "vkdnw",
        "jacob_cov",
        "az_expressivity",
        "az_trainability",
        "flops",
    )
    for agg in ("vkdnw_single", "vkdnw_agg"):
        assert all(part in PROXIES for part in AGGREGATES[agg].parts)


def test_sample_jacobian_matches_per_sample_autograd():
    torch.manual_seed(0)
    net = SmallNet().to(F64).eval()
    with torch.no_grad():  # non-trivial running statistics
        net.bn.running_mean.uniform_(-1, 1)
        net.bn.running_var.uniform_(0.5, 2)
        net.bn.weight.uniform_(0.5, 2)
    x = torch.randn(4, 2, 4, 4, dtype=F64)
    z, jac = vk.sample_jacobian(net, x, vk.sampled_parameters(net, 5))
    torch.testing.assert_close(z, net(x).detach())
    torch.testing.assert_close(jac, brute_jacobian(net, x, 5), rtol=1e-10, atol=1e-12)
    assert jac.shape == (4, 3, 5) and bool((jac[:, :, :4] != 0).any())


def test_covariance_factor_is_the_lower_triangular_root_of_the_covariance():
    torch.manual_seed(1)
    z = torch.randn(5, 4, dtype=F64) * 3
    L = vk.covariance_factor(z)
    for n in range(5):
        p = smoothed(z[n].numpy())
        np.testing.assert_allclose(L[n].numpy(), factor_by_hand(p), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(
            L[n].numpy() @ L[n].numpy().T, np.diag(p) - np.outer(p, p), atol=1e-14
        )


def test_fisher_matrix_follows_the_code_LJ():
    torch.manual_seed(2)
    z = torch.randn(3, 4, dtype=F64)
    jac = torch.randn(3, 4, 6, dtype=F64)
    want = np.zeros((6, 6))
    for n in range(3):
        a = factor_by_hand(smoothed(z[n].numpy())) @ jac[n].numpy()
        want += a.T @ a / 3
    np.testing.assert_allclose(vk.fisher_matrix(z, jac).numpy(), want, rtol=1e-12, atol=1e-15)


def test_decile_entropy_matches_numpy():
    lam = torch.tensor([0.0, 1e-6, 0.3, 2.0, 5.0, 5.5, 9.0, 40.0, 41.0, 1e3, 7.0], dtype=F64)
    assert float(vk.decile_entropy(lam)) == pytest.approx(entropy_by_hand(lam.numpy()), rel=1e-12)
    assert float(vk.decile_entropy(torch.zeros(7, dtype=F64))) == 0.0
    assert float(vk.decile_entropy(torch.ones(7, dtype=F64))) == pytest.approx(math.log(9))


def test_vkdnw_matches_a_by_hand_computation(monkeypatch):
    monkeypatch.setattr(vk, "BATCH", 5)
    net = SmallNet().to(F64)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    torch.manual_seed(7)
    score = PROXIES["vkdnw"](net)
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k])
    assert net.training  # modes restored

    # by hand: Kaiming-normal draws in module order (conv, conv2, fc), biases 0, BN 1/0, then
    # the Gaussian batch; eval-mode BN on fresh running statistics (mean 0, var 1)
    torch.manual_seed(7)
    w1 = torch.empty(3, 2, 3, 3, dtype=F64).normal_(0, math.sqrt(2 / 18))
    w2 = torch.empty(2, 3, 1, 1, dtype=F64).normal_(0, math.sqrt(2 / 3))
    w3 = torch.empty(3, 2, dtype=F64).normal_(0, math.sqrt(2 / 2))
    x = torch.randn(5, 2, 4, 4, dtype=F64)
    ref = SmallNet().to(F64).eval()
    with torch.no_grad():
        ref.conv.weight.copy_(w1), ref.conv.bias.zero_(), ref.conv2.weight.copy_(w2)
        ref.fc.weight.copy_(w3), ref.fc.bias.zero_()
    jac = brute_jacobian(ref, x, 128).numpy()  # 7 tensors: all of them
    z = ref(x).detach().numpy()
    fisher = (
        sum(
            (factor_by_hand(smoothed(z[n])) @ jac[n]).T @ (factor_by_hand(smoothed(z[n])) @ jac[n])
            for n in range(5)
        )
        / 5
    )
    lam = np.abs(np.linalg.eigvalsh(fisher))
    assert jac.shape[2] == 7
    assert score == pytest.approx(entropy_by_hand(lam), rel=1e-7)


def test_sampled_parameters_are_the_first_128_tensors():
    space = NB201Space()
    big = space.network([3] * 6, torch.float32, CPU)  # 21 + 45·6 = 291 tensors
    small = space.network([0] * 6, torch.float32, CPU)  # 21
    assert len(vk.sampled_parameters(big)) == 128
    assert vk.sampled_parameters(small) == [p for p in small.parameters()]


def test_single_ranking_is_lexicographic_and_agg_sums_log_ranks():
    layers = [66.0, 21.0, 66.0, 111.0, 66.0, 21.0]
    entropy = [0.9, 1.5, 0.2, 0.1, 0.9, 1.4]
    single = AGGREGATES["vkdnw_single"].combine([layers, entropy])
    # by hand: (21,1.4) < (21,1.5) < (66,0.2) < (66,0.9) = (66,0.9) < (111,0.1), dense
    np.testing.assert_array_equal(single, [4, 2, 3, 5, 4, 1])
    others = [
        [3.0, 1.0, 2.0, 2.0, -math.inf, 0.0],
        [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        [0.5, 0.5, 0.5, 0.1, 0.2, 0.3],
        [9.0, 8.0, 7.0, 6.0, 5.0, 4.0],
    ]
    avg = [
        np.array([6, 3, 4.5, 4.5, 1, 2]),
        np.array([1, 2, 3, 4, 5, 6]),
        np.array([5, 5, 5, 1, 2, 3]),
        np.array([6, 5, 4, 3, 2, 1]),
    ]
    got = AGGREGATES["vkdnw_agg"].combine([layers, entropy, *others])
    np.testing.assert_allclose(
        got, np.log([4, 2, 3, 5, 4, 1]) + sum(np.log(a) for a in avg), rtol=1e-12
    )


def test_nb201_network_gives_a_finite_entropy_and_is_left_unchanged():
    space = NB201Space()
    net = space.network(
        space.parse(
            "|nor_conv_1x1~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|"
        ),
        torch.float32,
        CPU,
    )
    before = {k: v.clone() for k, v in net.state_dict().items()}
    torch.manual_seed(0)
    value = PROXIES["vkdnw"](net)
    assert 0 < value < math.log(9)
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k])
    dead = space.network([0] * 6, torch.float32, CPU)  # all none: the logits ignore the input
    torch.manual_seed(0)
    assert PROXIES["vkdnw"](dead) == 0.0
