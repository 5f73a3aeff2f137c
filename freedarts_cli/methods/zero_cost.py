"""Zero-cost NAS and NASWOT: score randomly sampled architectures by a proxy, keep the best.

Zero-cost NAS (Abdelfattah et al., ICLR 2021) and NASWOT (Mellor et al., ICML 2021) sample
N = 100 architectures uniformly, score each freshly initialised network by a proxy
(:mod:`freedarts_cli.proxies`) and return the argmax. :class:`Scores` is the bookkeeping every
sampling method shares (random search and aging evolution use it too).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
import torch

from .. import proxies
from ..data import Batch
from ..errors import UserError
from . import Context, Found

log = logging.getLogger("freedarts")


class Scores:
    """Every architecture a search has scored, each once, and its score on a common scale.

    ``evaluate(choice)`` returns the raw values of one architecture (one per proxy). An
    architecture met again reuses its first values, so a search's ranking never depends on how
    often it met an architecture. An aggregate's ``combine`` (:data:`proxies.AGGREGATES`) turns
    the raw values of *all* architectures scored so far into scores; otherwise the single raw
    value is the score.
    """

    def __init__(
        self,
        evaluate: Callable[[list[int]], Sequence[float]],
        combine: proxies.Combine | None = None,
    ):
        self._evaluate, self._combine = evaluate, combine
        self.choices: list[list[int]] = []
        self._raw: list[Sequence[float]] = []
        self._index: dict[tuple, int] = {}
        self._values: np.ndarray | None = None  # cache, dropped on every new architecture

    def __len__(self) -> int:
        return len(self.choices)

    def add(self, choice: list[int]) -> int:
        """Score ``choice`` unless already scored; its position in :attr:`choices`."""
        key = tuple(choice)
        if key not in self._index:
            self._index[key] = len(self.choices)
            self.choices.append(list(choice))
            self._raw.append(tuple(self._evaluate(list(choice))))
            self._values = None
        return self._index[key]

    def values(self) -> np.ndarray:
        """The score of every scored architecture, in scoring order (higher = better)."""
        if self._values is None:
            raw = np.asarray(self._raw, dtype=np.float64).reshape(len(self._raw), -1)
            self._values = (
                raw[:, 0]
                if self._combine is None
                else np.asarray(self._combine(raw.T), dtype=np.float64)
            )
        return self._values

    def best(self, choices: Sequence[list[int]]) -> list[int]:
        """The highest-scoring of ``choices`` (scored first if new); the first one on ties."""
        index = [self.add(c) for c in choices]
        values = self.values()[index]
        return list(choices[int(np.argmax(values))])

    def samples(self) -> list[tuple[list[int], float]]:
        """``(choice, score)`` of every scored architecture: ``Found.samples``."""
        return [(c, float(v)) for c, v in zip(self.choices, self.values(), strict=True)]


def proxy_scores(proxy: str, ctx: Context, batch: Batch | None) -> Scores:
    """:class:`Scores` of ``method.proxy``: each architecture's network is built freshly
    initialised (global torch RNG, seeded by the runner) in ``ctx.dtype`` unless the proxy
    needs another dtype (synflow: float64); proxies of a combination share one network when
    their dtypes agree (every proxy restores the network it scored)."""
    parts, combine = proxies.resolve(proxy)

    def evaluate(choice: list[int]) -> list[float]:
        nets: dict[torch.dtype, torch.nn.Module] = {}
        values = []
        for p in parts:
            dtype = p.dtype or ctx.dtype
            if dtype not in nets:
                nets[dtype] = ctx.space.network(choice, dtype, ctx.device)
            values.append(p(nets[dtype], batch))
        return values

    return Scores(evaluate, combine)


def _positive(name: str, value) -> int:
    if int(value) < 1 or int(value) != value:
        raise UserError(f"{name}={value} must be a positive integer")
    return int(value)


class ZeroCost:
    """``method=zero_cost``: ``n_samples`` architectures drawn uniformly and independently (with
    replacement: a repeat is rare, 0.3 expected pairs in 100 draws from 15,625, and reuses its
    first score), each scored by ``proxy``; the best is kept. Data-dependent proxies score the
    whole data batch (``data.batch_size``)."""

    name = "zero_cost"
    dtype = "float32"  # as the zero-cost-nas code; its synflow is float64 (the proxy says so)
    spaces = ("nb201",)  # the spaces it is implemented for (the runner checks)
    pruning = "sample"

    def __init__(self, proxy: str = "synflow", n_samples: int = 100):
        self.parts, _ = proxies.resolve(proxy)  # an unknown proxy fails before any work
        self.proxy = proxy
        self.n_samples = _positive("method.n_samples", n_samples)

    @property
    def needs_data(self) -> bool:
        return any(p.needs_data for p in self.parts)

    def _batch(self, ctx: Context) -> Batch | None:
        return ctx.batch

    def _extra(self) -> dict:
        return {"n_samples": self.n_samples}

    def search(self, ctx: Context) -> Found:
        generator = torch.Generator().manual_seed(ctx.seed)
        scores = proxy_scores(self.proxy, ctx, self._batch(ctx))
        drawn = [ctx.space.sample(generator) for _ in range(self.n_samples)]
        best = scores.best(drawn)
        log.info(
            "%s: %d draws, %d distinct architectures scored by %s",
            self.name,
            len(drawn),
            len(scores),
            self.proxy,
        )
        return Found(best, self.proxy, self.pruning, samples=scores.samples(), extra=self._extra())


class NASWOT(ZeroCost):
    """``method=naswot``: zero-cost sampling with the ``nwot`` proxy on the first
    ``batch_size`` images of the data batch (NASWOT used 128). ``conf/method/naswot.yaml`` sets
    ``data.batch_size`` to the same value, so the default run has enough images."""

    name = "naswot"

    def __init__(self, n_samples: int = 100, batch_size: int = 128):
        super().__init__("nwot", n_samples)
        self.batch_size = _positive("method.batch_size", batch_size)

    def _batch(self, ctx: Context) -> Batch | None:
        batch, n = ctx.batch, self.batch_size
        if batch is None or len(batch.images) < n:
            have = 0 if batch is None else len(batch.images)
            raise UserError(
                f"method=naswot scores method.batch_size={n} images but the data "
                f"batch holds {have}: set data.batch_size={n} (or a smaller "
                "method.batch_size)"
            )
        return Batch(batch.images[:n], batch.labels[:n], batch.random_labels[:n])

    def _extra(self) -> dict:
        return {"n_samples": self.n_samples, "batch_size": self.batch_size}
