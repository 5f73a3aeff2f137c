"""Training-free proxies: one number for a whole, freshly initialised network (higher = better).

The rivals of METHOD.md §5 and the proxy study (``freedarts correlate``) score architectures,
not α. Each proxy is one registered unit (``@proxy(name, ...)`` in :mod:`.base`), one module per
family, named after its paper:

* :mod:`.saliency`   synflow, snip, grasp, fisher, grad_norm (zero-cost NAS, ICLR 2021)
* :mod:`.activation` nwot (NASWOT, ICML 2021), jacob_cov (its arXiv v1)
* :mod:`.zen`, :mod:`.meco`, :mod:`.swap`, :mod:`.zico`, :mod:`.epe_nas`, :mod:`.norms`
* :mod:`.az_nas` (AZ-NAS components), :mod:`.vkdnw` (VKDNW), :mod:`.baselines` (flops, params,
  trainable_layers)

A proxy is called as ``PROXIES[name](net, batch) -> float``; see :class:`.base.Proxy`.

An *aggregate* (``combined``, ``az_nas``, ``vkdnw_agg``) is not a network proxy: it ranks each
of its component proxies over the population of scored architectures and combines the ranks,
so it acts on columns of raw values (:data:`AGGREGATES`). Register one with ``@aggregate``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from .base import PROXIES, Proxy, ProxyError, proxy  # noqa: F401  (the registry's public face)

Combine = Callable[[Sequence[Sequence[float]]], np.ndarray]


@dataclass(frozen=True)
class Aggregate:
    """``combine(columns)``: one column of raw values per name in ``parts`` (the same
    architectures, in the same order) -> one score per architecture."""

    name: str
    parts: tuple[str, ...]
    combine: Combine


AGGREGATES: dict[str, Aggregate] = {}


def aggregate(name: str, parts: Sequence[str]) -> Callable[[Combine], Aggregate]:
    """Register ``combine(columns)`` as the aggregate ``name`` of the proxies ``parts``."""

    def register(combine_fn: Combine) -> Aggregate:
        AGGREGATES[name] = Aggregate(name, tuple(parts), combine_fn)
        return AGGREGATES[name]

    return register


def ranks(values: Sequence[float]) -> np.ndarray:
    """1-based mid-ranks (ties share their average rank, -inf lowest)."""
    x = np.asarray(values, dtype=np.float64)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    average_rank = np.cumsum(counts) - (counts - 1) / 2  # of each distinct value
    return average_rank[inverse.reshape(-1)]


def percentile_ranks(values: Sequence[float]) -> np.ndarray:
    """Mid-rank percentiles ``(rank − ½)/n`` in (0, 1): ties share their average rank, -inf
    ranks lowest. Invariant under any increasing transform (log synflow gives the same)."""
    return (ranks(values) - 0.5) / len(np.asarray(values))


def combine(columns: Sequence[Sequence[float]], weights: Sequence[float]) -> np.ndarray:
    """``Σ_i w_i · percentile_ranks(column_i)``: raw proxy values of the same architectures
    (one column per proxy) put on a common scale, then weighted.

    Ranks rather than z-scores: synflow spans tens of orders of magnitude and is exactly 0 for
    networks whose input never reaches the output, where nwot is -inf; a rank scale needs no
    log, is unaffected by those extremes, and matches the report's criterion (Spearman ρ, which
    picked α = 0.6). The scale is relative to the architectures given, so a search recomputes it
    over every architecture it has scored so far.
    """
    return sum(w * percentile_ranks(c) for c, w in zip(columns, weights, strict=True))


@aggregate("combined", ("nwot", "synflow"))
def combined(columns: Sequence[Sequence[float]]) -> np.ndarray:
    """The student report's combined proxy: ``0.6·hook_logdet + 0.4·synflow`` on a common
    (percentile-rank) scale, see :func:`combine`."""
    return combine(columns, (0.6, 0.4))


def log_rank_sum(columns: Sequence[Sequence[float]]) -> np.ndarray:
    """``Σ_i log(rank_i / n)``: the rank aggregation of AZ-NAS (Lee & Ham, CVPR 2024, eq. 9) and
    VKDNW's aggregate (Tybl & Neumann, CVPR 2025): a proxy that ranks an architecture near the
    bottom pulls it down more than a top rank lifts it."""
    n = len(np.asarray(columns[0]))
    return sum(np.log(ranks(c) / n) for c in columns)


# Importing the families registers their proxies and aggregates; they must come after the
# registry above, which they import.
from . import (  # noqa: E402, F401
    activation,
    az_nas,
    baselines,
    epe_nas,
    meco,
    norms,
    saliency,
    swap,
    vkdnw,
    zen,
    zico,
)


def names() -> list[str]:
    """Every name ``proxy=`` accepts: network proxies, then aggregates."""
    return [*PROXIES, *AGGREGATES]


def resolve(name: str) -> tuple[list[Proxy], Combine | None]:
    """The network proxies behind ``proxy=name`` and, for an aggregate, the function that turns
    their columns of raw values into scores (``None`` for a single proxy, whose raw value is its
    score)."""
    if name in PROXIES:
        return [PROXIES[name]], None
    if name in AGGREGATES:
        agg = AGGREGATES[name]
        return [PROXIES[p] for p in agg.parts], agg.combine
    raise UserError(f"proxy={name} is not known: use one of {', '.join(names())}")
