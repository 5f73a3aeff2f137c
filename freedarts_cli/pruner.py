"""Discretisation: from op scores to one architecture (METHOD.md §2).

A pruner is called as ``pruner(net, score, is_discrete) -> Pruned``: ``score(net)`` returns the
checked score tensor of the current supernet, ``is_discrete(mask)`` is the space's stopping rule.
Every round is recorded: the scores of all ops (``scores``) and the removal with the argmax
architecture after it (``trajectory``; the runner turns choices into architecture strings).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from tqdm import tqdm

from .genotype import argmax_choice
from .supernet import Supernet

ScoreFn = Callable[[Supernet, str], torch.Tensor]


@dataclass
class Round:
    round: int
    scores: torch.Tensor
    mask: torch.Tensor
    choice: list[int]                      # argmax architecture after this round
    removed: tuple[int, int] | None = None  # (edge, op)
    removed_score: float = float("nan")


@dataclass
class Pruned:
    choice: list[int]
    rounds: list[Round] = field(default_factory=list)


class OneShot:
    """FreeDARTS (conference): score once, keep the argmax op on every edge."""

    name = "oneshot"

    def __call__(self, net: Supernet, score: ScoreFn, is_discrete) -> Pruned:
        scores = score(net, "")
        choice = argmax_choice(scores, net.mask.cpu())
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

    def __call__(self, net: Supernet, score: ScoreFn, is_discrete) -> Pruned:
        mask = net.mask.cpu()
        total = int(mask.sum()) - mask.shape[0]
        rounds: list[Round] = []
        with tqdm(total=total, desc="pruning", unit="op", leave=False, disable=None) as bar:
            while not is_discrete(net.mask):
                r = len(rounds) + 1
                if self.reinit and r > 1:
                    net.initialise()
                scores = score(net, f" at round {r}")
                mask = net.mask.cpu()
                open_edges = mask.sum(dim=1, keepdim=True) > 1
                candidates = torch.where(mask & open_edges, scores,
                                         torch.full_like(scores, torch.inf))
                flat = int(candidates.flatten().argmin())  # ties: first edge, first op
                edge, op = divmod(flat, scores.shape[1])
                net.remove(edge, op)
                mask_after = net.mask.cpu().clone()
                rounds.append(Round(r, scores, mask_after, argmax_choice(scores, mask_after),
                                    (edge, op), float(scores[edge, op])))
                bar.update(1)
        return Pruned(argmax_choice(torch.zeros(net.mask.shape), net.mask.cpu()), rounds)
