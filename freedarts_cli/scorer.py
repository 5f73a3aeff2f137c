"""Scores on α: pruning-at-initialisation saliencies of every candidate op (METHOD.md §1).

A scorer is called as ``scorer(supernet, batch) -> scores`` where ``scores`` has α's shape
(edges × ops), NaN where an op was already pruned, and higher means "keep". ``batch`` is ``None``
for data-agnostic scorers. Only ∂/∂α is needed, so weight gradients are never computed.

Each scorer declares the numerics it needs (``dtype``, used when the run says ``dtype=null``):
SynFlow-α's R is a product over the 15 cells of terms of order ``a``, which under- or overflows
float32 (METHOD.md §1), so it runs in float64. SNIP-α, ZEROS-L and GraSP-α are gradients of a
cross-entropy of order 1: float32 picks the same architectures as float64 on seeds 0–9 of real
CIFAR-10 (``docs/numerics.md``) at a third of the cost, so they run in float32. The authors'
GraSP-α (``grasp_authors``) runs in float32 as their code did; its Hessian product at the stepped
α is more sensitive to rounding: float64 picks another op on one edge in 3 of those 10 seeds
(``docs/reproduction.md``, Conference Table 2).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F

from .data import Batch
from .errors import UserError
from .supernet import Supernet


class ScoreError(UserError):
    """A score the argmax cannot be trusted with (non-finite, or all zero on an edge)."""


@contextmanager
def alpha_only_gradients(net: Supernet) -> Iterator[None]:
    """Train-mode BN (batch statistics, METHOD.md §1) and gradients for α alone."""
    flags = [(p, p.requires_grad) for p in net.parameters()]
    was_training = net.training
    for p, _ in flags:
        p.requires_grad_(p is net.alpha)
    net.train()
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
        net.train(was_training)


def _masked(net: Supernet, score: torch.Tensor) -> torch.Tensor:
    score = score.detach().to("cpu", torch.float64)
    return torch.where(net.mask.cpu(), score, torch.full_like(score, float("nan")))


class SynFlow:
    """SynFlow-α (ZEROS-D): ``S = |α ⊙ ∂R/∂α|``, ``R = Σ f(1; |W|, |α|)`` (FreeDARTS eq. SynFlow).

    Data-agnostic: the input is one all-ones image. Every floating tensor of the state dict is
    replaced by its absolute value for the pass (weights, BN buffers and α), then restored.
    """

    name = "synflow"
    needs_data = False
    dtype = "float64"

    def __call__(self, net: Supernet, batch: Batch | None = None) -> torch.Tensor:
        shape = (1,) + tuple(net.input_shape)
        with alpha_only_gradients(net), net.absolute():
            ones = torch.ones(shape, dtype=net.alpha.dtype, device=net.alpha.device)
            (grad,) = torch.autograd.grad(net(ones).sum(), net.alpha)
            return _masked(net, (net.alpha * grad).abs())


class Snip:
    """SNIP-α (ZEROS): ``S = |α ⊙ ∂L/∂α|`` with ``L`` the cross-entropy on one batch.

    ``random_labels=True`` is ZEROS-L: the same images with labels drawn uniformly at random
    (drawn by the data unit from the run's seed, so they are reproducible).
    """

    needs_data = True
    dtype = "float32"

    def __init__(self, random_labels: bool = False):
        self.random_labels = random_labels
        self.name = "snip_random_labels" if random_labels else "snip"

    def __call__(self, net: Supernet, batch: Batch | None) -> torch.Tensor:
        x, y = _labelled(batch, self.random_labels)
        with alpha_only_gradients(net):
            (grad,) = torch.autograd.grad(F.cross_entropy(net(x), y), net.alpha)
            return _masked(net, (net.alpha * grad).abs())


class GraSP:
    """GraSP-α, textbook form: ``S = −(H g) ⊙ α`` with ``g = ∂L/∂α`` and ``H`` the Hessian
    of ``L`` in α (Hessian-vector product by double backward; no optimizer step).

    The authors' NB201 variant (an Adam step first, row 0 of g as the vector, signed
    ``α0 ⊙ Hṽ``; AUTHORS_CODE.md §1.7, bugs B4/B5) is :class:`GraSPAuthors`
    (``scorer=grasp_authors``); this one stays the textbook score.
    """

    name = "grasp"
    needs_data = True
    dtype = "float32"

    def __call__(self, net: Supernet, batch: Batch | None) -> torch.Tensor:
        x, y = _labelled(batch, False)
        with alpha_only_gradients(net):
            (g,) = torch.autograd.grad(F.cross_entropy(net(x), y), net.alpha, create_graph=True)
            (hg,) = torch.autograd.grad((g * g.detach()).sum(), net.alpha)
            return _masked(net, -(hg * net.alpha))


class GraSPAuthors:
    """GraSP-α as the authors' NB201 notebook computes it (AUTHORS_CODE.md §1.7, bugs B4/B5),
    behind ``scorer=grasp_authors``; ``scorer=grasp`` stays the textbook ``−(H g) ⊙ α``.

    1. ``g = ∂L/∂α`` at ``α0`` (cross-entropy on the batch, train-mode BN);
    2. one step of their α optimizer, Adam(lr 0.03, betas (0.5, 0.999), L2 weight decay 1e-3)
       on ``g`` (B5): ``α1 = α0 − lr·d/(|d| + eps)`` with ``d = g + wd·α0`` (:meth:`adam_step`);
    3. at ``α1`` on the same batch, ``G = ∂L/∂α`` and ``Hṽ = ∂(Σ G ⊙ ṽ)/∂α`` with
       ``ṽ[e, k] = g[0, k]``: row 0 of ``g`` on every edge (their ``zip`` over a 2-D tensor, B4);
    4. ``S = α0 ⊙ Hṽ``: signed, no minus sign, no abs, so ``none`` (exactly 0) wins an edge
       whose other ops all score below 0.

    The supernet's α is ``α0`` again when the call returns.
    """

    name = "grasp_authors"
    needs_data = True
    dtype = "float32"

    def __init__(
        self, lr: float = 0.03, betas=(0.5, 0.999), weight_decay: float = 1e-3, eps: float = 1e-8
    ):
        self.lr, self.weight_decay, self.eps = float(lr), float(weight_decay), float(eps)
        self.betas = tuple(float(b) for b in betas)
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise UserError(f"scorer.betas={list(betas)} must be two numbers in [0, 1)")

    def adam_step(self, alpha: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        """α after the first ``torch.optim.Adam`` step (its operations, L2 weight decay): the
        bias-corrected moments are ``d`` and ``d²``, so the betas cancel."""
        (b1, b2), d = self.betas, grad + self.weight_decay * alpha
        m, v = (1 - b1) * d, (1 - b2) * d * d
        return alpha - self.lr / (1 - b1) * m / (v.sqrt() / math.sqrt(1 - b2) + self.eps)

    def __call__(self, net: Supernet, batch: Batch | None) -> torch.Tensor:
        x, y = _labelled(batch, False)
        alpha0 = net.alpha.detach().clone()
        with alpha_only_gradients(net):
            try:
                (g,) = torch.autograd.grad(F.cross_entropy(net(x), y), net.alpha)
                with torch.no_grad():
                    net.alpha.copy_(self.adam_step(alpha0, g))
                (grad1,) = torch.autograd.grad(
                    F.cross_entropy(net(x), y), net.alpha, create_graph=True
                )
                (hv,) = torch.autograd.grad((grad1 * g[0]).sum(), net.alpha)
            finally:
                with torch.no_grad():
                    net.alpha.copy_(alpha0)
            return _masked(net, alpha0 * hv)


def _labelled(batch: Batch | None, random_labels: bool):
    if batch is None:
        raise UserError(
            "this scorer needs a batch of images: set data=cifar10 data.root=PATH "
            "(or data=synthetic for random images)"
        )
    return batch.images, (batch.random_labels if random_labels else batch.labels)


#: Ops that score exactly 0 by construction (``none`` adds ``0 · x``): a 0 there is no underflow.
ZERO_OPS = ("none",)


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def check_scores(
    scores: torch.Tensor,
    mask: torch.Tensor,
    edges: list,
    ops: list,
    where: str = "",
    dtype: torch.dtype | None = None,
) -> None:
    """Refuse scores an argmax cannot be trusted with (a :class:`ScoreError`, exit 2):

    * a non-finite score (overflow, or NaN gradients);
    * an edge whose remaining ops all score exactly zero (argmax silently returns ``none``);
    * underflow: a score that is subnormal in ``dtype``, the dtype the supernet computed in
      (``0 < |s| < torch.finfo(dtype).tiny``: it keeps only a few bits of mantissa, so the
      ranking is decided on rounding), or exactly 0 on an op that cannot score 0 (every op but
      ``none``) while other scores are not. Scorers return float64 copies, so pass the
      supernet's dtype; ``None`` checks against ``scores.dtype``.

    Only the ops still present (``mask``) are checked: they are the scores the decision
    compares. The defaults (float64 SynFlow-α, float32 SNIP-α/GraSP-α, ``a=1e-3``) keep every
    score many orders of magnitude above ``tiny`` on NB201, DARTS and MobileNet; float32 GraSP-α
    on NB-1Shot1 sits near ``tiny`` (scores ~1e-38) and some seeds underflow there: float32 and
    float64 then pick different cells, which is exactly what this check refuses."""
    hint = "try dtype=float64 or another a (e.g. a=1e-3)"
    dtype = scores.dtype if dtype is None else dtype
    for e, edge in enumerate(edges):
        row = scores[e][mask[e].cpu()]
        bad = ~torch.isfinite(row)
        if bad.any():
            op = [o for o, keep in zip(ops, mask[e].tolist(), strict=True) if keep][
                int(bad.nonzero()[0])
            ]
            raise ScoreError(
                f"non-finite score {row[bad][0].item()} on edge {edge} (op {op}){where}: {hint}"
            )
        if bool((row == 0).all()):
            raise ScoreError(
                f"every score on edge {edge} is exactly zero{where} (underflow): {hint}"
            )
    if not dtype.is_floating_point:
        return
    present = mask.cpu().bool()
    tiny = torch.finfo(dtype).tiny
    scores = scores.detach().cpu()
    magnitude = scores.abs()
    subnormal = present & (magnitude > 0) & (magnitude < tiny)
    can_be_zero = torch.tensor([op in ZERO_OPS for op in ops])
    zero = present & (scores == 0) & ~can_be_zero
    if not (subnormal.any() or zero.any()):
        return
    flagged = subnormal | zero
    rows = [edges[e] for e in range(len(edges)) if bool(flagged[e].any())]
    named = ", ".join(rows[:6]) + (f" and {len(rows) - 6} more" if len(rows) > 6 else "")
    counts, total = [], f" of {int(present.sum())}"
    for flags, what in (
        (subnormal, f"subnormal (below {tiny:.3g}: only a few bits of mantissa)"),
        (zero, "exactly 0 on ops that cannot score 0"),
    ):
        if flags.any():
            n = int(flags.sum())
            counts.append(f"{n}{total} {'is' if n == 1 else 'are'} {what}")
            total = ""
    fix = "use a larger a" if dtype == torch.float64 else "use dtype=float64 (same a) or a larger a"
    raise ScoreError(
        f"scores{where} underflowed in {_dtype_name(dtype)}: {' and '.join(counts)}, "
        f"on edge{'s' if len(rows) > 1 else ''} {named}; their argmax would be "
        f"decided by rounding, not by the network: {fix}"
    )
