"""The official NATS-Bench topology benchmark in fast mode: a ``NATS-tss-v1_0-3ffb9-simple`` dir.

The directory holds ``meta.pickle.pbz2`` (the arch strings, in benchmark-index order) and one
``{index:06d}.pickle.pbz2`` per architecture; ``nats_bench`` reads only the meta file up front and
an architecture's own file on its first query, so opening it takes seconds.

The official API unpickles every file fully (``nats_bench.api_utils.pickle_load`` is a plain
``pickle.load``; the API offers no restricted loader), so a crafted file would run code there.
These files hold plain data only, so each is first read by ``safeload.load_bz2``, which can build
plain data and nothing else: the meta file when the directory is opened, an architecture's file
before its first query. A file that fails that check never reaches nats_bench. Only a file that
changes between the two reads could get past it, so a one-time warning says to use only the
official download.
"""

from __future__ import annotations

import math
import pickle
from pathlib import Path

from ..errors import UserError
from ..safeload import Refused, load_bz2
from . import KINDS, Benchmark, empty_row, file_kind, log, require_path

META_FILE = "meta.pickle.pbz2"
DOWNLOAD = "re-download NATS-tss-v1_0-3ffb9-simple"
_warned = False  # the one-time warning that nats_bench unpickles its files fully

# Dataset key of the official APIs -> (our valid column, our test column). cifar10-valid's test
# and cifar10's valid are left out on purpose: the papers' "CIFAR-10 valid / test" are
# cifar10-valid's x-valid and cifar10's ori-test (METHOD.md §4).
DATASETS = {
    "cifar10-valid": ("cifar10_valid", None),
    "cifar10": (None, "cifar10_test"),
    "cifar100": ("cifar100_valid", "cifar100_test"),
    "ImageNet16-120": ("imagenet16_120_valid", "imagenet16_120_test"),
}


def index_of(api, arch: str, source: str) -> int:
    """The benchmark index of ``arch`` in an official API (NATS-Bench or NAS-Bench-201)."""
    index = api.query_index_by_arch(arch)
    if index < 0:
        raise UserError(f"architecture {arch} is not in {source}; check the arch string")
    return index


def official_row(api, index: int) -> dict:
    """Our row from an official API's 200-epoch records, averaged over seeds (is_random=False)."""
    row = empty_row()
    row["benchmark_index"] = index
    for dataset, (valid_col, test_col) in DATASETS.items():
        try:
            info = api.get_more_info(index, dataset, hp="200", is_random=False)
        except KeyError:  # no 200-epoch record of this dataset for this arch: leave NaN
            continue
        # A set the source did not evaluate is simply absent from `info`.
        if valid_col:
            row[valid_col] = float(info.get("valid-accuracy", math.nan))
        if test_col:
            row[test_col] = float(info.get("test-accuracy", math.nan))
    return row


def check_file(path: Path) -> None:
    """``path`` (one of the directory's ``*.pickle.pbz2``) holds plain data only: it is bz2 (told
    from its first bytes) and ``safeload.load_bz2`` reads it; else a one-line UserError, before
    nats_bench unpickles it."""
    try:
        kind = file_kind(path)
        if kind != "bz2":
            raise UserError(
                f"{path} is not a NATS-Bench file: it is {KINDS[kind]}, not "
                f"bz2-compressed; {DOWNLOAD}"
            )
        load_bz2(path)
    except Refused as e:
        raise UserError(
            f"{path} was refused: it holds {e}, which no NATS-Bench file "
            "contains (a crafted or foreign pickle; nothing in it was run); "
            f"{DOWNLOAD}"
        ) from None
    except UserError:
        raise
    except Exception as e:  # noqa: BLE001 - bz2 and garbled pickles raise many types
        reason = " ".join(f"{type(e).__name__}: {e}".split())[:200]
        raise UserError(f"cannot read {path} ({reason}); {DOWNLOAD}") from None


def arch_file(folder: Path, index: int) -> Path:
    """The file nats_bench reads for architecture ``index`` (it tries both names, in this
    order)."""
    path = folder / f"{index:06d}.pickle.pbz2"
    return path if path.is_file() else folder / f"{index:d}.pickle.pbz2"


def _warn_once() -> None:
    global _warned
    if not _warned:
        _warned = True
        log.warning(
            "benchmark=nats: the official nats_bench API unpickles NATS-Bench files fully "
            "(it has no safe loader); freedarts checks each file first with a restricted "
            "unpickler, but use only the official NATS-tss-v1_0-3ffb9-simple download"
        )


class NatsBenchmark(Benchmark):
    """Reads a NATS-Bench tss fast-mode directory through ``nats_bench.create(..., 'tss')``."""

    name = "nats"

    def __init__(self, path=None):
        path = require_path(path, "nats", "NATS-tss-v1_0-3ffb9-simple dir", is_dir=True)
        if not (path / META_FILE).is_file():
            raise UserError(
                f"{path.name} has no {META_FILE}, so it is not a NATS-Bench "
                "fast-mode tss directory; point benchmark.path at "
                "NATS-tss-v1_0-3ffb9-simple"
            )
        self.source = str(path)
        check_file(path / META_FILE)
        _warn_once()
        import nats_bench

        try:
            # nats_bench treats anything but a str (e.g. a Path) as "no path given".
            self.api = nats_bench.create(str(path), "tss", fast_mode=True, verbose=False)
        except (OSError, EOFError, pickle.UnpicklingError, KeyError, TypeError, ValueError) as e:
            raise UserError(
                f"cannot read {path / META_FILE} ({type(e).__name__}: {e}); {DOWNLOAD}"
            ) from e

    def query(self, arch: str) -> dict:
        index = index_of(self.api, arch, self.source)
        if index not in self.api.arch2infos_dict:  # nats_bench reads the file on this query
            file = arch_file(Path(self.source), index)
            if file.is_file():  # an absent one is named below
                check_file(file)
        try:
            return official_row(self.api, index)
        # nats_bench asserts that the arch's file exists, then unpickles it.
        except (AssertionError, OSError, EOFError, pickle.UnpicklingError) as e:
            raise UserError(
                f"NATS-Bench directory {Path(self.source).name} has no readable "
                f"record {index:06d}.pickle.pbz2 for {arch}; {DOWNLOAD}"
            ) from e
