"""The random baseline: one uniformly random architecture, nothing scored."""

from __future__ import annotations

import torch

from . import Context, Found


class Random:
    """``method=random``: one architecture drawn uniformly (a ``torch.Generator`` seeded by
    ``seed``), the published "random" row of NAS-Bench-201 tables (METHOD.md §5)."""

    name = "random"
    dtype = "float64"  # nothing is computed
    spaces = ("nb201",)  # the spaces it is implemented for (the runner checks)
    needs_data = False

    def search(self, ctx: Context) -> Found:
        generator = torch.Generator().manual_seed(ctx.seed)
        return Found(ctx.space.sample(generator), scorer="none", pruning="random")
