"""The supernet: weights W plus one architecture tensor α (edges × ops) and its op mask.

A search space subclasses :class:`Supernet` and builds its cells; scorers and pruners only use
what is defined here (α, the mask, ``initialise``, ``forward``), so they work on every space.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Sequence

import torch
from torch import nn

from .alpha import active_ops, draw_alpha


class Supernet(nn.Module):
    """Base class: ``alpha`` is an ``nn.Parameter`` (so it is in the state dict, METHOD.md §1)."""

    def __init__(self, edges: Sequence[str], ops: Sequence[str], a: float,
                 input_shape: Sequence[int]):
        super().__init__()
        self.input_shape = tuple(input_shape)  # one image, [C, H, W]: SynFlow's ones input
        self.edge_names = list(edges)
        self.op_names = list(ops)
        self.a = a
        self.alpha = nn.Parameter(torch.zeros(len(self.edge_names), len(self.op_names)))
        self.mask = torch.ones(len(self.edge_names), len(self.op_names), dtype=torch.bool,
                               device="cpu")
        self.active = active_ops(self.mask)

    def initialise(self) -> None:
        """Fresh weights (PyTorch's default init, module by module), then α = a·N(0,1)."""
        for module in self.modules():
            if module is not self and hasattr(module, "reset_parameters"):
                module.reset_parameters()
        draw_alpha(self.alpha, self.a)

    def remove(self, edge: int, op: int) -> None:
        """Prune one candidate op: it leaves the mixed sum of its edge."""
        self.mask[edge, op] = False
        self.active = active_ops(self.mask)

    @contextmanager
    def absolute(self) -> Iterator[None]:
        """|W| for SynFlow: every floating tensor of the state dict, α and BN buffers included.

        Restored on exit, so a supernet that is scored again (iterative pruning that keeps its
        first initialisation) sees its original signs.
        """
        # state_dict() tensors share storage with the module's, so in-place ops reach the net.
        tensors = [t for t in self.state_dict().values() if t.is_floating_point()]
        saved = [t.clone() for t in tensors]
        with torch.no_grad():
            for t in tensors:
                t.abs_()
        try:
            yield
        finally:
            with torch.no_grad():
                for t, original in zip(tensors, saved):
                    t.copy_(original)
