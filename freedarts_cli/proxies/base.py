"""The proxy registry and what every proxy shares.

A proxy is one number for a whole, freshly initialised network (higher = better), registered
with ``@proxy(name, ...)`` and called as ``PROXIES[name](net, batch) -> float``; ``net`` returns
logits and has ``input_shape`` ([C, H, W]), ``batch`` is ``None`` for data-agnostic proxies. The
call leaves the network as it found it (weights, buffers, train/eval modes, ``requires_grad``)
and raises :class:`ProxyError` on a non-finite score.

A proxy that reads what another proxy's pass computes as well (the cross-entropy gradients of
snip, grad_norm, plain, fisher and grasp; the features of the AZ-NAS components) declares that
:class:`Pass` (``uses=``) and the parts of it it reads (``reads=``), and its score function
gets the pass's result as a third argument: ``score(net, batch, shared)``. Called alone, it runs
the pass for itself; :func:`.passes.score_all` runs each pass once for all the proxies that
read it.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..data import Batch
from ..errors import UserError


class ProxyError(UserError):
    """A proxy value a search cannot rank by (NaN, +inf, or -inf where -inf means overflow)."""


@dataclass(frozen=True)
class Pass:
    """A computation several proxies share. ``run(net, batch, parts) -> dict`` computes the
    entries named in ``parts`` (and only those: a part nobody asked for costs nothing), in
    scoring mode (:func:`scoring_mode`), with torch's RNG as the caller left it. Each entry
    must be the same whichever other parts are asked for, so that a proxy scored alone and
    scored with others gets the same value."""

    name: str
    run: Callable[[nn.Module, Batch | None, frozenset[str]], dict]


@dataclass(frozen=True)
class Proxy:
    """A registered proxy: ``score(net, batch)`` plus what a search must know to call it.

    ``needs_data``: it reads the batch's images; ``needs_labels``: also their labels.
    ``dtype``: the dtype its network must be built in (``None``: the run's ``dtype``).
    ``floor``: -inf is a legitimate value (a degenerate network, ranked below every other),
    not an overflow. ``uses``/``reads``: the shared :class:`Pass` it reads and which of its
    parts (``score`` then takes the pass's result as a third argument).
    """

    name: str
    needs_data: bool
    score: Callable[..., object]
    dtype: torch.dtype | None = None
    floor: bool = False
    needs_labels: bool = False
    uses: Pass | None = None
    reads: frozenset[str] = frozenset()

    def __call__(self, net: nn.Module, batch: Batch | None = None) -> float:
        self.check_batch(batch)
        with scoring_mode(net):
            if self.uses is None:
                value = self.score(net, batch)
            else:
                value = self.score(net, batch, self.uses.run(net, batch, self.reads))
        return self.checked(value)

    def check_batch(self, batch: Batch | None) -> None:
        if self.needs_data and batch is None:
            raise UserError(
                f"proxy {self.name} needs a batch of images: set data=cifar10 "
                "data.root=PATH (or data=synthetic for random images)"
            )

    def checked(self, value) -> float:
        """The score as a float; :class:`ProxyError` when it is one a search cannot rank by."""
        value = float(value.detach() if isinstance(value, torch.Tensor) else value)
        if math.isnan(value) or value == math.inf or (value == -math.inf and not self.floor):
            raise ProxyError(
                f"proxy {self.name} gave a non-finite score ({value}): use "
                "dtype=float64 or another proxy (method.proxy=...)"
            )
        return value


PROXIES: dict[str, Proxy] = {}


def proxy(
    name: str,
    needs_data: bool,
    needs_labels: bool = False,
    dtype: torch.dtype | None = None,
    floor: bool = False,
    uses: Pass | None = None,
    reads: Sequence[str] = (),
) -> Callable:
    """Register ``score(net, batch)`` (with ``uses``: ``score(net, batch, shared)``) as
    ``PROXIES[name]``; the module name becomes the Proxy. A proxy that reads labels reads
    images too (``needs_labels`` implies ``needs_data``)."""

    def register(score: Callable) -> Proxy:
        if name in PROXIES:
            raise ValueError(f"proxy {name} is registered twice")
        PROXIES[name] = Proxy(
            name,
            needs_data or needs_labels,
            score,
            dtype,
            floor,
            needs_labels,
            uses,
            frozenset(reads),
        )
        return PROXIES[name]

    return register


@contextmanager
def scoring_mode(net: nn.Module) -> Iterator[None]:
    """Train mode and gradients for every parameter during the call; modes, flags and buffers
    (train-mode BN updates its running statistics) are put back afterwards."""
    modes = [(m, m.training) for m in net.modules()]
    flags = [(p, p.requires_grad) for p in net.parameters()]
    buffers = [(b, b.clone()) for b in net.buffers()]
    net.train()
    for p, _ in flags:
        p.requires_grad_(True)
    try:
        yield
    finally:
        for m, mode in modes:
            m.training = mode
        for p, flag in flags:
            p.requires_grad_(flag)
        with torch.no_grad():
            for b, saved in buffers:
                b.copy_(saved)


@contextmanager
def removing(handles: Sequence) -> Iterator[None]:
    """Hooks registered for the duration of a block: every handle is removed on exit, also when
    the forward pass raises (a leftover hook would corrupt the next proxy's pass)."""
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def layers(net: nn.Module) -> list[nn.Module]:
    """The layers parameter-level proxies sum over (the library's ``get_layer_metric_array``)."""
    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def grad(
    output: torch.Tensor,
    inputs: Sequence[torch.Tensor],
    create_graph: bool = False,
    retain_graph: bool | None = None,
) -> list[torch.Tensor]:
    """∂output/∂inputs without touching ``.grad``; an input the output ignores gets zeros."""
    grads = torch.autograd.grad(
        output,
        list(inputs),
        create_graph=create_graph,
        retain_graph=retain_graph,
        allow_unused=True,
    )
    return [torch.zeros_like(t) if g is None else g for t, g in zip(inputs, grads, strict=True)]


def data(net: nn.Module, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    p = next(net.parameters())
    return batch.images.to(p.device, p.dtype), batch.labels.to(p.device)


def loss(net: nn.Module, batch: Batch) -> torch.Tensor:
    x, y = data(net, batch)
    return F.cross_entropy(net(x), y)


@contextmanager
def without_batchnorm(net: nn.Module) -> Iterator[None]:
    """Every BN layer swapped for the identity (the library's ``bn=False`` copy), then back."""
    found = [
        (parent, name, child)
        for parent in net.modules()
        for name, child in parent._modules.items()
        if isinstance(child, _BatchNorm)
    ]
    for parent, name, _ in found:
        parent._modules[name] = nn.Identity()
    try:
        yield
    finally:
        for parent, name, child in found:
            parent._modules[name] = child


@contextmanager
def absolute_float64(net: nn.Module) -> Iterator[nn.Module]:
    """The network with |θ| for every floating tensor, in float64.

    A float64 :class:`~freedarts_cli.supernet.Network` does it in place (``absolute()``, restored
    on exit); any other module is deep-copied, cast and sign-linearised (the library's way).
    """
    p = next(net.parameters())
    if p.dtype == torch.float64 and hasattr(net, "absolute"):
        with net.absolute():
            yield net
        return
    twin = copy.deepcopy(net).double()
    with torch.no_grad():
        for t in twin.state_dict().values():
            if t.is_floating_point():
                t.abs_()
    yield twin
