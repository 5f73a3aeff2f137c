"""Discretisation: from op scores to one architecture (METHOD.md §2).

A pruner is called as ``pruner(net, score, space) -> Pruned``: ``score(net, where)`` returns the
checked score tensor of the current supernet; the space unit supplies its rules:
``space.discretise(scores, mask)`` (scores -> one choice per edge, e.g. argmax per edge on NB201,
DARTS' two-strongest-inputs rule on DARTS), ``space.is_discrete(mask)`` (the iterative stopping
rule) and ``space.removals`` (``"op"``: the weakest op of the whole supernet per round, journal
Algorithm 1; ``"edge"``: the weakest op of every open edge per round, for spaces where one op per
round would cost hundreds of rounds). Every removal is recorded as a :class:`Round`: the scores
of all ops of its scoring round and the architecture ``discretise`` gives after it (the runner
turns choices into architecture strings).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from tqdm import tqdm

from .supernet import Supernet

ScoreFn = Callable[[Supernet, str], torch.Tensor]


@dataclass
class Round:
    round: int
    scores: torch.Tensor
    mask: torch.Tensor
    choice: list[int]  # argmax architecture after this round
    removed: tuple[int, int] | None = None  # (edge, op)
    removed_score: float = float("nan")


@dataclass
class Pruned:
    choice: list[int]
    rounds: list[Round] = field(default_factory=list)


class OneShot:
    """FreeDARTS (conference): score once, keep the argmax op on every edge."""

    name = "oneshot"

    def __call__(self, net: Supernet, score: ScoreFn, space) -> Pruned:
        scores = score(net, "")
        choice = space.discretise(scores, net.mask.cpu())
        return Pruned(choice, [Round(0, scores, net.mask.cpu().clone(), choice)])


class Iterative:
    """Journal Algorithm 1: (re-)initialise, score the ops still present, remove the weakest op
    among edges that still hold more than one, repeat until the space's rule says discrete.

    ``reinit=True`` (the journal) draws fresh weights and α every round; ``reinit=False`` keeps
    the first initialisation and only re-scores the masked supernet.
    """

    name = "iterative"

    def __init__(self, reinit: bool = True):
        self.reinit = reinit
        self.name = "iterative" if reinit else "iterative_keep_init"

    def __call__(self, net: Supernet, score: ScoreFn, space) -> Pruned:
        mask = net.mask.cpu()
        total = int(mask.sum()) - mask.shape[0]
        rounds: list[Round] = []
        scores = torch.zeros(mask.shape)
        with tqdm(total=total, desc="pruning", unit="op", leave=False, disable=None) as bar:
            r = 0
            while not space.is_discrete(net.mask):
                r += 1
                if self.reinit and r > 1:
                    net.initialise()
                scores = score(net, f" at round {r}")
                for edge, op in self._weakest(scores, net.mask.cpu(), space.removals):
                    net.remove(edge, op)
                    mask_after = net.mask.cpu().clone()
                    rounds.append(
                        Round(
                            r,
                            scores,
                            mask_after,
                            space.discretise(scores, mask_after),
                            (edge, op),
                            float(scores[edge, op]),
                        )
                    )
                    bar.update(1)
        return Pruned(space.discretise(scores, net.mask.cpu()), rounds)

    @staticmethod
    def _weakest(scores: torch.Tensor, mask: torch.Tensor, removals: str) -> list[tuple[int, int]]:
        """The ops to remove this round, among edges that still hold more than one op (ties:
        first edge, first op)."""
        open_edges = mask.sum(dim=1, keepdim=True) > 1
        candidates = torch.where(mask & open_edges, scores, torch.full_like(scores, torch.inf))
        if removals == "edge":
            return [(e, int(candidates[e].argmin())) for e in range(len(mask)) if open_edges[e]]
        return [divmod(int(candidates.flatten().argmin()), scores.shape[1])]
