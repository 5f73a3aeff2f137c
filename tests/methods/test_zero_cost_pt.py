"""Zero-Cost-PT: Table 5's perturbation counts and orders, the kept op, validation, the CLI."""

from dataclasses import dataclass, field

import pandas as pd
import pytest
import torch

from freedarts_cli.data import Synthetic
from freedarts_cli.errors import UserError
from freedarts_cli.methods import Context
from freedarts_cli.methods.zero_cost_pt import EDGE_ORDERS, ZeroCostPT
from freedarts_cli.spaces.nb201 import NB201Space
from freedarts_cli.supernet import Supernet

from ..conftest import freedarts

CPU = torch.device("cpu")


@dataclass
class Additive:
    """A stand-in proxy with a known answer: the supernet scores Σ w[e, o] over the ops still
    present, so removing (e, o) lowers it by w[e, o] and the kept op of every edge is
    argmax_o w[e, o]; a discrete network scores Σ_e w[e, choice_e] plus a per-batch offset.
    Every call is logged."""

    w: torch.Tensor
    name: str = "additive"
    needs_data: bool = True
    dtype: torch.dtype = None
    supernet_calls: int = 0
    validation: list = field(default_factory=list)

    def __call__(self, net, batch):
        if isinstance(net, Supernet):
            self.supernet_calls += 1
            return float(self.w[net.mask].sum())
        value = float(self.w[torch.arange(6), torch.tensor(net.choice)].sum() + batch.images.mean())
        self.validation.append((list(net.choice), value))
        return value


def setup(seed=0, **options):
    space = NB201Space(C=4, N=1, input_size=8)
    batch = Synthetic(batch_size=16, input_size=8).batch(seed, torch.float64, CPU)
    return space, ZeroCostPT(**options), Context(space, seed, 1e-3, torch.float64, CPU, batch)


def run(method, ctx):
    torch.manual_seed(ctx.seed)  # the runner seeds the global RNG (weights) the same way
    return method.search(ctx)


@pytest.mark.parametrize("order", EDGE_ORDERS)
def test_each_order_makes_the_published_number_of_perturbations(order):
    _, method, ctx = setup(edge_order=order, n_proposals=2, n_validation=0)
    method.proxy = Additive(torch.rand(6, 5, generator=torch.Generator().manual_seed(1)))
    found = run(method, ctx)
    expected = {
        "fixed": 30,
        "random": 30,
        "global_op_iter": 105,
        "global_edge_iter": 105,
        "global_op_once": 55,
        "global_edge_once": 55,
    }[order]  # Table 5, |O|=5, |E|=6
    assert method.proxy.supernet_calls == 2 * expected
    assert found.extra["perturbations"] == expected
    # whatever the order, the kept op is the one whose removal lowers the proxy most
    assert found.choice == method.proxy.w.argmax(dim=1).tolist()
    assert found.pruning == f"perturbation_{order}" and found.extra["edge_order"] == order
    assert len(found.rounds) == 24 and [r.round for r in found.rounds] == list(range(1, 25))
    assert found.rounds[-1].mask.sum(dim=1).tolist() == [1] * 6


def _edge_order(found) -> list[int]:
    """The edges in the order they were discretised (4 removals each)."""
    return [r.removed[0] for r in found.rounds][::4]


