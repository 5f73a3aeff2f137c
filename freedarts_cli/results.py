"""Result files and provenance: atomic writes (CSV, text, figures), peak memory, versions and
the git commit."""

from __future__ import annotations

import contextlib
import functools
import os
import resource
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from .errors import UserError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic(path: Path, mode: str = "w"):
    """Open a temporary file beside ``path`` for writing; on success it replaces ``path``.

    A reader (or a crashed run) never sees half a file. The file gets the permissions a plain
    ``open`` would (0644 under umask 022; ``mkstemp`` alone gives 0600). A full disk or a
    read-only folder is one :class:`UserError` naming the file, not a traceback.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, mode, **({} if "b" in mode else {"newline": ""})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as err:
        raise UserError(
            f"cannot write {path}: {err.strerror or err}: free disk space or "
            "choose a writable folder (hydra.run.dir=..., hydra.sweep.dir=..., "
            "out=...)"
        ) from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def write_csv(
    path: Path, rows: Iterable[Mapping] | pd.DataFrame, header: Iterable[str] = ()
) -> Path:
    """Write a CSV atomically (:func:`atomic`). ``header``: the columns an empty table still
    gets, so that a reader can parse every CSV a run writes."""
    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    if df.empty and not len(df.columns):
        df = pd.DataFrame(columns=list(header))
    with atomic(path) as fh:
        df.to_csv(fh, index=False)
    return Path(path)


def write_text(path: Path, text: str) -> Path:
    """Write a text file atomically (:func:`atomic`)."""
    with atomic(path) as fh:
        fh.write(text)
    return Path(path)


def save_figure(fig, path: Path, **kwargs) -> Path:
    """``fig.savefig`` atomically (:func:`atomic`): a full disk never leaves half a PDF. The
    format is the file's suffix."""
    path = Path(path)
    with atomic(path, "wb") as fh:
        fig.savefig(fh, format=path.suffix.lstrip("."), **kwargs)
    return path


class PeakMemory:
    """Peak resident memory (MB) of this process over a block of code.

    On Linux the kernel's high-water mark (``VmHWM``) is reset on entry through
    ``/proc/self/clear_refs``, so the figure belongs to the block even when several runs share a
    process (a multirun sweep); elsewhere it falls back to the process-lifetime ``ru_maxrss``.
    The figure is the whole process's RSS (interpreter and torch included), not an increment.
    In one process it includes what an earlier, larger run freed but the C allocator kept, so
    it is an upper bound there (handing that memory back with ``malloc_trim`` first was tried:
    the next SNIP-α run then paid ~0.8 s of page faults).
    """

    def __enter__(self) -> PeakMemory:
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self._proc = True
        except OSError:
            self._proc = False
        self.mb = float("nan")
        return self

    def __exit__(self, *exc) -> None:
        if self._proc:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    self.mb = int(line.split()[1]) / 1024
                    return
        scale = 1024 * 1024 if sys.platform == "darwin" else 1024
        self.mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    """The commit of the code that ran (``-dirty`` when the checkout has changes)."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"
