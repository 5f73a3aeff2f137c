"""Saliency proxies of zero-cost NAS (Abdelfattah et al., \"Zero-Cost Proxies for Lightweight NAS\",
ICLR 2021): a per-weight saliency summed over the weights of every Conv2d and Linear layer.
Semantics follow the zero-cost-nas library: BN in train mode (batch statistics) for every proxy
except ``synflow``, which removes BN; cross-entropy with mean reduction; gradients of the
weights themselves. snip, grasp, fisher and grad_norm read one shared pass of the batch
(:data:`.shared.BATCH`): scored together, they share its forward and backward."""

from __future__ import annotations

import torch
from torch import nn

from ..data import Batch
from .base import absolute_float64, grad, layers, proxy, without_batchnorm
from .shared import BATCH


@proxy("synflow", needs_data=False, dtype=torch.float64)
def synflow(net: nn.Module, batch: Batch | None = None):
    """SynFlow (Tanaka et al., NeurIPS 2020; as a NAS proxy: Abdelfattah et al. 2021):
    ``S = Σ_{conv, linear weights} |θ ⊙ ∂R/∂θ|`` with ``R = 1ᵀ f(1; |θ|)``.

    Data-agnostic: one all-ones input, every weight replaced by its absolute value, float64 (R
    is a product over ~20 layers and overflows float32), BN removed (identity), as the library's
    ``synflow`` (``bn=False``). Without BN every path's contribution is a product of |θ|, so the
    score is independent of the weights' signs.
    """
    with absolute_float64(net) as twin, without_batchnorm(twin):
        p = next(twin.parameters())
        ones = torch.ones((1, *twin.input_shape), dtype=p.dtype, device=p.device)
        weights = [layer.weight for layer in layers(twin)]
        grads = grad(twin(ones).sum(), weights)
        return sum((w * g).abs().sum() for w, g in zip(weights, grads, strict=True))


@proxy("snip", needs_data=True, needs_labels=True, uses=BATCH, reads=("ce_grads",))
def snip(net: nn.Module, batch: Batch, shared: dict):
    """SNIP (Lee et al., ICLR 2019): ``S = Σ |θ ⊙ ∂L/∂θ|`` over conv/linear weights, L the
    cross-entropy on one batch (the library's connection-mask gradient is exactly θ ⊙ ∂L/∂θ)."""
    pairs = zip(shared["weights"], shared["ce_grads"], strict=True)
    return sum((w * g.detach()).abs().sum() for w, g in pairs)


@proxy("grasp", needs_data=True, needs_labels=True, uses=BATCH, reads=("ce_graph",))
def grasp(net: nn.Module, batch: Batch, shared: dict):
    """GraSP (Wang et al., ICLR 2020), library sign: ``S = Σ −θ ⊙ (H g)`` over conv/linear
    weights, ``g = ∂L/∂θ``, ``H`` the Hessian of L (Hessian-vector product by double
    backward: ``Hg = ∂(gᵀ stopgrad(g))/∂θ``; ``g`` is the shared pass's, kept differentiable)."""
    weights, g = shared["weights"], shared["ce_grads"]
    hg = grad(sum((gi.detach() * gi).sum() for gi in g), weights)
    return sum((-w * h).sum() for w, h in zip(weights, hg, strict=True))


@proxy("fisher", needs_data=True, needs_labels=True, uses=BATCH, reads=("layer_outputs",))
def fisher(net: nn.Module, batch: Batch, shared: dict):
    """Fisher (Theis et al. 2018; Turner et al., BlockSwap, ICLR 2020): per output channel k of
    every conv/linear layer, ``Δ_k = ½ mean_n (Σ_hw a ⊙ ∂L/∂a)²`` with ``a`` the layer's output.

    As the library, which broadcasts Δ_k to every weight of channel k before summing, the score
    is ``Σ_layers Σ_k fan_in · Δ_k``.
    """
    total = 0.0
    for layer, a, g in shared["layer_outputs"]:
        g = g.detach()
        g_nk = (a * g).sum(dim=tuple(range(2, a.dim()))) if a.dim() > 2 else a * g
        total = total + 0.5 * g_nk.pow(2).mean(0).sum() * layer.weight[0].numel()
    return total


@proxy("grad_norm", needs_data=True, needs_labels=True, uses=BATCH, reads=("ce_grads",))
def grad_norm(net: nn.Module, batch: Batch, shared: dict):
    """Gradient norm (Abdelfattah et al. 2021): ``S = Σ_layers ‖∂L/∂θ_layer‖₂`` over
    conv/linear weights."""
    return sum(g.detach().norm() for g in shared["ce_grads"])