@pytest.mark.parametrize(
    "order, key",
    [
        ("global_op_iter", "max"),
        ("global_op_once", "max"),
        ("global_edge_iter", "mean"),
        ("global_edge_once", "mean"),
    ],
)
def test_global_orders_decide_the_most_important_edge_first(order, key):
    w = torch.rand(6, 5, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    space, method, ctx = setup(edge_order=order, n_proposals=1, n_validation=0)
    method.proxy = Additive(w)
    found = run(method, ctx)
    # S(A − (e, o)) = T − w[e, o]: op-orders take the edge with the largest w first, edge-orders
    # the edge with the largest mean w
    strength = w.amax(dim=1) if key == "max" else w.mean(dim=1)
    assert _edge_order(found) == strength.argsort(descending=True).tolist()


def test_fixed_order_goes_from_input_to_output_and_random_order_follows_the_seed():
    w = torch.rand(6, 5, generator=torch.Generator().manual_seed(3))
    _, method, ctx = setup(edge_order="fixed", n_proposals=1, n_validation=0)
    method.proxy = Additive(w)
    assert _edge_order(run(method, ctx)) == list(range(6))
    orders = []
    for seed in (0, 0, 1):
        _, method, ctx = setup(seed, edge_order="random", n_proposals=1, n_validation=0)
        method.proxy = Additive(w)
        orders.append(_edge_order(run(method, ctx)))
    assert sorted(orders[0]) == list(range(6)) and orders[0] == orders[1] != orders[2]


def test_each_step_keeps_the_argmin_of_the_proxy_after_removal():
    _, method, ctx = setup(edge_order="random", n_proposals=1, n_validation=0)
    found = run(method, ctx)  # the real nwot proxy
    assert found.scorer == "nwot"
    for step in range(6):
        block = found.rounds[4 * step : 4 * step + 4]
        e = block[0].removed[0]
        scores = block[0].scores  # −S(A − (e, o)), NaN off the edge
        assert all(r.removed[0] == e and r.scores is scores for r in block)
        assert int((~scores.isnan()).sum()) == 5
        kept = found.choice[e]
        assert kept == int((-scores[e]).argmin())
        assert sorted(r.removed[1] for r in block) == [o for o in range(5) if o != kept]
        assert all(r.removed_score == float(scores[e, r.removed[1]]) for r in block)


def test_validation_picks_the_proposal_with_the_best_mean_proxy():
    w = torch.rand(6, 5, generator=torch.Generator().manual_seed(4))
    _, method, ctx = setup(edge_order="random", n_proposals=3, n_validation=4, batch_size=8)
    method.proxy = Additive(w)
    found = run(method, ctx)
    assert len(found.samples) == 3
    # the additive proxy gives every proposal the same architecture: validated once, 4 batches
    assert found.extra["distinct_proposals"] == 1 and len(method.proxy.validation) == 4
    mean = sum(v for _, v in method.proxy.validation) / 4
    assert all(s == pytest.approx(mean) for _, s in found.samples)
    assert len({round(v, 12) for _, v in method.proxy.validation}) == 4  # 4 different batches


def test_identical_validation_batches_are_scored_once():
    w = torch.rand(6, 5, generator=torch.Generator().manual_seed(5))
    for size in (None, 16):  # the whole data batch of 16 images each time
        _, method, ctx = setup(edge_order="fixed", n_proposals=2, n_validation=5, batch_size=size)
        method.proxy = Additive(w)
        found = run(method, ctx)
        assert len(method.proxy.validation) == 1
        assert found.samples[0][1] == method.proxy.validation[0][1]


def test_nwot_proposals_validation_and_determinism():
    _, method, ctx = setup(1, edge_order="fixed", n_proposals=3, n_validation=2, batch_size=8)
    found = run(method, ctx)
    values = [s for _, s in found.samples]
    assert len(values) == 3 and found.choice in [c for c, _ in found.samples]
    assert max(values) == dict((tuple(c), s) for c, s in found.samples)[tuple(found.choice)]
    assert found.extra == {
        "n_proposals": 3,
        "n_validation": 2,
        "edge_order": "fixed",
        "batch_size": 8,
        "perturbations": 30,
        "distinct_proposals": len({tuple(c) for c, _ in found.samples}),
    }
    again = run(*setup(1, edge_order="fixed", n_proposals=3, n_validation=2, batch_size=8)[1:])
    assert again.choice == found.choice and again.samples == found.samples


def test_bad_options_are_user_errors():
    for bad in (
        {"proxy": "combined"},
        {"edge_order": "backwards"},
        {"n_proposals": 0},
        {"n_validation": -1},
        {"batch_size": 0},
    ):
        with pytest.raises(UserError):
            ZeroCostPT(**bad)
    _, method, ctx = setup(batch_size=17, n_proposals=1)
    with pytest.raises(UserError, match="data.batch_size"):
        run(method, ctx)


def test_zero_cost_pt_cli_run(tmp_path):
    out = freedarts(
        "search",
        "method=zero_cost_pt",
        "method.edge_order=random",
        "method.n_proposals=2",
        "method.n_validation=2",
        "method.batch_size=8",
        "space.N=1",
        "space.C=4",
        "space.input_size=8",
        "data=synthetic",
        "data.input_size=8",
        "data.batch_size=16",
        "benchmark=none",
        "threads=1",
        f"hydra.run.dir={tmp_path}/run",
    )
    assert out.returncode == 0, out.stderr
    row = pd.read_csv(tmp_path / "run" / "result.csv").iloc[0]
    assert (row.method, row.scorer, row.pruning) == ("zero_cost_pt", "nwot", "perturbation_random")
    assert row.n_proposals == 2 and row.n_validation == 2 and row["rounds"] == 24
    traj = pd.read_csv(tmp_path / "run" / "trajectory.csv")
    assert list(traj["round"]) == list(range(1, 25)) and traj["arch"].iloc[-1] == row.arch
    assert traj["removed_op"].notna().all()
    samples = pd.read_csv(tmp_path / "run" / "samples.csv")
    assert len(samples) == 2 and row.arch in set(samples.arch)
