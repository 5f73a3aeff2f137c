"""The benchmark that reads nothing: every accuracy is NaN."""

from __future__ import annotations

from . import Benchmark, empty_row


class NoBenchmark(Benchmark):
    """Answers every query with NaN; ``hint`` says how to get real accuracies."""

    name = "none"
    source = ""
    spaces = None
    hint = (
        "no NAS-Bench-201 accuracies: pass benchmark=table benchmark.path=<csv or parquet>, "
        "benchmark=nats benchmark.path=<NATS-tss-v1_0-3ffb9-simple dir>, "
        "benchmark=nb201 benchmark.path=<NAS-Bench-201-v1_*.pth>, "
        "or set FREEDARTS_BENCHMARK to one of those paths"
    )

    def query(self, arch: str) -> dict:
        return empty_row()
