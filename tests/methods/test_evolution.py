"""method=evolution: aging evolution's bookkeeping on a known fitness, then real networks."""

import pandas as pd
import pytest
import torch

from freedarts_cli.data import Synthetic
from freedarts_cli.errors import UserError
from freedarts_cli.methods import Context
from freedarts_cli.methods.evolution import Evolution, aging_evolution, neighbours
from freedarts_cli.methods.zero_cost import Scores
from freedarts_cli.spaces.nb201 import NB201Space

from ..conftest import freedarts

CPU = torch.device("cpu")
SPACE = NB201Space(N=1)  # only sample/mutate are used on a known fitness: nothing is built
# A fitness known in closed form: +2 per nor_conv_3x3, +1 per nor_conv_1x1, 0 otherwise.
GAIN = [0, 0, 1, 2, 0]


def fitness(choice):
    return [float(sum(GAIN[k] for k in choice))]


class Recording(Scores):
    """Scores that remember every ``best`` call: (candidates, winner)."""

    def __init__(self):
        super().__init__(fitness)
        self.calls = []

    def best(self, choices):
        winner = super().best(choices)
        self.calls.append(([list(c) for c in choices], winner))
        return winner


def evolve(seed=0, **kw):
    args = dict(n_models=40, population=8, tournament=3)
    args.update(kw)
    scores = Recording()
    history, members = aging_evolution(SPACE, scores, torch.Generator().manual_seed(seed), **args)
    return scores, history, members


def test_neighbours_are_every_one_edge_mutation():
    parent = [0, 1, 2, 3, 4, 0]
    near = neighbours(SPACE, parent)
    assert len(near) == 24 and len({tuple(c) for c in near}) == 24
    assert all(sum(a != b for a, b in zip(c, parent, strict=True)) == 1 for c in near)


def test_history_counts_n_models_and_the_population_ages():
    scores, history, members = evolve()
    assert len(history) == 40
    assert members == history[-8:]  # the oldest left first, never more than P members
    tournaments = [c for c, _ in scores.calls]
    assert len(tournaments) == 40 - 8 and all(len(t) == 3 for t in tournaments)
    # each tournament draws from the population of its time: the last P entries of the history
    for step, contenders in enumerate(tournaments):
        alive = {tuple(c) for c in history[step : step + 8]}
        assert {tuple(c) for c in contenders} <= alive


def test_children_are_mutations_of_the_tournament_winner():
    scores, history, _ = evolve()
    for (contenders, parent), child in zip(scores.calls, history[8:], strict=True):
        assert max(fitness(c) for c in contenders) == fitness(parent)
        assert sum(a != b for a, b in zip(parent, child, strict=True)) == 1


def test_zero_cost_move_takes_the_best_neighbour():
    scores, history, _ = evolve(zero_cost_move=True, move_probability=1.0)
    tournaments, moves = scores.calls[0::2], scores.calls[1::2]
    assert len(moves) == 40 - 8
    for (_, parent), (candidates, child), joined in zip(
        tournaments, moves, history[8:], strict=True
    ):
        assert candidates == neighbours(SPACE, parent)
        assert fitness(child) == max(fitness(c) for c in candidates) and child == joined
    assert len(scores) > len({tuple(c) for c in history})  # neighbours scored, not visited


def test_zero_cost_move_applies_three_times_in_four():
    scores, _, _ = evolve(n_models=400, zero_cost_move=True)
    moves = sum(len(c) == 24 for c, _ in scores.calls)
    assert 0.65 < moves / (400 - 8) < 0.85


def test_warmup_starts_from_the_best_of_the_pool():
    scores, history, _ = evolve(warmup=20)
    pool = scores.choices[:20]
    best8 = sorted(pool, key=lambda c: -fitness(c)[0])[:8]
    assert sorted(map(tuple, history[:8])) == sorted(map(tuple, best8))
    assert len(history) == 40


def test_evolution_climbs_a_known_fitness():
    for seed in (0, 1):
        scores, history, _ = evolve(seed, n_models=300, population=10, tournament=5)
        assert scores.best(history) == [3] * 6


def test_options_are_checked():
    with pytest.raises(UserError, match="warmup=10"):
        Evolution(warmup=10, population=64)
    with pytest.raises(UserError, match="proxy=nope is not known"):
        Evolution(proxy="nope")
    assert Evolution("nwot").needs_data and not Evolution("synflow").needs_data


def test_evolution_on_real_networks_is_deterministic():
    torch.set_num_threads(1)
    found = []
    for seed in (5, 5, 6):
        torch.manual_seed(seed)
        ctx = Context(
            SPACE,
            seed,
            1e-3,
            torch.float64,
            CPU,
            Synthetic(batch_size=4).batch(seed, torch.float64, CPU),
        )
        found.append(Evolution("synflow", n_models=6, population=3, tournament=2).search(ctx))
    assert found[0].samples == found[1].samples and found[0].choice == found[1].choice
    assert found[0].samples != found[2].samples
    assert len(found[0].samples) <= 6
    assert found[0].choice == max(found[0].samples, key=lambda s: s[1])[0]
    assert found[0].extra == {
        "n_models": 6,
        "population": 3,
        "tournament": 2,
        "warmup": 0,
        "zero_cost_move": False,
    }


def test_cli_evolution(tmp_path):
    out = freedarts(
        "search",
        "method=evolution",
        "n_models=5",
        "population=3",
        "method.tournament=2",
        "warmup=4",
        "space.N=1",
        "data=synthetic",
        "benchmark=none",
        "threads=1",
        f"hydra.run.dir={tmp_path}/run",
    )
    assert out.returncode == 0, out.stderr
    row = pd.read_csv(tmp_path / "run" / "result.csv").iloc[0]
    assert (row.method, row.scorer, row.pruning) == ("evolution", "synflow", "evolution")
    assert (row.n_models, row.population, row.tournament, row.warmup) == (5, 3, 2, 4)
    assert not row.zero_cost_move
    samples = pd.read_csv(tmp_path / "run" / "samples.csv")
    assert list(samples.columns) == ["arch", "score"]
    assert 4 <= len(samples) <= 4 + 2  # the warm-up pool, then two children
    assert row.arch == samples.arch[samples.score.idxmax()]
