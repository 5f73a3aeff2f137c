"""AZ-NAS (Lee & Ham, \"AZ-NAS: Assembling Zero-Cost Proxies for Network Architecture Search\",
CVPR 2024): four proxies, each registered on its own, and their rank aggregate ``az_nas``.

Semantics are those of the authors' NAS-Bench-201 code (github cvlab-yonsei/AZ-NAS,
``NB201/ZeroShotProxy/compute_az_nas_score.py``, called by ``NB201/tss_general.ipynb``), which
VKDNW (Tybl & Neumann, CVPR 2025) reran unchanged for its Table 1:

* The weights are re-initialised first (the score function's own ``init_model(model,
  'kaiming_norm_fanin')``): :func:`kaiming_reinit`, undone afterwards.
* The input is a batch of 64 standard-Gaussian images (``az_nas`` is not among the notebook's
  ``real_input_metrics``, so ``trainloader=None``; batch size 64 from
  ``configs/nas-benchmark/algos/weight-sharing.config``). No component reads real images or
  labels, trainability included: its backward signals are random ±1 vectors, not a loss.
* BN in train mode (batch statistics): the notebook calls ``network.train()``.
* The feature maps are the model's ``extract_cell_features``: the stem's output and the output
  of every cell (on NB201: 15 cells and the 2 ResNet reduction blocks, 18 maps). Here the same
  maps are read with hooks (:func:`block_features`), generically: the input of the first block
  and the output of every block of the network's block list (its longest top-level
  ``nn.ModuleList``: NB201's and DARTS' ``cells``, MobileNet's ``blocks``).
* Complexity is FLOPs (the notebook takes them from the NATS-Bench API).

Deliberate deviations: a component scored alone draws its own re-initialisation and input (the
authors compute the three from one; scored together with :func:`.shared.score_all`, they share
one, :data:`FEATURES`, as the authors'), the feature covariance and its eigenvalues in float64
(the authors: the network's float32), the ``retain_graph`` of the pairwise backward passes kept
(the authors free each block's graph as they go; the values are the same).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data import Batch
from ..errors import UserError
from . import aggregate, log_rank_sum
from .base import Pass, proxy, removing
from .baselines import FLOPS

#: Images per score: NB201 ``weight-sharing.config`` ``batch_size`` (the notebook's loader).
BATCH = 64
#: ``log(p + EPS)`` in the expressivity entropy (the authors' ``1e-8``).
EPS = 1e-8
#: ``1/(σ + SIGMA_EPS)`` in the trainability term (the authors' ``1e-6``).
SIGMA_EPS = 1e-6


@contextmanager
def kaiming_reinit(net: nn.Module) -> Iterator[nn.Module]:
    """The authors' ``init_model(model, 'kaiming_norm_fanin')`` (AZ-NAS and VKDNW alike), undone
    on exit: every ``nn.Conv2d``/``nn.Linear`` weight drawn from ``N(0, 2/fan_in)``
    (``kaiming_normal_(mode='fan_in', nonlinearity='relu')``, torch's global RNG, in module
    order) and its bias zeroed; every affine ``BatchNorm2d``/``GroupNorm`` weight 1, bias 0."""
    params = list(net.parameters())
    saved = [p.detach().clone() for p in params]
    try:
        with torch.no_grad():
            for m in net.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)
                elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.weight is not None:
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)
        yield net
    finally:
        with torch.no_grad():
            for p, value in zip(params, saved, strict=True):
                p.copy_(value)


def gaussian_input(net: nn.Module, n: int | None = None) -> torch.Tensor:
    """``n`` (default :data:`BATCH`) standard-Gaussian images of ``net.input_shape`` (torch's
    global RNG)."""
    p = next(net.parameters())
    return torch.randn(
        (BATCH if n is None else n, *net.input_shape), dtype=p.dtype, device=p.device
    )


def blocks(net: nn.Module) -> nn.ModuleList:
    """The network's block list: its longest ``nn.ModuleList`` child."""
    lists = [m for m in net.children() if isinstance(m, nn.ModuleList) and len(m)]
    if not lists:
        raise UserError(
            f"AZ-NAS needs a network whose blocks are an nn.ModuleList "
            f"({type(net).__name__} has none)"
        )
    return max(lists, key=len)


