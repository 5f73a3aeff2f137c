"""The mixed edge of a differentiable supernet."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .op import Zero


class MixedEdge(nn.Module):
    """One edge holding every candidate op: ``ō(x) = Σ_k α_k · o_k(x)`` over the ops still present.

    The weights are the **raw** α (no softmax), as in the FreeDARTS code: with a softmax the
    gradient becomes ``p·(g − ḡ)`` and ``none`` wins (METHOD.md §1). Pruned ops are skipped, not
    multiplied by zero, so later pruning rounds get cheaper. ``none`` is left out of the sum too:
    its term ``α·(0·x)`` is exactly zero and so is its α-gradient, with or without it (a third of
    the supernet's element-wise work with a batch of images); an edge left with only ``none``
    still outputs ``α·(0·x)``.
    """

    def __init__(self, ops: Sequence[nn.Module]):
        super().__init__()
        self.ops = nn.ModuleList(ops)
        # Parameter-free ops (none, skip, pooling) give the same output on every edge that
        # reads the same node, so the cell may share them through ``shared``.
        self.stateless = [not list(op.parameters()) and not list(op.buffers()) for op in ops]
        self.zero = [isinstance(op, Zero) for op in ops]

    def forward(self, x: torch.Tensor, alpha: Sequence[torch.Tensor], active: Sequence[int],
                shared: dict | None = None) -> torch.Tensor:
        out = None
        for k in active:
            if self.zero[k]:
                continue
            if shared is not None and self.stateless[k]:
                if k not in shared:
                    shared[k] = self.ops[k](x)
                y = shared[k]
            else:
                y = self.ops[k](x)
            term = alpha[k] * y
            out = term if out is None else out + term
        if out is None:  # only none left on this edge
            return alpha[active[0]] * self.ops[active[0]](x)
        return out


def dense_cell(edges: Sequence[MixedEdge], nodes: list, total: int, alpha, active) -> list:
    """A search cell where node i sums every earlier node through its mixed edge, edges in row
    order ``i<-0, i<-1, …`` after the input nodes already in ``nodes`` (NB201: one input).
    Returns all ``total`` nodes. Parameter-free op outputs are computed once per node."""
    shared: list[dict] = [{} for _ in range(total)]
    e = 0
    for i in range(len(nodes), total):
        out = None
        for j in range(i):
            term = edges[e](nodes[j], alpha[e], active[e], shared[j])
            out = term if out is None else out + term
            e += 1
        nodes.append(out)
    return nodes
