"""The supernet: weights W plus one architecture tensor α (edges × ops) and its op mask.

A search space subclasses :class:`Supernet` (and :class:`Network` for its discrete networks) and
builds its modules; scorers, pruners and proxies only use what is defined here (α, the mask,
``initialise``, ``absolute``, ``forward``), so they work on every space.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from .alpha import active_ops, draw_alpha


def _default_init(module: nn.Module, name: str, tensor: torch.Tensor) -> tuple[float, float]:
    """PyTorch's default initialisation of one tensor as a uniform range ``(low, high)``.

    Conv/Linear weights: kaiming_uniform(a=√5) = U(±1/√fan_in), biases U(±1/√fan_in);
    BatchNorm: weight 1, bias 0, running mean 0, running var 1.
    """
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        fan_in = module.weight[0].numel()
        bound = 1 / math.sqrt(fan_in)
        return -bound, bound
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        value = 1.0 if name in ("weight", "running_var") else 0.0
        return value, value
    raise TypeError(
        f"no default initialisation known for {type(module).__name__}.{name}: "
        "add it to freedarts_cli.supernet._default_init"
    )


class Network(nn.Module):
    """A network whose floating parameters and buffers are views of one flat tensor.

    After :meth:`materialise`, re-initialising the weights (each round of iterative pruning,
    each sampled architecture of a rival) and taking |W| (SynFlow) are a few tensor operations
    instead of one per layer; the values follow PyTorch's default initialisation.
    """

    input_shape: tuple  # one image, [C, H, W]: the all-ones input of data-agnostic scores

    def materialise(self, dtype: torch.dtype, device: torch.device) -> Network:
        """Move to ``dtype``/``device``, gather the weights into one flat tensor, initialise."""
        slots = []
        for module in self.modules():
            if module is self:
                continue
            for store in (module._parameters, module._buffers):
                for name, t in store.items():
                    if t is None:
                        continue
                    if t.is_floating_point():
                        slots.append((store, name, t, *_default_init(module, name, t)))
                    else:  # e.g. BN's num_batches_tracked: only moves
                        store[name] = t.to(device)
        # the network's own tensors (α of a supernet) are not part of the flat weights
        for store in (self._parameters, self._buffers):
            for name, t in store.items():
                if t is not None:
                    moved = t.detach().to(
                        device=device, dtype=dtype if t.is_floating_point() else t.dtype
                    )
                    store[name] = (
                        nn.Parameter(moved, requires_grad=t.requires_grad)
                        if isinstance(t, nn.Parameter)
                        else moved
                    )
        sizes = [t.numel() for _, _, t, _, _ in slots]
        total = sum(sizes)
        self._flat = torch.empty(total, dtype=dtype, device=device)
        offset = 0
        for (store, name, t, _, _), n in zip(slots, sizes, strict=True):
            view = self._flat[offset : offset + n].view_as(t)
            store[name] = (
                nn.Parameter(view, requires_grad=t.requires_grad)
                if isinstance(t, nn.Parameter)
                else view
            )
            offset += n
        counts = torch.tensor(sizes)
        low = torch.tensor([s[3] for s in slots], dtype=dtype).repeat_interleave(counts)
        high = torch.tensor([s[4] for s in slots], dtype=dtype).repeat_interleave(counts)
        self._low, self._span = low.to(device), (high - low).to(device)
        self._saved = torch.empty_like(self._flat)  # reused by absolute(): no allocation per call
        self._noise = np.empty(total, dtype=np.float64)
        self.initialise()
        return self

    def initialise(self) -> None:
        """Fresh weights W ~ PyTorch's default init."""
        if not hasattr(self, "_flat"):
            raise RuntimeError("call materialise(dtype, device) before initialise()")
        # numpy's PCG64 fills ~4x faster than torch's CPU generator (this runs every round of
        # iterative pruning); its seed comes from torch's stream, so torch.manual_seed decides.
        seed = int(torch.randint(2**62, (1,)))
        np.random.Generator(np.random.PCG64(seed)).random(out=self._noise)
        noise = torch.from_numpy(self._noise).to(self._flat.device, self._flat.dtype)
        with torch.no_grad():
            torch.addcmul(self._low, self._span, noise, out=self._flat)

    @contextmanager
    def absolute(self) -> Iterator[None]:
        """|W| for SynFlow: every floating tensor of the state dict (weights and BN buffers)
        replaced by its absolute value, restored on exit so the network can be reused."""
        self._saved.copy_(self._flat)
        with torch.no_grad():
            self._flat.abs_()
        try:
            yield
        finally:
            with torch.no_grad():
                self._flat.copy_(self._saved)


class Supernet(Network):
    """A :class:`Network` plus the architecture tensor α (edges × ops) and its op mask.

    ``alpha`` is an ``nn.Parameter``, so it is in the state dict (METHOD.md §1) but not in the
    flat weights: it is drawn by :meth:`initialise` after them. ``abs_alpha``: whether SynFlow's
    |·| reaches α (the authors' NB201 code: yes; their DARTS code keeps α out of the state dict,
    so α stays signed there, AUTHORS_CODE.md B7).
    """

    abs_alpha = True
    #: Mix the edge's ops by ``softmax(α)`` over the ops still present, as DARTS does (the
    #: methods that train α, BaLeNAS). FreeDARTS mixes by the raw α (METHOD.md §1, bug B2).
    softmax = False

    def __init__(
        self, edges: Sequence[str], ops: Sequence[str], a: float, input_shape: Sequence[int]
    ):
        super().__init__()
        self.input_shape = tuple(input_shape)
        self.edge_names = list(edges)
        self.op_names = list(ops)
        self.a = a
        self.alpha = nn.Parameter(torch.zeros(len(self.edge_names), len(self.op_names)))
        self.mask = torch.ones(
            len(self.edge_names), len(self.op_names), dtype=torch.bool, device="cpu"
        )
        self.active = active_ops(self.mask)

    def initialise(self) -> None:
        """Fresh weights W ~ PyTorch's default init, then α = a·N(0,1) (drawn after W)."""
        super().initialise()
        draw_alpha(self.alpha, self.a)

    def remove(self, edge: int, op: int) -> None:
        """Prune one candidate op: it leaves the mixed sum of its edge."""
        self.mask[edge, op] = False
        self.active = active_ops(self.mask)

    def alpha_weights(self) -> list[list[torch.Tensor]]:
        """The mixing weights as scalars ``[edge][op]`` (raw α, or ``softmax(α)`` over the ops
        still present when :attr:`softmax`), split once per forward: indexing α at every edge
        of every cell would make backward materialise a full-size gradient per use."""
        weights = self.alpha
        if self.softmax:
            mask = self.mask.to(weights.device)
            weights = weights.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        return [list(row.unbind()) for row in weights.unbind()]

    @contextmanager
    def absolute(self) -> Iterator[None]:
        """|W| and |α| for SynFlow-α: α is in the state dict, so it is made absolute too
        (unless the space says otherwise, ``abs_alpha``)."""
        if not self.abs_alpha:
            with super().absolute():
                yield
            return
        saved = self.alpha.detach().clone()
        with super().absolute():
            with torch.no_grad():
                self.alpha.abs_()
            try:
                yield
            finally:
                with torch.no_grad():
                    self.alpha.copy_(saved)
