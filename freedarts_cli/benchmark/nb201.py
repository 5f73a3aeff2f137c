"""The official NAS-Bench-201 file, ``NAS-Bench-201-v1_1-096897.pth`` (or ``v1_0-e61699``).

The whole file is loaded in ``__init__`` (the real one: minutes and many GB of RAM), then queried
through ``nas_201_api.NASBench201API``. Prefer the NATS-Bench directory (benchmark=nats), which
holds the same 200-epoch results and loads lazily.
"""
from __future__ import annotations

import pickle

from ..errors import UserError
from . import Benchmark, empty_row, log, require_path
from .nats import index_of, official_row

KEYS = ("meta_archs", "arch2infos", "evaluated_indexes")


class NB201Benchmark(Benchmark):
    """Reads a NAS-Bench-201 ``.pth`` file (a pickled dict) through ``NASBench201API``."""

    name = "nb201"

    def __init__(self, path=None):
        path = require_path(path, "nb201", "NAS-Bench-201-v1_*.pth")
        self.source = str(path)
        import torch
        from nas_201_api import NASBench201API

        log.info("loading NAS-Bench-201 file %s (the official file takes minutes and many GB "
                 "of RAM; benchmark=nats is faster)", path)
        try:
            # The API's own torch.load fails on torch >= 2.6: the file pickles numpy scalars,
            # which weights_only=True (the new default) refuses. It is a file the user chose.
            data = torch.load(path, map_location="cpu", weights_only=False)
        except (RuntimeError, OSError, EOFError, ValueError, pickle.UnpicklingError) as e:
            raise UserError(f"cannot read NAS-Bench-201 file {path.name} ({type(e).__name__}); "
                            "give the official NAS-Bench-201-v1_*.pth") from e
        if not isinstance(data, dict) or any(key not in data for key in KEYS):
            raise UserError(f"{path.name} is not a NAS-Bench-201 file (needs a dict with keys "
                            f"{', '.join(KEYS)}); give the official NAS-Bench-201-v1_*.pth")
        try:
            self.api = NASBench201API(data, verbose=False)
        except (AssertionError, AttributeError, KeyError, TypeError, ValueError) as e:
            raise UserError(f"NAS-Bench-201 file {path.name} is malformed ({type(e).__name__}: "
                            f"{e}); give the official NAS-Bench-201-v1_*.pth") from e
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
