"""Zero-cost proxies: one number for a whole, freshly initialised network (higher = better).

The rivals of METHOD.md §5 score architectures, not α: zero-cost NAS (Abdelfattah et al.,
"Zero-Cost Proxies for Lightweight NAS", ICLR 2021) sums a per-weight saliency over the weights
of every Conv2d and Linear layer, NASWOT (Mellor et al., "Neural Architecture Search without
Training", ICML 2021) takes the log-determinant of a ReLU-code kernel. Semantics follow the
zero-cost-nas library: BN in train mode (batch statistics) for every proxy except ``synflow``,
which removes BN; cross-entropy with mean reduction; gradients of the weights themselves.

A proxy is called as ``PROXIES[name](net, batch) -> float``; ``net`` returns logits and has
``input_shape`` ([C, H, W]), ``batch`` is ``None`` for data-agnostic proxies. The call leaves
the network as it found it (weights, buffers, train/eval modes, ``requires_grad``) and raises
:class:`ProxyError` on a non-finite score. Register a new proxy with ``@proxy(name, ...)``.

``combined`` (the student report's ``0.6·hook_logdet + 0.4·synflow``) is not a network proxy:
it needs the population of scored architectures, see :func:`combine`.
"""
from __future__ import annotations

import copy
import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from .data import Batch
from .errors import UserError


class ProxyError(UserError):
    """A proxy value a search cannot rank by (NaN, +inf, or -inf where -inf means overflow)."""


@dataclass(frozen=True)
class Proxy:
    """A registered proxy: ``score(net, batch)`` plus what a search must know to call it.

    ``dtype``: the dtype its network must be built in (``None``: the run's ``dtype``).
    ``floor``: -inf is a legitimate value (a degenerate network, ranked below every other),
    not an overflow.
    """

    name: str
    needs_data: bool
    score: Callable[[nn.Module, Optional[Batch]], object]
    dtype: Optional[torch.dtype] = None
    floor: bool = False

    def __call__(self, net: nn.Module, batch: Optional[Batch] = None) -> float:
        if self.needs_data and batch is None:
            raise UserError(f"proxy {self.name} needs a batch of images: set data=cifar10 "
                            "data.root=PATH (or data=synthetic for random images)")
        with _scoring_mode(net):
            value = self.score(net, batch)
        value = float(value.detach() if isinstance(value, torch.Tensor) else value)
        if math.isnan(value) or value == math.inf or (value == -math.inf and not self.floor):
            raise ProxyError(f"proxy {self.name} gave a non-finite score ({value}): use "
                             "dtype=float64 or another proxy (method.proxy=...)")
        return value


PROXIES: dict[str, Proxy] = {}


def proxy(name: str, needs_data: bool, dtype: Optional[torch.dtype] = None,
          floor: bool = False) -> Callable:
    """Register ``score(net, batch)`` as ``PROXIES[name]``; the module name becomes the Proxy."""
    def register(score: Callable) -> Proxy:
        PROXIES[name] = Proxy(name, needs_data, score, dtype, floor)
        return PROXIES[name]
    return register


@contextmanager
def _scoring_mode(net: nn.Module) -> Iterator[None]:
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


def _layers(net: nn.Module) -> list[nn.Module]:
    """The layers parameter-level proxies sum over (the library's ``get_layer_metric_array``)."""
    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _grad(output: torch.Tensor, inputs: Sequence[torch.Tensor],
          create_graph: bool = False) -> list[torch.Tensor]:
    """∂output/∂inputs without touching ``.grad``; an input the output ignores gets zeros."""
    grads = torch.autograd.grad(output, list(inputs), create_graph=create_graph,
                                allow_unused=True)
    return [torch.zeros_like(t) if g is None else g for t, g in zip(inputs, grads)]