def block_features(net: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """One forward pass of ``x`` (the network's current mode and grad mode): the input of the
    first block (the stem's output; its last tensor argument, which for a DARTS cell
    ``(s0, s1)`` is ``s1``) followed by the output of every block, in order."""
    seq = blocks(net)
    features: list[torch.Tensor] = []

    def first_input(module, args):
        features.append([a for a in args if isinstance(a, torch.Tensor)][-1])

    def output(module, args, out):
        features.append(out)

    with removing(
        [
            seq[0].register_forward_pre_hook(first_input),
            *(b.register_forward_hook(output) for b in seq),
        ]
    ):
        net(x)
    return features


def feature_entropy(feature: torch.Tensor) -> torch.Tensor:
    """The expressivity of one map (AZ-NAS' per-block term of s_E): each spatial position of
    each image is a sample of a ``C``-vector, ``Σ = Xᶜᵀ Xᶜ / (B·H·W)`` its covariance
    (centred, biased), ``p = λ(Σ) / Σλ``, ``−Σ p log(p + 1e-8)``. Float64. NaN when the map is
    constant (Σ = 0)."""
    f = feature.detach().to(torch.float64)
    f = f.reshape(f.shape[0], f.shape[1], -1).permute(0, 2, 1).reshape(-1, f.shape[1])
    f = f - f.mean(dim=0, keepdim=True)
    eig = torch.linalg.eigvalsh(f.T @ f / f.shape[0])
    p = eig / eig.sum()
    return -(p * torch.log(p + EPS)).sum()


def _nan_to_floor(value: float) -> float:
    return -math.inf if math.isnan(value) else value


def block_trainability(f_in: torch.Tensor, f_out: torch.Tensor, g_out: torch.Tensor) -> float:
    """AZ-NAS' trainability term of one block (the authors' estimator of its s_T term):
    ``g_in = (∂f_out/∂f_in)ᵀ g_out`` for the random ±1 signal ``g_out``; a block whose ``g_in``
    equals ``g_out`` (the identity) gives -inf. Else, a stride-s block's ``g_in`` is
    pixel-unshuffled by s to ``g_out``'s resolution, ``M = Σ_positions g_in g_outᵀ / (B·H·W)``
    (``C_in·s² × C_out``), σ its largest singular value (exact ``svdvals``, no power
    iteration) and the term is ``−σ − 1/(σ + 1e-6) + 2`` (0 at σ = 1, the best)."""
    (g_in,) = torch.autograd.grad(
        f_out, f_in, grad_outputs=g_out, retain_graph=True, allow_unused=True
    )
    if g_in is None:
        g_in = torch.zeros_like(f_in)
    if g_in.shape == g_out.shape and bool(torch.equal(g_in, g_out)):
        return -math.inf
    if g_in.dim() == 4 and g_in.shape[2:] != g_out.shape[2:]:
        g_in = F.pixel_unshuffle(g_in, g_in.shape[2] // g_out.shape[2])

    def rows(g):
        return g.reshape(g.shape[0], g.shape[1], -1).permute(0, 2, 1).reshape(-1, g.shape[1])

    gi, go = rows(g_in).to(torch.float64), rows(g_out).to(torch.float64)
    sigma = float(torch.linalg.svdvals(gi.T @ go / go.shape[0]).max())
    return -sigma - 1.0 / (sigma + SIGMA_EPS) + 2.0


def _features_pass(net: nn.Module, batch: Batch | None, parts: frozenset[str]) -> dict:
    """:data:`FEATURES`: after :func:`kaiming_reinit` (undone on exit), 64 Gaussian images
    (:func:`gaussian_input`) through the network once (:func:`block_features`); ``entropies``:
    each feature map's :func:`feature_entropy`; ``trainability``: the
    :func:`block_trainability` terms, pairs from the last block back, each drawing its ±1
    signal (``torch.bernoulli(0.5)``) in that order right after the forward, as the authors.

    One re-initialisation and one input serve every component, as in the authors' code: from
    the same RNG state, each component scored alone draws exactly these."""
    with kaiming_reinit(net):
        x = gaussian_input(net)
        result: dict = {}
        with torch.set_grad_enabled("trainability" in parts):
            features = block_features(net, x)
        if "entropies" in parts:
            with torch.no_grad():
                result["entropies"] = [float(feature_entropy(f)) for f in features]
        if "trainability" in parts:
            terms = []
            for i in reversed(range(1, len(features))):
                f_out = features[i]
                g_out = torch.bernoulli(torch.full_like(f_out, 0.5)) * 2 - 1
                terms.append(block_trainability(features[i - 1], f_out, g_out))
            result["trainability"] = terms
    return result


#: AZ-NAS's block features of one Gaussian batch, shared by its three network components.
FEATURES = Pass("az_features", _features_pass)


@proxy("az_expressivity", needs_data=False, floor=True, uses=FEATURES, reads=("entropies",))
def az_expressivity(net: nn.Module, batch: Batch | None, shared: dict):
    """AZ-NAS expressivity (Lee & Ham, CVPR 2024, s_E): ``s_E = Σ_l H_l``, H_l the
    :func:`feature_entropy` of the l-th of the :func:`block_features` (stem output and every
    block's output), for 64 Gaussian images after the authors' Kaiming re-initialisation, BN in
    train mode (:data:`FEATURES`). -inf (the lowest, as the authors' NaN → -inf) when a map is
    constant: a block none of whose paths reaches its input, which zeroes every later map too."""
    return _nan_to_floor(float(np.sum(shared["entropies"])))


@proxy("az_progressivity", needs_data=False, floor=True, uses=FEATURES, reads=("entropies",))
def az_progressivity(net: nn.Module, batch: Batch | None, shared: dict):
    """AZ-NAS progressivity (s_P): ``s_P = min_l (H_l − H_{l−1})`` over consecutive
    :func:`block_features`' entropies, the same as :func:`az_expressivity` reads
    (:data:`FEATURES`). -inf when an entropy is undefined (a constant map)."""
    h = np.array(shared["entropies"])
    return _nan_to_floor(float(np.min(h[1:] - h[:-1])))


@proxy("az_trainability", needs_data=False, floor=True, uses=FEATURES, reads=("trainability",))
def az_trainability(net: nn.Module, batch: Batch | None, shared: dict):
    """AZ-NAS trainability (s_T): the mean over consecutive pairs of
    :func:`block_features` of :func:`block_trainability`, the pairs taken from the last block
    back (the authors' order of drawing the ±1 signals, ``torch.bernoulli(0.5)``), for 64
    Gaussian images after the authors' Kaiming re-initialisation, BN in train mode
    (:data:`FEATURES`). -inf when a block is the identity (e.g. an NB201 cell whose only live
    edge is ``3<-0`` skip), as the authors score it."""
    return float(np.mean(shared["trainability"]))


@proxy("az_complexity", needs_data=False, uses=FLOPS, reads=("flops",))
def az_complexity(net: nn.Module, batch: Batch | None, shared: dict):
    """AZ-NAS complexity (s_C): FLOPs, as the authors read them from NATS-Bench
    (``get_compute_costs(...)['flops']``): :func:`.baselines.forward_flops`, the same count as
    the ``flops`` proxy (multiply-adds of one image, AutoDL's convention; one shared count)."""
    return float(shared["flops"])


@aggregate("az_nas", ("az_expressivity", "az_progressivity", "az_trainability", "az_complexity"))
def az_nas(columns: Sequence[Sequence[float]]) -> np.ndarray:
    """AZ-NAS (eq. 9): ``Σ_i log(rank_i / n)`` over the four components, rank_i ascending with
    ties at their average rank (the notebook's ``scipy.stats.rankdata``), -inf lowest:
    exactly :func:`log_rank_sum`."""
    return log_rank_sum(columns)
