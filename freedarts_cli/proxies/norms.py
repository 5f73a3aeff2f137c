"""The two simplest per-layer measures of the zero-cost NAS library (Abdelfattah et al.,
\"Zero-Cost Proxies for Lightweight NAS\", ICLR 2021; mohsaied/zero-cost-nas,
``foresight/pruners/measures/l2_norm.py`` and ``plain.py``), summed over every Conv2d and Linear
layer as the library's ``find_measures`` does (``sum_arr``: the sum of each layer's array)."""

from __future__ import annotations

import torch
from torch import nn

from ..data import Batch
from .base import layers, proxy
from .shared import BATCH


@proxy("l2_norm", needs_data=False)
def l2_norm(net: nn.Module, batch: Batch | None = None):
    """L2 norm (zero-cost NAS library, ``l2_norm``): ``S = Σ_l ‖W_l‖₂`` over the weights of every
    Conv2d and Linear layer, ‖·‖₂ the Frobenius norm of the whole weight tensor (one number per
    layer, then summed; biases and BN parameters are not counted). Data-agnostic: no forward
    pass."""
    with torch.no_grad():
        return sum(layer.weight.norm() for layer in layers(net))


@proxy("plain", needs_data=True, needs_labels=True, uses=BATCH, reads=("ce_grads",))
def plain(net: nn.Module, batch: Batch, shared: dict):
    """Plain (zero-cost NAS library, ``plain``: SNIP's saliency without the absolute value):
    ``S = Σ θ ⊙ ∂L/∂θ`` over the weights of every Conv2d and Linear
    layer, L the mean cross-entropy on one batch, BN in train mode (the library's ``bn=True``).

    The sum is signed, as the library's: a weight tensor followed by a train-mode BN is scale
    invariant (L(αW) = L(W)), so its term is 0 up to rounding and BN's ε; on NAS-Bench-201 the
    score is carried by the classifier and the ResNet blocks' BN-free 1×1 shortcut convs.
    """
    pairs = zip(shared["weights"], shared["ce_grads"], strict=True)
    return sum((w * g.detach()).sum() for w, g in pairs)