def _data(net: nn.Module, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    p = next(net.parameters())
    return batch.images.to(p.device, p.dtype), batch.labels.to(p.device)


def _loss(net: nn.Module, batch: Batch) -> torch.Tensor:
    x, y = _data(net, batch)
    return F.cross_entropy(net(x), y)


@contextmanager
def _without_batchnorm(net: nn.Module) -> Iterator[None]:
    """Every BN layer swapped for the identity (the library's ``bn=False`` copy), then back."""
    found = [(parent, name, child) for parent in net.modules()
             for name, child in parent._modules.items() if isinstance(child, _BatchNorm)]
    for parent, name, _ in found:
        parent._modules[name] = nn.Identity()
    try:
        yield
    finally:
        for parent, name, child in found:
            parent._modules[name] = child


@contextmanager
def _absolute_float64(net: nn.Module) -> Iterator[nn.Module]:
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


@proxy("synflow", needs_data=False, dtype=torch.float64)
def synflow(net: nn.Module, batch: Optional[Batch] = None):
    """SynFlow (Tanaka et al., NeurIPS 2020; as a NAS proxy: Abdelfattah et al. 2021):
    ``S = Σ_{conv, linear weights} |θ ⊙ ∂R/∂θ|`` with ``R = 1ᵀ f(1; |θ|)``.

    Data-agnostic: one all-ones input, every weight replaced by its absolute value, float64 (R
    is a product over ~20 layers and overflows float32), BN removed (identity), as the library's
    ``synflow`` (``bn=False``). Without BN every path's contribution is a product of |θ|, so the
    score is independent of the weights' signs.
    """
    with _absolute_float64(net) as twin, _without_batchnorm(twin):
        p = next(twin.parameters())
        ones = torch.ones((1, *twin.input_shape), dtype=p.dtype, device=p.device)
        weights = [layer.weight for layer in _layers(twin)]
        grads = _grad(twin(ones).sum(), weights)
        return sum((w * g).abs().sum() for w, g in zip(weights, grads))


@proxy("snip", needs_data=True)
def snip(net: nn.Module, batch: Batch):
    """SNIP (Lee et al., ICLR 2019): ``S = Σ |θ ⊙ ∂L/∂θ|`` over conv/linear weights, L the
    cross-entropy on one batch (the library's connection-mask gradient is exactly θ ⊙ ∂L/∂θ)."""
    weights = [layer.weight for layer in _layers(net)]
    grads = _grad(_loss(net, batch), weights)
    return sum((w * g).abs().sum() for w, g in zip(weights, grads))


@proxy("grasp", needs_data=True)
def grasp(net: nn.Module, batch: Batch):
    """GraSP (Wang et al., ICLR 2020), library sign: ``S = Σ −θ ⊙ (H g)`` over conv/linear
    weights, ``g = ∂L/∂θ``, ``H`` the Hessian of L (Hessian-vector product by double
    backward: ``Hg = ∂(gᵀ stop_grad(g))/∂θ``)."""
    weights = [layer.weight for layer in _layers(net)]
    g = _grad(_loss(net, batch), weights, create_graph=True)
    hg = _grad(sum((gi.detach() * gi).sum() for gi in g), weights)
    return sum((-w * h).sum() for w, h in zip(weights, hg))


@proxy("fisher", needs_data=True)
def fisher(net: nn.Module, batch: Batch):
    """Fisher (Theis et al. 2018; Turner et al., BlockSwap, ICLR 2020): per output channel k of
    every conv/linear layer, ``Δ_k = ½ mean_n (Σ_hw a ⊙ ∂L/∂a)²`` with ``a`` the layer's output.

    As the library, which broadcasts Δ_k to every weight of channel k before summing, the score
    is ``Σ_layers Σ_k fan_in · Δ_k``.
    """
    outputs: list[tuple[nn.Module, torch.Tensor]] = []
    hooks = [layer.register_forward_hook(lambda m, i, out: outputs.append((m, out)))
             for layer in _layers(net)]
    try:
        loss = _loss(net, batch)
    finally:
        for h in hooks:
            h.remove()
    grads = _grad(loss, [a for _, a in outputs])
    total = 0.0
    for (layer, a), g in zip(outputs, grads):
        g_nk = (a * g).sum(dim=tuple(range(2, a.dim()))) if a.dim() > 2 else a * g
        total = total + 0.5 * g_nk.pow(2).mean(0).sum() * layer.weight[0].numel()
    return total


@proxy("grad_norm", needs_data=True)
def grad_norm(net: nn.Module, batch: Batch):
    """Gradient norm (Abdelfattah et al. 2021): ``S = Σ_layers ‖∂L/∂θ_layer‖₂`` over
    conv/linear weights."""
    weights = [layer.weight for layer in _layers(net)]
    return sum(g.norm() for g in _grad(_loss(net, batch), weights))


@proxy("jacob_cov", needs_data=True, floor=True)
def jacob_cov(net: nn.Module, batch: Batch):
    """Jacobian covariance (Mellor et al., arXiv v1 of NASWOT, 2020): ``J_n = ∂(Σ f(x_n))/∂x_n``,
    ``Σ_J`` the correlation matrix of the rows of J, eigenvalues λ;
    ``S = −Σ_i (log(λ_i + k) + 1/(λ_i + k))``, ``k = 1e-5``.

    A network whose output ignores its input (every path from the input crosses ``none``) has
    zero Jacobians, whose correlation is undefined: it scores -inf (the lowest), not an error.
    """
    x, _ = _data(net, batch)
    x = x.clone().requires_grad_(True)
    (jac,) = _grad(net(x).sum(), [x])
    jac = jac.reshape(len(jac), -1).to(torch.float64)
    if bool((jac.std(dim=1) == 0).any()):
        return -math.inf
    eig = torch.linalg.eigvalsh(torch.corrcoef(jac))  # symmetric: real eigenvalues
    k = 1e-5
    return -(torch.log(eig + k) + 1.0 / (eig + k)).sum()


def relu_kernel(net: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """NASWOT's ``K_H`` (Mellor et al. 2021, eq. 2) in float64: for every ReLU, the binary code
    ``c`` of each image (``input > 0``, flattened), and ``K[i, j] = Σ_ReLU c_i·c_j +
    (1−c_i)·(1−c_j)``, the number of units on which images i and j agree. The network runs once
    in its current mode (the ``nwot`` proxy runs it in train mode)."""
    n = len(images)
    kernel = torch.zeros(n, n, dtype=torch.float64, device=images.device)

    def count(module, inputs, output):
        # With s = 2c − 1 ∈ {±1}: agreements = (D + s·s')/2, one matmul instead of two. Float32
        # is exact here: every partial sum is an integer below 2^24.
        s = (inputs[0].detach().reshape(n, -1) > 0).to(torch.float32) * 2 - 1
        kernel.add_((s @ s.T + s.shape[1]).to(torch.float64) / 2)

    hooks = [m.register_forward_hook(count) for m in net.modules() if isinstance(m, nn.ReLU)]
    try:
        with torch.no_grad():
            net(images)
    finally:
        for h in hooks:
            h.remove()
    return kernel


@proxy("nwot", needs_data=True, floor=True)
def nwot(net: nn.Module, batch: Batch):
    """NASWOT / ``hook_logdet`` (Mellor et al., ICML 2021): ``S = log |det K_H|`` of
    :func:`relu_kernel` on one batch. A singular K (two images with identical codes at every
    ReLU, e.g. when no ReLU sees the input) gives -inf, the lowest score, as in the paper's code
    (``np.linalg.slogdet``)."""
    x, _ = _data(net, batch)
    return torch.linalg.slogdet(relu_kernel(net, x)).logabsdet


# --- combined: needs the population, so it acts on arrays of raw proxy values -----------------

#: The student report's combined proxy: 0.6·hook_logdet + 0.4·synflow on a common scale.
COMBINED: dict[str, tuple[tuple[str, float], ...]] = {
    "combined": (("nwot", 0.6), ("synflow", 0.4)),
}


def percentile_ranks(values: Sequence[float]) -> np.ndarray:
    """Mid-rank percentiles ``(rank − ½)/n`` in (0, 1): ties share their average rank, -inf
    ranks lowest. Invariant under any increasing transform (log synflow gives the same)."""
    x = np.asarray(values, dtype=np.float64)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    average_rank = np.cumsum(counts) - (counts - 1) / 2  # 1-based, of each distinct value
    return (average_rank[inverse.reshape(-1)] - 0.5) / len(x)


def combine(columns: Sequence[Sequence[float]], weights: Sequence[float]) -> np.ndarray:
    """``Σ_i w_i · percentile_ranks(column_i)``: raw proxy values of the same architectures
    (one column per proxy) put on a common scale, then weighted.

    Ranks rather than z-scores: synflow spans tens of orders of magnitude and is exactly 0 for
    networks whose input never reaches the output, where nwot is -inf; a rank scale needs no
    log, is unaffected by those extremes, and matches the report's criterion (Spearman ρ, which
    picked α = 0.6). The scale is relative to the architectures given, so a search recomputes it
    over every architecture it has scored so far.
    """
    cols = [np.asarray(c, dtype=np.float64) for c in columns]
    return sum(w * percentile_ranks(c) for c, w in zip(cols, weights))


def resolve(name: str) -> tuple[list[Proxy], Optional[list[float]]]:
    """The network proxies behind ``method.proxy=name`` and, for a combination, their weights
    (``None`` for a single proxy, whose raw value is its score)."""
    if name in PROXIES:
        return [PROXIES[name]], None
    if name in COMBINED:
        return [PROXIES[p] for p, _ in COMBINED[name]], [w for _, w in COMBINED[name]]
    raise UserError(f"method.proxy={name} is not known: use one of "
                    f"{', '.join([*PROXIES, *COMBINED])}")
