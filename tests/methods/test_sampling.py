"""method=random, zero_cost, naswot, random_search: sampling, scoring, the argmax, the CLI."""

import pandas as pd
import pytest
import torch

from freedarts_cli.data import Batch, Synthetic
from freedarts_cli.errors import UserError
from freedarts_cli.methods import Context
from freedarts_cli.methods.evolution import RandomSearch
from freedarts_cli.methods.random import Random
from freedarts_cli.methods.zero_cost import NASWOT, Scores, ZeroCost
from freedarts_cli.proxies import AGGREGATES, PROXIES, combine
from freedarts_cli.spaces.nb201 import NB201Space

from ..conftest import freedarts

CPU = torch.device("cpu")
CLI = ["space.N=1", "data=synthetic", "benchmark=none", "threads=1"]


def context(seed=0, batch_size=8):
    batch = Synthetic(batch_size=batch_size).batch(seed, torch.float64, CPU)
    return Context(NB201Space(N=1), seed, 1e-3, torch.float64, CPU, batch)


def run(method, seed=0, **kw):
    torch.manual_seed(seed)  # as the runner does: the global stream initialises the weights
    return method.search(context(seed, **kw))


def drawn(seed, n):
    g = torch.Generator().manual_seed(seed)
    return [NB201Space(N=1).sample(g) for _ in range(n)]


def test_random_is_seeded_and_scores_nothing():
    found = [Random().search(context(s)) for s in (0, 0, 1, 2)]
    assert found[0].choice == found[1].choice == drawn(0, 1)[0]
    assert len({tuple(f.choice) for f in found}) > 1
    assert (found[0].scorer, found[0].pruning, found[0].samples) == ("none", "random", [])
    assert not Random().needs_data


def test_zero_cost_scores_every_draw_and_keeps_the_argmax():
    found = run(ZeroCost("synflow", n_samples=5), seed=3)
    archs = [c for c, _ in found.samples]
    assert archs == drawn(3, 5)  # seeded generator; these five happen to be distinct
    best = max(found.samples, key=lambda s: s[1])
    assert found.choice == best[0]
    assert (found.scorer, found.pruning, found.extra) == ("synflow", "sample", {"n_samples": 5})
    # each score is the proxy of a fresh network drawn from the global stream, in order
    torch.manual_seed(3)
    space = NB201Space(N=1)
    for choice, score in found.samples[:2]:
        assert PROXIES["synflow"](space.network(choice, torch.float64, CPU)) == score


def test_same_seed_same_search_other_seed_other_samples():
    a, b, c = (run(ZeroCost("synflow", n_samples=4), seed=s) for s in (0, 0, 1))
    assert a.samples == b.samples and a.choice == b.choice
    assert [x for x, _ in a.samples] != [x for x, _ in c.samples]


def test_data_needs_follow_the_proxy():
    assert not ZeroCost("synflow").needs_data
    assert ZeroCost("snip").needs_data and ZeroCost("combined").needs_data
    assert NASWOT().needs_data
    with pytest.raises(UserError, match="proxy=nope is not known"):
        ZeroCost("nope")
    with pytest.raises(UserError, match="n_samples=0"):
        ZeroCost("synflow", n_samples=0)


def test_scores_score_each_architecture_once():
    calls = []

    def evaluate(choice):
        calls.append(choice)
        return [float(sum(choice))]

    scores = Scores(evaluate)
    assert scores.best([[0, 1], [2, 2], [0, 1], [1, 0]]) == [2, 2]
    assert calls == [[0, 1], [2, 2], [1, 0]]
    assert scores.samples() == [([0, 1], 1.0), ([2, 2], 4.0), ([1, 0], 1.0)]


def test_combined_scores_rank_over_everything_scored_so_far():
    raw = {(0,): (5.0, 1e20), (1,): (7.0, 1e3), (2,): (6.0, 0.0)}
    scores = Scores(lambda c: raw[tuple(c)], AGGREGATES["combined"].combine)
    # percentiles (nwot, synflow): [0] (¼, ¾) -> .45, [1] (¾, ¼) -> .55
    assert scores.best([[0], [1]]) == [1]
    assert scores.samples()[0][1] == pytest.approx(0.45)
    scores.add([2])  # a third architecture moves every percentile: [0] is now (1/6, 5/6)
    assert scores.samples()[0][1] == pytest.approx(0.6 / 6 + 0.4 * 5 / 6)


