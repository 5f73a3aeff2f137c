"""benchmark=auto (the default): use the first benchmark source that exists, else none.

Where it looks, in order (``candidates``): ``benchmark.path``, ``$FREEDARTS_BENCHMARK``, the
official NATS-Bench / NAS-Bench-201 files in ``$TORCH_HOME`` and ``~/.torch`` (NATS first: it
loads in seconds, the .pth in minutes), then the shared flat table
``../shared/benchmarks/nb201/nats_tss_test_acc_200ep.csv`` beside the checkout or the working dir.

The back-end is chosen by the path's name (a folder, ``*.pth``, ``*.csv``/``*.parquet``); each
back-end then checks the file's first bytes (``file_kind``) before reading it, so a CSV named
``*.pth`` is one error line, never a torch.load of text.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import UserError
from . import Benchmark, log
from .nats import META_FILE, NatsBenchmark
from .nb201 import NB201Benchmark
from .none import NoBenchmark
from .table import TableBenchmark

ENV_VAR = "FREEDARTS_BENCHMARK"
NATS_DIR = "NATS-tss-v1_0-3ffb9-simple"
NB201_FILES = ("NAS-Bench-201-v1_1-096897.pth", "NAS-Bench-201-v1_0-e61699.pth")
TABLE_NAME = "nats_tss_test_acc_200ep.csv"
SHARED_TABLE = Path("shared", "benchmarks", "nb201", TABLE_NAME)
CHECKOUT = Path(__file__).resolve().parents[2]  # the folder holding freedarts_cli/
TABLE_SUFFIXES = (".csv", ".parquet", ".pq")


def torch_homes() -> list[Path]:
    """Folders of the official files: $TORCH_HOME, then ~/.torch."""
    homes = []
    if os.environ.get("TORCH_HOME"):
        homes.append(Path(os.environ["TORCH_HOME"]).expanduser())
    home = Path(os.path.expanduser("~"))
    if str(home) != "~":  # expanduser leaves "~" when no home directory is known
        homes.append(home / ".torch")
    return homes


def candidates(path=None) -> list[Path]:
    """Every place ``auto`` looks (absolute paths), in order of preference, existing or not."""
    out = []
    for given in (path, os.environ.get(ENV_VAR)):
        if given:
            out.append(Path(str(given)).expanduser())
    homes = torch_homes()
    out += [home / NATS_DIR for home in homes]
    out += [home / name for name in NB201_FILES for home in homes]
    out += [CHECKOUT.parent / SHARED_TABLE, Path.cwd().parent / SHARED_TABLE]
    return list(dict.fromkeys(cand.absolute() for cand in out))


def open_source(path) -> Benchmark:
    """The back-end that reads ``path``, chosen by what it is."""
    path = Path(str(path)).expanduser()
    if path.is_dir():
        if (path / META_FILE).is_file():
            return NatsBenchmark(path)
        if (path / TABLE_NAME).is_file():
            return TableBenchmark(path / TABLE_NAME)
    elif path.suffix.lower() == ".pth":
        return NB201Benchmark(path)
    elif path.suffix.lower() in TABLE_SUFFIXES:
        return TableBenchmark(path)
    raise UserError(
        f"cannot tell what benchmark {path.name} is: give a {NATS_DIR} directory, a "
        "NAS-Bench-201 .pth file or a .csv/.parquet table"
    )


def auto(path=None) -> Benchmark:
    """The benchmark of the first existing candidate, or ``NoBenchmark`` (and its hint)."""
    # A path the user named must not be skipped silently in favour of another source.
    for label, given in (("benchmark.path", path), (ENV_VAR, os.environ.get(ENV_VAR))):
        if given and not Path(str(given)).expanduser().exists():
            raise UserError(f"{label}={given} does not exist; fix it or leave it unset")
    for cand in candidates(path):
        if cand.exists():
            bench = open_source(cand)
            bench.fallback = True
            log.info("benchmark=auto uses %s (%s)", bench.name, bench.source)
            return bench
    log.warning("benchmark=auto found no benchmark; %s", NoBenchmark.hint)
    return NoBenchmark()


AutoBenchmark = auto
