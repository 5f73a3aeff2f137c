"""Look up the trained accuracies of a found architecture (NAS-Bench-201, -101, -301).

Each back-end reads one kind of source and answers ``query(arch) -> row``:

* ``none.NoBenchmark``    - no source; every accuracy is NaN.
* ``table.TableBenchmark`` - a flat CSV / Parquet table (e.g. ``../shared/benchmarks/nb201/``).
* ``nats.NatsBenchmark``   - the official NATS-Bench ``NATS-tss-v1_0-3ffb9-simple`` directory.
* ``nb201.NB201Benchmark`` - the official ``NAS-Bench-201-v1_*.pth`` file.
* ``auto.auto``            - picks the first of the above that it finds (Hydra default).
* ``nb301.NB301Benchmark`` - the NAS-Bench-301 surrogate, DARTS genotypes (optional extra).

Each back-end says which search spaces it knows (``spaces``); the runner refuses a mismatch,
except that a source ``auto`` found for another space is simply not used.

A row has ``benchmark_index`` plus ``ACCURACY_COLUMNS``, accuracies in percent, 200-epoch
training, averaged over the benchmark's training seeds; NaN for what the source does not hold.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path

from ..errors import UserError

ACCURACY_COLUMNS = ("cifar10_valid", "cifar10_test", "cifar100_valid", "cifar100_test",
                    "imagenet16_120_valid", "imagenet16_120_test")
ROW_KEYS = ("benchmark_index",) + ACCURACY_COLUMNS

log = logging.getLogger("freedarts.benchmark")


def empty_row() -> dict:
    """A row with every value NaN (what a source that knows nothing about an arch answers)."""
    return {key: math.nan for key in ROW_KEYS}


class Benchmark:
    """Base class: ``query(arch)`` maps an NB201 arch string to a row (see the module doc)."""

    name: str = ""
    source: str = ""  # which file or directory it reads, for logs and result rows
    spaces: tuple | None = ("nb201",)  # the search spaces whose architectures it knows (None: any)
    fallback: bool = False  # chosen by benchmark=auto: a run on another space just goes without

    def covers(self, space: str) -> bool:
        return self.spaces is None or space in self.spaces

    empty_row = staticmethod(empty_row)

    def query(self, arch: str) -> dict:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(source={self.source!r})"


def require_path(path, backend: str, what: str, is_dir: bool = False) -> Path:
    """The back-end's ``benchmark.path``, checked: given, and an existing file (or folder).

    ``what`` names what it must be, for the one-line error, e.g. ``NAS-Bench-201-v1_*.pth``.
    """
    if path is None or str(path).strip() == "":
        raise UserError(f"benchmark={backend} needs benchmark.path=<{what}>")
    path = Path(str(path)).expanduser()
    if not (path.is_dir() if is_dir else path.is_file()):
        raise UserError(f"{path.name} not found at {path}: fix benchmark.path "
                        f"(benchmark={backend} reads {what})")
    return path
