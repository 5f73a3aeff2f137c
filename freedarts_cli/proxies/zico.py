"""ZiCo (Li, Yang, Wang, Marculescu, \"ZiCo: Zero-shot NAS via Inverse Coefficient of Variation on
Gradients\", ICLR 2023): layers whose weight gradients are large *and* consistent across
mini-batches score high."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..data import Batch
from ..errors import UserError
from .base import data, grad, layers, proxy

#: Mini-batches the gradient statistics are taken over. The authors' NB201 code (ZiCo's
#: ``getzico`` with ``--maxbatch 2``; AZ-NAS' and VKDNW's ``compute_zico_score`` with
#: ``batch_iter=2``) uses two training batches; here the one batch is split into two halves.
SPLITS = 2


def inverse_cv_score(per_split: list[list[torch.Tensor]]) -> torch.Tensor:
    """``Σ_l log Σ_{θ ∈ l, σ_θ ≠ 0} mean_b |g_{b,θ}| / σ_θ`` in float64, ``per_split[b][l]`` the
    gradient of layer l's weight on mini-batch b and σ_θ the population standard deviation
    (``np.std``, ddof = 0) over the mini-batches.

    As the authors' ``caculate_zico``: weights whose gradient is the same on every mini-batch
    (σ = 0, e.g. all zero because the loss ignores them) are left out of the layer's sum, and a
    layer whose sum is 0 adds nothing (no log 0), so a network whose loss ignores every weight
    scores 0.
    """
    total = torch.zeros((), dtype=torch.float64, device=per_split[0][0].device)
    for per_layer in zip(*per_split, strict=True):
        g = torch.stack([t.reshape(-1) for t in per_layer]).to(torch.float64)
        std = g.std(dim=0, correction=0)
        keep = std != 0
        ratio = torch.where(keep, g.abs().mean(dim=0) / torch.where(keep, std, 1.0), 0.0)
        s = ratio.sum()
        total = total + torch.where(s > 0, torch.log(torch.where(s > 0, s, 1.0)), 0.0)
    return total


@proxy("zico", needs_data=True, needs_labels=True)
def zico(net: nn.Module, batch: Batch):
    """ZiCo (Li et al., ICLR 2023, the ZiCo score of Sec. 3.3):
    ``S = Σ_l log( Σ_{θ ∈ l} E_b[|∂L_b/∂θ|] / sqrt(Var_b[∂L_b/∂θ]) )`` over the weights of every
    Conv2d and Linear layer, L_b the mean cross-entropy on mini-batch b; see
    :func:`inverse_cv_score` for the reductions and the σ = 0 rule.

    Semantics of the authors' code as AZ-NAS and VKDNW ran it on NAS-Bench-201 (the ZiCo row of
    VKDNW's Table 1): BN in train mode (batch statistics of each mini-batch), one forward and
    backward per mini-batch with the gradients cleared in between, weights only (no biases, no
    BN parameters), mean over |g| and standard deviation over signed g, two mini-batches.

    Deviations: the two mini-batches are the two halves of the one batch given (AZ-NAS/VKDNW:
    two loader batches of 64, i.e. the halves of a 128-image batch); the original ZiCo
    repository's ``getzico`` never clears ``.grad`` between its two batches, so its second
    "sample" is the accumulated g₁ + g₂; here (as in AZ-NAS/VKDNW and the paper's definition)
    each mini-batch's gradient is its own. The network is scored as built (PyTorch's default
    initialisation; VKDNW's NB201 runs had re-initialised it Kaiming-normal before ZiCo).
    """
    x, y = data(net, batch)
    if len(x) < SPLITS:
        raise UserError(f"proxy zico needs a batch of at least {SPLITS} images (data.batch_size)")
    weights = [layer.weight for layer in layers(net)]
    per_split = [
        grad(F.cross_entropy(net(xb), yb), weights)
        for xb, yb in zip(x.tensor_split(SPLITS), y.tensor_split(SPLITS), strict=True)
    ]
    return inverse_cv_score(per_split)
