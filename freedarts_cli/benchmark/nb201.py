"""The official NAS-Bench-201 file, ``NAS-Bench-201-v1_1-096897.pth`` (or ``v1_0-e61699``).

The whole file is loaded in ``__init__`` (the real one: minutes and many GB of RAM), then queried
through ``nas_201_api.NASBench201API``. Prefer the NATS-Bench directory (benchmark=nats), which
holds the same 200-epoch results and loads lazily.

The file is a ``torch.save`` of plain data (dicts, lists, strings, numbers, numpy scalars; no
tensors), so it is never fully unpickled: its first bytes must be torch.save's (a CSV, or anything
else, is refused before any of it is unpickled), then ``load_pth`` reads it through
``safeload.PlainUnpickler``, which can build plain data and nothing else. The API is handed the
loaded dict, so its own ``torch.load`` (full unpickling, ``weights_only=False`` on old torch;
refusing the file's numpy scalars on torch >= 2.6) never runs.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from ..safeload import TORCH_PICKLE_MODULE, Refused
from . import KINDS, Benchmark, empty_row, file_kind, log, require_path
from .nats import index_of, official_row

KEYS = ("meta_archs", "arch2infos", "evaluated_indexes")
OFFICIAL = "NAS-Bench-201-v1_1-096897.pth"
FIX = f"give the official {OFFICIAL} (or v1_0-e61699.pth)"


def _numpy_safe_globals() -> list:
    """The numpy globals torch's weights_only loader must allow to read numpy scalars (the
    ones numpy 1.x wrote under numpy.core, which numpy 2 moved to numpy._core)."""
    core = getattr(np, "_core", None) or np.core
    scalar = core.multiarray.scalar
    return [
        scalar,
        (scalar, "numpy.core.multiarray.scalar"),
        np.dtype,
        *{type(np.dtype(c)) for c in "?bBhHiIlLqQefdgFDG"},
    ]


def load_pth(path: Path) -> Any:
    """The object a NAS-Bench-201 ``.pth`` file holds, never running anything in it.

    1. Its first bytes must be torch.save's (zip archive, or the legacy pickle header the
       official 2020 files have): anything else is a one-line UserError before any reading.
    2. It is unpickled with ``safeload.PlainUnpickler`` (plain data only, at C speed).
    3. If that refuses a global, torch's own ``torch.load(weights_only=True)`` tries (it allows
       tensors too, never arbitrary code; it is a pure-Python unpickler, ~20x slower), with
       numpy's scalar and dtype rebuilders allowed. What it refuses is refused.
    """
    import torch

    kind = file_kind(path)
    if kind not in ("torch-zip", "torch-legacy"):
        hint = " (pass benchmark=table for a CSV table)" if kind in ("csv", "text") else ""
        raise UserError(
            f"{path.name} is not a NAS-Bench-201 .pth file: it is {KINDS[kind]}, "
            f"not a torch.save file{hint}; {FIX}"
        )
    log.info(
        "loading NAS-Bench-201 file %s (the official file takes minutes and many GB of RAM; "
        "benchmark=nats is faster)",
        path,
    )
    try:
        return torch.load(
            path, map_location="cpu", weights_only=False, pickle_module=TORCH_PICKLE_MODULE
        )
    except Refused as e:
        first = e
    except UserError:
        raise
    except Exception as e:  # noqa: BLE001 - a garbled pickle raises many types
        raise _unreadable(path, e) from None
    log.info("%s holds %s; reading it with torch.load(weights_only=True) instead", path.name, first)
    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # torch's message names the global it refused amid advice to load unsafely: only the
        # name is shown.
        refused = re.search(r"\bGLOBAL ([\w.]+)", str(e))
        held = f"the Python global {refused.group(1)}" if refused else str(first)
        raise UserError(
            f"{path.name} was refused: it holds {held}, which no NAS-Bench-201 "
            "file contains (a crafted or foreign file; nothing in it was run); "
            f"{FIX}"
        ) from e
    except Exception as e:  # noqa: BLE001
        raise _unreadable(path, e) from None


def _unreadable(path: Path, e: Exception) -> UserError:
    reason = " ".join(f"{type(e).__name__}: {e}".split())[:200]
    return UserError(f"cannot read NAS-Bench-201 file {path.name} ({reason}); {FIX}")


class NB201Benchmark(Benchmark):
    """Reads a NAS-Bench-201 ``.pth`` file (a pickled dict) through ``NASBench201API``."""

    name = "nb201"

    def __init__(self, path=None):
        path = require_path(path, "nb201", "NAS-Bench-201-v1_*.pth")
        self.source = str(path)
        from nas_201_api import NASBench201API

        try:
            data = load_pth(path)
        except OSError as e:
            raise UserError(
                f"cannot read NAS-Bench-201 file {path.name} ({e.strerror or e}); {FIX}"
            ) from None
        if not isinstance(data, dict) or any(key not in data for key in KEYS):
            raise UserError(
                f"{path.name} is not a NAS-Bench-201 file (needs a dict with keys "
                f"{', '.join(KEYS)}); give the official NAS-Bench-201-v1_*.pth"
            )
        try:
            self.api = NASBench201API(data, verbose=False)
        except (AssertionError, AttributeError, KeyError, TypeError, ValueError) as e:
            raise UserError(
                f"NAS-Bench-201 file {path.name} is malformed ({type(e).__name__}: "
                f"{e}); give the official NAS-Bench-201-v1_*.pth"
            ) from e
        # The API keeps a deep copy of the dict; drop ours so the file is not held twice.
        del data
        self._evaluated = set(self.api.evaluated_indexes)

    def query(self, arch: str) -> dict:
        index = index_of(self.api, arch, self.source)
        if index not in self._evaluated:  # listed in the file but never trained
            row = empty_row()
            row["benchmark_index"] = index
            return row
        return official_row(self.api, index)
