"""Look up the trained accuracies of a found architecture (NAS-Bench-201, -101, -301).

Each back-end reads one kind of source and answers ``query(arch) -> row``:

* ``none.NoBenchmark``    - no source; every accuracy is NaN.
* ``table.TableBenchmark`` - a flat CSV / Parquet table (e.g. ``../shared/benchmarks/nb201/``).
* ``nats.NatsBenchmark``   - the official NATS-Bench ``NATS-tss-v1_0-3ffb9-simple`` directory.
* ``nb201.NB201Benchmark`` - the official ``NAS-Bench-201-v1_*.pth`` file.
* ``auto.auto``            - picks the first of the above that it finds (Hydra default).
* ``nb301.NB301Benchmark`` - the NAS-Bench-301 surrogate, DARTS genotypes (optional extra).
* ``arch_table.ArchTableBenchmark`` - a list of any space's architectures with accuracies.

Each back-end says which search spaces it knows (``spaces``); the runner refuses a mismatch,
except that a source ``auto`` found for another space is simply not used.

Every file is told apart by its first bytes (``file_kind``) before a back-end reads it, and the
official pickled formats go through ``safeload``'s restricted unpickler (plain data only).

A row has ``benchmark_index`` plus ``ACCURACY_COLUMNS``, accuracies in percent, 200-epoch
training, averaged over the benchmark's training seeds; NaN for what the source does not hold.
"""

from __future__ import annotations

import logging
import math
import pickle
from pathlib import Path

from ..errors import UserError

ACCURACY_COLUMNS = (
    "cifar10_valid",
    "cifar10_test",
    "cifar100_valid",
    "cifar100_test",
    "imagenet16_120_valid",
    "imagenet16_120_test",
)
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

    def architectures(self) -> list[str] | None:
        """The architectures the source lists, when it is a list of them (``arch_table``);
        None for a source that answers look-ups only."""
        return None

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
        raise UserError(
            f"{path.name} not found at {path}: fix benchmark.path "
            f"(benchmark={backend} reads {what})"
        )
    return path


# torch.save's legacy (pre-1.6, non-zip) files open with this number, pickled.
TORCH_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
_TORCH_LEGACY_HEADS = tuple(
    pickle.dumps(TORCH_MAGIC_NUMBER, protocol=p)[:-1]  # less the STOP
    for p in range(2, pickle.HIGHEST_PROTOCOL + 1)
)

#: What ``file_kind`` answers, as a message names it.
KINDS = {
    "torch-zip": "a torch.save zip archive",
    "torch-legacy": "a legacy torch.save file",
    "zip": "a zip archive (not one torch.save wrote)",
    "pickle": "a plain Python pickle (not a torch.save file)",
    "bz2": "a bz2-compressed file",
    "gzip": "a gzip-compressed file",
    "tar": "a tar archive",
    "parquet": "a Parquet table",
    "csv": "a CSV text file",
    "text": "a text file",
    "empty": "an empty file",
    "binary": "a binary file of no known kind",
}


def file_kind(path: Path) -> str:
    """What ``path`` holds, told from its first bytes alone (one of ``KINDS``), so that a loader
    is never handed the wrong kind of file: ``torch.load`` of a 3 MB CSV read its text as pickle
    opcodes for 90 s, up to 13.7 GB of RAM, before failing."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
        if head.startswith(b"PK\x03\x04"):
            import zipfile

            try:  # torch.save writes <name>/data.pkl; reading the zip's directory is cheap
                with zipfile.ZipFile(fh) as archive:
                    names = archive.namelist()
            except (zipfile.BadZipFile, OSError, ValueError):
                return "zip"
            return "torch-zip" if any(n.endswith("data.pkl") for n in names) else "zip"
    if not head:
        return "empty"
    if any(head.startswith(h) for h in _TORCH_LEGACY_HEADS):
        return "torch-legacy"
    if head[0] == 0x80 and len(head) > 1 and 2 <= head[1] <= pickle.HIGHEST_PROTOCOL:
        return "pickle"
    if head.startswith(b"BZh"):
        return "bz2"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"PAR1"):
        return "parquet"
    if len(head) > 262 and head[257:262] == b"ustar":
        return "tar"
    if b"\x00" not in head:
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError as e:
            # A multi-byte character cut at the end of the 4 KB read is still text.
            text = head[: e.start].decode("utf-8") if e.start > len(head) - 4 else None
        if text is not None:
            first = text.splitlines()[0] if text.splitlines() else ""
            return "csv" if "," in first else "text"
    return "binary"
