"""The mixed edge of a differentiable supernet."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


class MixedEdge(nn.Module):
    """One edge holding every candidate op: ``ō(x) = Σ_k α_k · o_k(x)`` over the ops still present.

    The weights are the **raw** α (no softmax), as in the FreeDARTS code: with a softmax the
    gradient becomes ``p·(g − ḡ)`` and ``none`` wins (METHOD.md §1). Pruned ops are skipped, not
    multiplied by zero, so later pruning rounds get cheaper.
    """

    def __init__(self, ops: Sequence[nn.Module]):
        super().__init__()
        self.ops = nn.ModuleList(ops)
        # Parameter-free ops (none, skip, pooling) give the same output on every edge that
        # reads the same node, so the cell may share them through ``shared``.
        self.stateless = [not list(op.parameters()) and not list(op.buffers()) for op in ops]

    def forward(self, x: torch.Tensor, alpha: Sequence[torch.Tensor], active: Sequence[int],
                shared: dict | None = None) -> torch.Tensor:
        out = None
        for k in active:
            if shared is not None and self.stateless[k]:
                if k not in shared:
                    shared[k] = self.ops[k](x)
                y = shared[k]
            else:
                y = self.ops[k](x)
            term = alpha[k] * y
            out = term if out is None else out + term
        return out