def test_naswot_scores_the_first_batch_size_images():
    found = run(NASWOT(n_samples=2, batch_size=6), seed=1, batch_size=10)
    assert (found.scorer, found.extra) == ("nwot", {"n_samples": 2, "batch_size": 6})
    full = context(1, batch_size=10).batch
    first = Batch(full.images[:6], full.labels[:6], full.random_labels[:6])
    torch.manual_seed(1)
    net = NB201Space(N=1).network(found.samples[0][0], torch.float64, CPU)
    assert PROXIES["nwot"](net, first) == found.samples[0][1]
    with pytest.raises(UserError, match="data.batch_size=16"):
        run(NASWOT(n_samples=1, batch_size=16), batch_size=10)


def test_random_search_is_sampling_under_its_own_name():
    found = run(RandomSearch("synflow", n_models=3), seed=2)
    assert (found.pruning, found.extra) == ("random_search", {"n_models": 3})
    assert [c for c, _ in found.samples] == drawn(2, 3)


def _cli(tmp_path, *args):
    out = freedarts("search", *CLI, *args, f"hydra.run.dir={tmp_path}/run")
    assert out.returncode == 0, out.stderr
    row = pd.read_csv(tmp_path / "run" / "result.csv").iloc[0]
    samples_csv = tmp_path / "run" / "samples.csv"
    return row, (pd.read_csv(samples_csv) if samples_csv.exists() else None)


def test_cli_random(tmp_path):
    row, samples = _cli(tmp_path, "method=random")
    assert (row.method, row.scorer, row.pruning) == ("random", "none", "random")
    assert samples is None
    # no scoring round, yet every CSV of the run folder is one a reader can parse
    for name, first in (("scores.csv", "round"), ("trajectory.csv", "round")):
        assert pd.read_csv(tmp_path / "run" / name).columns[0] == first, name


def test_cli_zero_cost(tmp_path):
    # options at the root, as FreeDARTS' scorer=/pruning= (method.n_samples=3 works too)
    row, samples = _cli(tmp_path, "method=zero_cost", "proxy=synflow", "n_samples=3", "seed=4")
    assert (row.method, row.scorer, row.pruning, row.n_samples) == (
        "zero_cost",
        "synflow",
        "sample",
        3,
    )
    assert list(samples.columns) == ["arch", "score"] and len(samples) == 3
    assert row.arch == samples.arch[samples.score.idxmax()]


def test_cli_naswot_batch_follows_method_batch_size(tmp_path):
    row, samples = _cli(tmp_path, "method=naswot", "n_samples=2", "method.batch_size=12")
    assert (row.method, row.scorer, row.pruning) == ("naswot", "nwot", "sample")
    assert (row.n_samples, row.batch_size, row.data) == (2, 12, "synthetic")
    assert len(samples) == 2


def test_cli_random_search_combined(tmp_path):
    row, samples = _cli(
        tmp_path,
        "method=random_search",
        "method.proxy=combined",
        "method.n_models=3",
        "data.batch_size=8",
    )
    assert (row.method, row.scorer, row.pruning, row.n_models) == (
        "random_search",
        "combined",
        "random_search",
        3,
    )
    assert len(samples) == 3 and samples.score.between(0, 1).all()
    assert row.arch == samples.arch[samples.score.idxmax()]


def test_combined_helper_is_what_scores_use():
    raw = [(1.0, 5.0), (3.0, 1.0), (2.0, 9.0)]
    scores = Scores(lambda c: raw[c[0]], AGGREGATES["combined"].combine)
    for i in range(3):
        scores.add([i])
    expected = combine([[r[0] for r in raw], [r[1] for r in raw]], [0.6, 0.4])
    assert [s for _, s in scores.samples()] == pytest.approx(list(expected))
