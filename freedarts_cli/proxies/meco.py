"""MeCo (Jiang et al., \"MeCo: Zero-Shot NAS with One Data and Minimum Eigenvalue of
Correlation\", NeurIPS 2023): the sum over layers of the smallest eigenvalue of the channel
correlation matrix of each layer's feature map, for one input."""

from __future__ import annotations

import torch
from torch import nn

from ..data import Batch
from .base import proxy, removing


def min_correlation_eigenvalue(feature: torch.Tensor) -> torch.Tensor:
    """MeCo's per-layer term for one sample's feature map ``[C, ...]``: the smallest eigenvalue
    of the C×C Pearson correlation matrix of its channels (each channel's H·W values are the
    observations), entries that are NaN or ±inf (a constant channel) set to 0, in float64."""
    fea = feature.detach().reshape(feature.shape[0], -1).to(torch.float64)
    corr = torch.corrcoef(fea).reshape(fea.shape[0], fea.shape[0])
    corr = torch.where(torch.isfinite(corr), corr, torch.zeros_like(corr))
    return torch.linalg.eigvalsh(corr).min()


def meco_terms(net: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """One forward pass of ``x`` (in the network's current mode, no gradients) with a hook on
    **every** module, the network itself included, as the authors' ``get_score``: each module's
    output ``out`` gives ``min_correlation_eigenvalue(out[0])``, the first sample's map.

    Outputs that are not tensors, or whose first sample is not at least 2-D (``[N, D]`` logits,
    pooled vectors), are skipped: with one observation per channel their correlation is all NaN,
    set to 0, whose eigenvalue the authors add as an exact 0. A module reached twice adds two
    terms, and a wrapper whose output is its child's counts that map again, as in the authors'
    code (so the value depends on how a space nests its modules)."""
    terms: list[torch.Tensor] = []

    def hook(module, inputs, output):
        if isinstance(output, torch.Tensor) and output.dim() >= 3:
            terms.append(min_correlation_eigenvalue(output[0]))

    with removing([m.register_forward_hook(hook) for m in net.modules()]), torch.no_grad():
        net(x)
    return terms


@proxy("meco", needs_data=False)
def meco(net: nn.Module, batch: Batch | None = None):
    """MeCo (Jiang et al., NeurIPS 2023; the paper's MeCo score, equation number not
    checked here): ``S = Σ_layers λ_min(P(f_l(x)))``, ``P`` the
    channel correlation matrix of layer l's feature map for one input (:func:`meco_terms`);
    terms that are NaN or ±inf are dropped, as the authors' code drops them.

    As the authors' NAS-Bench-201 script (``correlation/NAS_Bench_201.py``, default
    ``--measure meco``, not the channel-sub-sampling ``meco_opt``): batch size 1, the network's
    own initialisation (``--init_w_type none``), train mode (BN normalises the single image over
    its H×W positions), every module hooked.

    The authors feed one real training image; this registered variant is data-agnostic (the
    proxy study counts MeCo among them): the one input is drawn from N(0, 1) with
    ``net.input_shape`` (torch's global RNG), as the authors' own random-input variant
    (``foresight/pruners/measures/meco.py`` draws ``torch.randn``). Deviations: correlation and
    eigenvalues in float64 with ``eigvalsh`` (the matrix is symmetric; the authors' float32
    ``torch.linalg.eig`` real parts agree to rounding).
    """
    p = next(net.parameters())
    x = torch.randn((1, *net.input_shape), dtype=p.dtype, device=p.device)
    terms = meco_terms(net, x)
    if not terms:
        return 0.0
    values = torch.stack(terms)
    return values[torch.isfinite(values)].sum()
