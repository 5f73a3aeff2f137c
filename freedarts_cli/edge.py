"""The mixed edge of a differentiable supernet."""

from __future__ import annotations

from collections.abc import Sequence

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
    still outputs ``α·(0·x)``. The weighted sum and its gradients are one :class:`WeightedSum`.
    """

    def __init__(self, ops: Sequence[nn.Module]):
        super().__init__()
        self.ops = nn.ModuleList(ops)
        # Parameter-free ops (none, skip, pooling) give the same output on every edge that
        # reads the same node, so the cell may share them through ``shared``.
        self.stateless = [not list(op.parameters()) and not list(op.buffers()) for op in ops]
        self.zero = [isinstance(op, Zero) for op in ops]

    def forward(
        self,
        x: torch.Tensor,
        alpha: Sequence[torch.Tensor],
        active: Sequence[int],
        shared: dict | None = None,
    ) -> torch.Tensor:
        kept = [k for k in active if not self.zero[k]]
        if not kept:  # only none left on this edge
            return alpha[active[0]] * self.ops[active[0]](x)
        ys = []
        for k in kept:
            if shared is not None and self.stateless[k]:
                if k not in shared:
                    shared[k] = self.ops[k](x)
                ys.append(shared[k])
            else:
                ys.append(self.ops[k](x))
        return WeightedSum.apply(torch.stack([alpha[k] for k in kept]), *ys)


class WeightedSum(torch.autograd.Function):
    """``Σ_k w_k · y_k`` for scalar weights ``w`` (the mixed edge's raw α), with its gradients
    written out: ``∂/∂y_k = w_k · g`` and ``∂/∂w_k = ⟨g, y_k⟩``.

    Autograd's own ``w_k * y_k`` then ``+`` costs a product, a temporary ``g ⊙ y_k`` and its sum
    per op; here the forward accumulates in place and ∂/∂w_k is one dot product. The backward is
    made of differentiable operations, so GraSP-α's second derivative goes through it.
    """

    @staticmethod
    def forward(ctx, w: torch.Tensor, *ys: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(w, *ys)
        out = ys[0] * w[0]
        for k in range(1, len(ys)):
            out.addcmul_(ys[k], w[k])
        return out

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        w, *ys = ctx.saved_tensors
        flat = g.reshape(-1)
        grad_w = (
            torch.stack([torch.dot(flat, y.reshape(-1)) for y in ys])
            if ctx.needs_input_grad[0]
            else None
        )
        grad_ys = [g * w[k] if ctx.needs_input_grad[k + 1] else None for k in range(len(ys))]
        return (grad_w, *grad_ys)


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
