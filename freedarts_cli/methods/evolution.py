"""Random search and aging evolution on zero-cost proxies (student report, PAPER_TABLES Paper 5).

The report runs the two classic NAS search strategies with a zero-cost proxy as the fitness:
random search over N = 500 models, and aging evolution (Real et al., AAAI 2019, Algorithm 1) with
P = 64, T = 10, M = 500 visited models, optionally a warm-up pool and the zero-cost move of
Abdelfattah et al. (ICLR 2021, §5). The search only ever sees proxy values.
"""

from __future__ import annotations

import logging
from collections import deque

import torch

from .. import proxies
from ..errors import UserError
from . import Context, Found
from .zero_cost import Scores, ZeroCost, _positive, proxy_scores

log = logging.getLogger("freedarts")


class RandomSearch(ZeroCost):
    """``method=random_search``: ``n_models`` uniformly random architectures scored by
    ``proxy``, the best kept (the sampling of :class:`ZeroCost` under the report's name)."""

    name = "random_search"
    pruning = "random_search"

    def __init__(self, proxy: str = "synflow", n_models: int = 500):
        super().__init__(proxy, _positive("method.n_models", n_models))

    def _extra(self) -> dict:
        return {"n_models": self.n_samples}


def neighbours(space, choice: list[int]) -> list[list[int]]:
    """Every architecture one edge away from ``choice`` (edges × (ops − 1): 24 on NB201)."""
    return [
        choice[:e] + [k] + choice[e + 1 :]
        for e in range(len(space.edges))
        for k in range(len(space.ops))
        if k != choice[e]
    ]


def aging_evolution(
    space,
    scores: Scores,
    generator: torch.Generator,
    n_models: int,
    population: int,
    tournament: int,
    warmup: int = 0,
    zero_cost_move: bool = False,
    move_probability: float = 0.75,
):
    """Aging evolution; returns ``(history, population)`` as lists of choices.

    The population starts with ``population`` random architectures, or with the best
    ``population`` of ``warmup`` random ones. Then, until ``n_models`` architectures have
    entered the population (the history, initial ones included): draw ``tournament`` members
    uniformly with replacement, take the best as parent; the child is a random one-edge mutation
    or, with ``zero_cost_move`` and a uniform draw ≤ ``move_probability``, the best of all
    one-edge mutations; the child joins and the oldest member leaves. Architectures scored
    without joining (the rest of the warm-up pool, the neighbours the move looked at) are in
    ``scores`` but not in the history.
    """
    if warmup:
        pool = [space.sample(generator) for _ in range(warmup)]
        index = [scores.add(c) for c in pool]
        values = scores.values()[index]
        # the best P by score; a stable sort keeps draw order among ties
        order = sorted(range(len(pool)), key=lambda i: -values[i])
        start = [pool[i] for i in sorted(order[:population])]
    else:
        start = [space.sample(generator) for _ in range(population)]
    members: deque = deque(maxlen=population)  # appending to a full deque drops the oldest
    history: list[list[int]] = []
    for choice in start[:n_models]:
        scores.add(choice)
        members.append(choice)
        history.append(choice)
    while len(history) < n_models:
        drawn = torch.randint(len(members), (tournament,), generator=generator).tolist()
        parent = scores.best([members[i] for i in drawn])
        if zero_cost_move and float(torch.rand((), generator=generator)) <= move_probability:
            child = scores.best(neighbours(space, parent))
        else:
            child = space.mutate(parent, generator)
        scores.add(child)
        members.append(child)
        history.append(child)
    return history, list(members)


class Evolution:
    """``method=evolution``: aging evolution with ``proxy`` as fitness; the best architecture
    of the history is returned. Every architecture scored (warm-up pool, move neighbours
    included) is a row of ``samples.csv``."""

    name = "evolution"
    dtype = "float32"  # as ZeroCost
    spaces = ("nb201",)
    pruning = "evolution"

    def __init__(
        self,
        proxy: str = "synflow",
        n_models: int = 500,
        population: int = 64,
        tournament: int = 10,
        warmup: int = 0,
        zero_cost_move: bool = False,
    ):
        self.parts, _ = proxies.resolve(proxy)  # an unknown proxy fails before any work
        self.proxy = proxy
        self.n_models = _positive("method.n_models", n_models)
        self.population = _positive("method.population", population)
        self.tournament = _positive("method.tournament", tournament)
        self.warmup = int(warmup)
        if self.warmup and self.warmup < self.population:
            raise UserError(
                f"method.warmup={warmup} must be 0 or at least method.population="
                f"{population} (the population starts from the best of the pool)"
            )
        self.zero_cost_move = bool(zero_cost_move)

    @property
    def needs_data(self) -> bool:
        return any(p.needs_data for p in self.parts)

    def search(self, ctx: Context) -> Found:
        generator = torch.Generator().manual_seed(ctx.seed)
        scores = proxy_scores(self.proxy, ctx, ctx.batch)
        history, _ = aging_evolution(
            ctx.space,
            scores,
            generator,
            self.n_models,
            self.population,
            self.tournament,
            self.warmup,
            self.zero_cost_move,
        )
        log.info(
            "evolution: %d models visited, %d architectures scored by %s",
            len(history),
            len(scores),
            self.proxy,
        )
        extra = {
            "n_models": self.n_models,
            "population": self.population,
            "tournament": self.tournament,
            "warmup": self.warmup,
            "zero_cost_move": self.zero_cost_move,
        }
        return Found(
            scores.best(history), self.proxy, self.pruning, samples=scores.samples(), extra=extra
        )
