"""Shared passes (freedarts_cli.proxies.shared): scored together, every proxy gives the value it
gives alone.

Tolerance: none, the values are compared with ``==``. A pass runs the operations a proxy alone
runs, in the same order, on the same tensors (the parts other proxies ask for are extra
backward passes or hooks that read, never change, what the others read), so on one machine the
numbers are bitwise equal; a difference would mean the sharing changed the computation, not
rounding.
"""

import math

import pytest
import torch

from freedarts_cli.data import Synthetic
from freedarts_cli.errors import UserError
from freedarts_cli.proxies import PROXIES, ProxyError
from freedarts_cli.proxies.az_nas import FEATURES
from freedarts_cli.proxies.baselines import FLOPS
from freedarts_cli.proxies.shared import BATCH, score_all
from freedarts_cli.spaces.nb201 import NB201Space

from . import CPU, F64

MIXED = (2, 3, 4, 1, 3, 2)  # every op kind
NONE = (0,) * 6  # the output ignores the input: the floors (-inf) of nwot, jacob_cov, az_*, zen


def network(choice=MIXED, dtype=F64):
    torch.manual_seed(0)
    return NB201Space(N=1).network(list(choice), dtype, CPU)


def batch(dtype=F64):
    return Synthetic(batch_size=16).batch(0, dtype, CPU)


def alone(names, net, b, seed=3):
    values = {}
    for name in names:
        torch.manual_seed(seed)
        try:
            values[name] = PROXIES[name](net, b)
        except ProxyError:
            values[name] = math.nan
    return values


def together(names, net, b, seed=3):
    torch.manual_seed(seed)
    return {name: s.value for name, s in score_all([PROXIES[n] for n in names], net, b).items()}


def same(a, b):
    return a == b or (math.isnan(a) and math.isnan(b))


def readers(shared_pass):
    return [name for name, p in PROXIES.items() if p.uses is shared_pass]


def test_each_pass_has_the_readers_the_issue_names():
    assert set(readers(BATCH)) == {
        "snip",
        "grad_norm",
        "plain",
        "grasp",
        "fisher",
        "jacob_cov",
        "epe_nas",
        "nwot",
    }
    assert set(readers(FEATURES)) == {"az_expressivity", "az_progressivity", "az_trainability"}
    assert set(readers(FLOPS)) == {"flops", "az_complexity"}


@pytest.mark.parametrize("shared_pass", [BATCH, FEATURES, FLOPS], ids=lambda p: p.name)
@pytest.mark.parametrize("choice", [MIXED, NONE], ids=["mixed", "none"])
@pytest.mark.parametrize("dtype", [F64, torch.float32], ids=["f64", "f32"])
def test_a_pass_gives_each_reader_its_value_alone(shared_pass, choice, dtype):
    net, b = network(choice, dtype), batch(dtype)
    names = readers(shared_pass)
    expected, got = alone(names, net, b), together(names, net, b)
    assert all(same(expected[n], got[n]) for n in names), (expected, got)


def test_every_proxy_at_once_equals_every_proxy_alone():
    """All of them, the random ones (zen, meco, swap, vkdnw, az_*) included: each pass and each
    proxy without one starts from the RNG state score_all was called with."""
    net, b = network(), batch()
    names = [n for n, p in PROXIES.items() if (p.dtype or F64) == F64]
    expected, got = alone(names, net, b), together(names, net, b)
    assert list(got) == names
    assert all(same(expected[n], got[n]) for n in names), {
        n: (expected[n], got[n]) for n in names if not same(expected[n], got[n])
    }


def test_score_all_leaves_the_network_as_it_found_it():
    net = network()
    net.eval()
    net.cells[1].train()
    net.classifier.weight.requires_grad_(False)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    modes = [m.training for m in net.modules()]
    flags = [p.requires_grad for p in net.parameters()]
    score_all(list(PROXIES.values()), net, batch())
    assert all(torch.equal(v, state[k]) for k, v in net.state_dict().items())
    assert [m.training for m in net.modules()] == modes
    assert [p.requires_grad for p in net.parameters()] == flags
    assert all(p.grad is None for p in net.parameters())


def test_a_failing_proxy_loses_only_its_own_value():
    net = network()
    with torch.no_grad():
        net.classifier.weight[0, 0] = float("nan")  # every loss-based value is NaN
    scored = score_all([PROXIES[n] for n in ("snip", "grasp", "params", "flops")], net, batch())
    for name in ("snip", "grasp"):
        assert math.isnan(scored[name].value)
        assert isinstance(scored[name].error, ProxyError)
        assert f"proxy {name}" in str(scored[name].error)
    assert scored["params"].error is None and scored["params"].value == PROXIES["params"](net)
    assert scored["flops"].error is None and scored["flops"].value > 0
    assert all(s.seconds >= 0 for s in scored.values())


def test_score_all_refuses_a_missing_batch_before_scoring():
    with pytest.raises(UserError, match="snip needs a batch"):
        score_all([PROXIES["params"], PROXIES["snip"]], network(), None)
