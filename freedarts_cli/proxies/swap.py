"""SWAP-Score (Peng et al., \"SWAP-NAS: Sample-Wise Activation Patterns for Ultra-fast NAS\",
ICLR 2024): how many distinct on/off patterns, across a small batch of images, the network's
ReLU units show."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..data import Batch
from ..errors import UserError
from .base import data, proxy, removing
from .zen import gaussian_draw, keeping_parameters

#: Images per score: the authors' ``--input_samples 16`` (the first 16 of the batch are used).
SAMPLES = 16
#: Re-initialisations averaged: the authors' ``--repeats 32``.
REPEATS = 32
_WORD = 52  # samples packed per code: sums of distinct powers of two below 2^53 are exact
#: Up to this many samples a unit's pattern is an index into a table of every possible pattern
#: (2^n entries): marking the patterns seen is linear in the units, where sorting them is not.
_TABLE_BITS = 20


def _codes(active: torch.Tensor) -> torch.Tensor:
    """``active`` ``[N, M]`` (bool, unit m on for sample n) -> one row of codes per unit,
    ``[M, ceil(N / 52)]`` (float64 holding integers exactly): the unit's pattern over the samples
    as binary numbers, so two units have equal rows exactly when their patterns are equal."""
    n = active.shape[0]
    words = []
    for start in range(0, n, _WORD):
        bits = active[start : start + _WORD].to(torch.float64)
        weights = 2.0 ** torch.arange(bits.shape[0], dtype=torch.float64, device=bits.device)
        words.append(weights @ bits)
    return torch.stack(words, dim=1)


def _pattern_index(active: torch.Tensor) -> torch.Tensor:
    """``active`` ``[N, M]`` (bool, N <= 20) -> each unit's pattern as an integer in
    ``[0, 2^N)`` (int64). The float32 matmul is exact: its sums are integers below 2^24."""
    weights = 2.0 ** torch.arange(active.shape[0], dtype=torch.float32, device=active.device)
    return (weights @ active.to(torch.float32)).to(torch.int64)


def activation_patterns(net: nn.Module, images: torch.Tensor) -> int:
    """``|unique rows of sign(A)ᵀ|`` for one forward pass of ``images`` (no gradients, the
    network's current mode): A ``[N, units]`` concatenates, per sample, the flattened output of
    every ``nn.ReLU``/``nn.ReLU6`` whose input is 4-D (the authors' hook: ReLU, 4-D input), and
    each unit's column of signs (0/1, the outputs are ≥ 0) over the N samples is its pattern.

    Up to 20 samples (SWAP's 16) each pattern marks its entry of a table of all 2^N patterns and
    the count is the number marked; more samples are packed into words and counted with
    ``torch.unique`` (the same count)."""
    n = images.shape[0]
    seen = torch.zeros(2**n, dtype=torch.bool, device=images.device) if n <= _TABLE_BITS else None
    codes: list[torch.Tensor] = []

    def hook(module, inputs, output):
        if isinstance(inputs, tuple) and inputs and inputs[0].dim() == 4:
            active = output.detach().reshape(output.shape[0], -1) > 0
            if seen is not None:
                seen[_pattern_index(active)] = True
            else:
                codes.append(_codes(active))

    relus = [m for m in net.modules() if isinstance(m, (nn.ReLU, nn.ReLU6))]
    with removing([m.register_forward_hook(hook) for m in relus]), torch.no_grad():
        net(images)
    if not (codes or (seen is not None and bool(seen.any()))):  # no hook saw a 4-D input
        raise UserError(
            "proxy swap needs a network with ReLU layers on 4-D feature maps: "
            "use another proxy (method.proxy=...)"
        )
    if seen is not None:
        return int(seen.sum())
    codes_all = torch.cat(codes)
    if codes_all.shape[1] == 1:  # one word per unit: a flat unique is ~50x faster
        return int(torch.unique(codes_all[:, 0]).numel())
    return int(torch.unique(codes_all, dim=0).shape[0])


def regular_factor(net: nn.Module, mu: float, sigma: float) -> float:
    """The authors' size regularisation (Peng et al. 2024, ``cal_regular_factor``):
    ``f(Θ) = exp(−(Θ − μ)² / σ)``, Θ the parameter count in thousands (their
    ``count_parameters``: every named parameter without \"auxiliary\" in its name, / 1e3)."""
    theta = sum(p.numel() for name, p in net.named_parameters() if "auxiliary" not in name) / 1e3
    return math.exp(-((theta - mu) ** 2) / sigma)


def swap_score(
    net: nn.Module,
    images: torch.Tensor,
    repeats: int = REPEATS,
    mu: float | None = None,
    sigma: float | None = None,
) -> float:
    """Mean of :func:`activation_patterns` over ``repeats`` standard-Gaussian
        re-initialisations (:func:`.zen.gaussian_draw`, torch's global RNG; the weights are restored
    afterwards), times
        :func:`regular_factor` when ``mu`` and ``sigma`` are given (the regularised SWAP-Score)."""
    counts = []
    with keeping_parameters(net):  # one save and restore for all the draws
        for _ in range(repeats):
            gaussian_draw(net)
            counts.append(activation_patterns(net, images))
    factor = regular_factor(net, mu, sigma) if mu is not None and sigma is not None else 1.0
    return sum(counts) / len(counts) * factor


@proxy("swap", needs_data=True)
def swap(net: nn.Module, batch: Batch):
    """SWAP-Score (Peng et al., ICLR 2024; the paper's SWAP-Score, equation number not
    checked here): ``S = |{ (sign a_u(x_1), …, sign a_u(x_N)) :
    u a ReLU unit }|``, the number of distinct sample-wise activation patterns over N = 16 real
    images, averaged over 32 N(0, 1) re-initialisations of the weights (:func:`swap_score`).

    As the authors' public code (``src/metrics/swap.py`` with ``correlation.py``): the first
    ``SAMPLES`` = 16 images of the batch (``--input_samples 16``), ``REPEATS`` = 32
    re-initialisations with ``network_weight_gaussian_init`` (``--repeats 32``), the post-ReLU
    outputs of every ReLU with a 4-D input, train mode (batch statistics), no gradients, and
    **no** size regularisation (their code's default ``regular=False``). The paper's
    regularised variant multiplies by ``exp(−(Θ − μ)² / σ)`` (:func:`regular_factor`); its
    NAS-Bench-201 μ and σ are not in the authors' code, so it is not registered.

    Deviations: ``nn.ReLU6`` counts as a ReLU (MobileNet spaces; its on/off pattern is the
    ReLU's); each unit's pattern marks its entry in a table of all 2^16 patterns (beyond 20
    samples: packed into words before ``torch.unique``): the same count as the authors'
    ``unique(dim=0)`` over ±/0 rows, much faster.
    """
    x, _ = data(net, batch)
    return swap_score(net, x[:SAMPLES])
