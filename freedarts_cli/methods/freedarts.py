"""FreeDARTS: score every candidate op on α of the initialised supernet, then prune."""

from __future__ import annotations

import torch

from ..scorer import check_scores
from . import Context, Found


class FreeDARTS:
    """``method=freedarts``: the ``scorer`` (SynFlow-α, SNIP-α, GraSP-α) and the ``pruning``
    rule (one-shot, iterative) come from their own config groups."""

    name = "freedarts"
    spaces = None  # every space

    def __init__(self, scorer, pruning):
        self.scorer, self.pruning = scorer, pruning

    @property
    def needs_data(self) -> bool:
        return self.scorer.needs_data

    @property
    def dtype(self) -> str:
        """The scorer's numerics (``dtype=null``): float64 for SynFlow-α, float32 for the
        loss-gradient scores (see :mod:`freedarts_cli.scorer`)."""
        return self.scorer.dtype

    def search(self, ctx: Context) -> Found:
        space = ctx.space

        def score(net, where: str) -> torch.Tensor:
            scores = self.scorer(net, ctx.batch)
            check_scores(scores, net.mask, space.edges, space.ops, where, net.alpha.dtype)
            return scores

        net = space.build_supernet(ctx.a, ctx.dtype, ctx.device)
        pruned = self.pruning(net, score, space)
        return Found(pruned.choice, self.scorer.name, self.pruning.name, rounds=pruned.rounds)
