"""TE-NAS: the two indicators on cases with known answers, the pruning schedule, the CLI."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from freedarts_cli.data import Synthetic
from freedarts_cli.errors import UserError
from freedarts_cli.methods import Context
from freedarts_cli.methods.tenas import (
    TENAS,
    _dense_rank,
    count_linear_regions,
    ntk_condition_number,
)
from freedarts_cli.spaces.nb201 import NB201Space

from ..conftest import freedarts

CPU = torch.device("cpu")


SMALL = dict(ntk_batch=4, repeat=1, lr_samples=100, lr_batches=2)


def test_ntk_condition_number_of_a_linear_model_is_that_of_x_xT():
    # f(x) = W x + b: ∂Σ_c f_c/∂W = [x, …, x], so Θ = C · X Xᵀ (the bias is not a weight)
    torch.manual_seed(0)
    x = torch.randn(5, 8, dtype=torch.float64)
    net = nn.Sequential(nn.Linear(8, 3)).double()
    eig = np.linalg.eigvalsh(x.numpy() @ x.numpy().T)
    assert ntk_condition_number(net, x) == pytest.approx(eig[-1] / eig[0], rel=1e-9)


def test_ntk_condition_number_is_inf_for_a_singular_kernel():
    x = torch.randn(3, 8, dtype=torch.float64)
    x[2] = x[0]  # two equal samples: Θ has rank 2
    net = nn.Sequential(nn.Linear(8, 1, bias=False)).double()
    assert ntk_condition_number(net, x) > 1e12


def _relu_layer(weight, bias) -> nn.Module:
    lin = nn.Linear(len(weight[0]), len(weight)).double()
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(weight))
        lin.bias.copy_(torch.tensor(bias))
    return nn.Sequential(lin, nn.ReLU())


def test_linear_regions_of_a_1d_relu_layer():
    # kinks at x = -0.5, 0, 0.5 split [-1, 1] into 4 linear pieces
    net = _relu_layer([[1.0], [1.0], [1.0]], [0.5, 0.0, -0.5])
    xs = torch.linspace(-1, 1, 101, dtype=torch.float64)[:, None]
    assert count_linear_regions(net, [xs]) == 4
    assert count_linear_regions(net, xs.split(17)) == 4  # chunks are pooled
    assert count_linear_regions(net, [xs[xs[:, 0] < -0.6]]) == 1


def test_linear_regions_of_three_lines_in_the_plane():
    # x=0, y=0 and x+y=0.5 in general position: 7 regions, all of which meet [-1, 1]²
    net = _relu_layer([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [0.0, 0.0, -0.5])
    g = torch.linspace(-0.99, 0.99, 60, dtype=torch.float64)
    grid = torch.cartesian_prod(g, g)
    assert count_linear_regions(net, [grid]) == 7
    assert count_linear_regions(net, [grid[:, :1].clamp(max=-0.1).repeat(1, 2)]) == 1


def test_dense_rank_shares_ranks_between_equal_values():
    v = torch.tensor([0.2, 0.5, 0.2, float("nan"), -1.0], dtype=torch.float64)
    assert _dense_rank(v, descending=True).tolist() == [1, 0, 1, 3, 2]
    assert _dense_rank(v, descending=False).tolist() == [1, 2, 1, 3, 0]


def search(seed=0, **options):
    space = NB201Space(N=1, input_size=8)
    batch = Synthetic(batch_size=8, input_size=8).batch(seed, torch.float64, CPU)
    torch.manual_seed(seed)  # the runner seeds the global RNG (weights) the same way
    found = TENAS(**{**SMALL, **options}).search(
        Context(space, seed, 1e-3, torch.float64, CPU, batch)
    )
    return space, found


def test_tenas_removes_none_then_one_op_per_edge_per_round():
    space, found = search()
    assert found.scorer == "ntk_lr" and found.pruning == "tenas"
    assert found.extra["tenas_rounds"] == 3 and found.extra["ntk_batch"] == 4
    removed = [r.removed for r in found.rounds]
    assert len(removed) == 24 and len(set(removed)) == 24
    assert removed[:6] == [(e, 0) for e in range(6)]  # `none` first, unscored
    assert all(np.isnan(r.removed_score) for r in found.rounds[:6])
    for t in range(3):  # each TE-NAS round: every edge loses exactly one op
        block = found.rounds[6 + 6 * t : 12 + 6 * t]
        assert [r.removed[0] for r in block] == list(range(6))
        scores = block[0].scores
        assert all(r.scores is scores for r in block)  # one measurement per round
        assert int((~scores.isnan()).sum()) == 6 * (4 - t)
        for r in block:  # the removed op has the smallest rank sum on its edge
            e, k = r.removed
            assert r.removed_score == float(scores[e].nan_to_num(nan=np.inf).min())
    final = found.rounds[-1].mask
    assert final.sum(dim=1).tolist() == [1] * 6
    assert found.choice == [int(row.nonzero()) for row in final]
    assert found.rounds[-1].choice == found.choice and 0 not in found.choice


def test_tenas_keeps_none_when_asked():
    _, found = search(prune_none_first=False)
    assert len(found.rounds) == 24 and found.extra["tenas_rounds"] == 4
    assert not all(np.isnan(r.removed_score) for r in found.rounds[:6])


def test_tenas_same_seed_same_architecture():
    a, b = search(seed=3)[1], search(seed=3)[1]
    assert a.choice == b.choice
    assert all(
        torch.equal(x.scores.nan_to_num(-1), y.scores.nan_to_num(-1))
        for x, y in zip(a.rounds, b.rounds, strict=True)
    )


def test_tenas_rejects_an_ntk_batch_larger_than_the_data_batch():
    with pytest.raises(UserError, match="data.batch_size"):
        search(ntk_batch=9)
    with pytest.raises(UserError, match="ntk_batch"):
        TENAS(ntk_batch=1)


def test_tenas_cli_run(tmp_path):
    out = freedarts(
        "search",
        "method=tenas",
        "space.N=1",
        "space.input_size=8",
        "data=synthetic",
        "data.input_size=8",
        "data.batch_size=8",
        "benchmark=none",
        "threads=1",
        "method.ntk_batch=4",
        "method.repeat=1",
        "method.lr_samples=100",
        f"hydra.run.dir={tmp_path}/run",
    )
    assert out.returncode == 0, out.stderr
    row = pd.read_csv(tmp_path / "run" / "result.csv").iloc[0]
    assert (row.method, row.scorer, row.pruning) == ("tenas", "ntk_lr", "tenas")
    assert row.data == "synthetic" and row["rounds"] == 24 and row["repeat"] == 1
    traj = pd.read_csv(tmp_path / "run" / "trajectory.csv")
    assert list(traj["round"]) == list(range(1, 25))
    assert (traj["removed_op"][:6] == "none").all()
    assert traj["arch"].iloc[-1] == row.arch
