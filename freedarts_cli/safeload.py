"""Restricted unpickling: reading pickles of plain data without running anything in them.

The dataset batches (data.py) and both official benchmark formats are pickles of plain data:
dicts, lists, sets, strings, numbers, numpy scalars and numeric numpy arrays (NAS-Bench-201's
``.pth`` through ``torch.save``, NATS-Bench's ``*.pickle.pbz2`` through bz2). A pickle builds
objects only through the globals its unpickler's ``find_class`` hands out; here that is a fixed
table of stand-ins (``ARRAY_GLOBALS``: numpy's array and dtype rebuilders, plain dtypes only;
``PLAIN_GLOBALS``: those plus numpy scalars, set, frozenset, OrderedDict), so a file that names
any other Python global (a crafted pickle that would run code) is refused with ``Refused`` before
anything in it runs. ``PlainUnpickler`` is the C unpickler with that table (C speed: the
NAS-Bench-201 file is GBs). Nothing here imports torch.
"""

from __future__ import annotations

import bz2
import collections
import pickle
import types
from pathlib import Path
from typing import Any

import numpy as np


class Refused(Exception):
    """Raised inside a restricted unpickler; the loader turns it into a UserError naming the
    file."""


# What find_class hands out: instances of slot-less classes, so a pickle can call them (REDUCE)
# but cannot set any attribute on them (BUILD), and nothing else of this module is reachable.


class _NDArrayToken:
    """Stands in for ``numpy.ndarray``: it can be passed to ``_reconstruct`` but not called,
    so a pickle cannot allocate arrays of its choosing by calling ndarray."""

    __slots__ = ()


class _Reconstruct:
    """``numpy.core.multiarray._reconstruct`` limited to what numpy's own pickles do,
    ``_reconstruct(ndarray, (0,), b'b')``: an empty plain ndarray that the pickle's BUILD step
    then fills from raw bytes (numpy checks their length against the shape)."""

    __slots__ = ()

    def __call__(self, subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
        if subtype is not _NDARRAY:
            raise Refused("an array of a type other than numpy.ndarray")
        if shape != (0,) or dtype not in ("b", b"b"):
            raise Refused("a malformed numpy array header")
        return np.ndarray.__new__(np.ndarray, (0,), "b")


class _DType:
    """``numpy.dtype`` limited to plain (non-object) dtypes."""

    __slots__ = ()

    def __call__(self, *args: Any) -> np.dtype:
        if (
            not 1 <= len(args) <= 3
            or not isinstance(args[0], str)
            or not all(isinstance(a, int) for a in args[1:])
        ):  # Python 2 wrote 0/1
            raise Refused("a malformed numpy dtype")
        try:
            dt = np.dtype(*args)
        except (TypeError, ValueError) as e:
            raise Refused(f"a bad numpy dtype ({e})") from None
        if dt.hasobject:
            raise Refused("an array of Python objects (numpy dtype object)")
        return dt


class _Encode:
    """``_codecs.encode`` as protocol-2 pickles use it for bytes: ``encode(str, 'latin1')``."""

    __slots__ = ()

    def __call__(self, text: Any, encoding: Any = "utf-8", errors: Any = "strict") -> bytes:
        if not isinstance(text, str) or encoding not in ("latin1", "latin-1") or errors != "strict":
            raise Refused("an unexpected _codecs.encode call")
        return text.encode("latin1")


_NDARRAY = _NDArrayToken()

# The exact globals a pickle of numpy arrays in a dict references (numpy 1.x writes
# numpy.core.multiarray, numpy 2.x numpy._core.multiarray; the original CIFAR files, written
# by Python 2, the former). Each maps to a stand-in above, never to the real callable.
ARRAY_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _Reconstruct(),
    ("numpy._core.multiarray", "_reconstruct"): _Reconstruct(),
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _DType(),
    ("_codecs", "encode"): _Encode(),
}


class _Scalar:
    """``numpy.core.multiarray.scalar(dtype, raw bytes)``, as numpy pickles one scalar (the
    official files hold numpy float64s), for plain dtypes only: the bytes are read as a value
    of that dtype."""

    __slots__ = ()

    def __call__(self, dtype: Any, data: Any = b"") -> np.generic:
        if not isinstance(dtype, np.dtype) or dtype.hasobject or dtype.itemsize == 0:
            raise Refused("a numpy scalar of a non-numeric dtype")
        if isinstance(data, str):  # a Python 2 pickle read with encoding=latin1
            data = data.encode("latin1")
        if not isinstance(data, bytes) or len(data) != dtype.itemsize:
            raise Refused("a malformed numpy scalar")
        return np.frombuffer(data, dtype=dtype)[0]


# numpy's array, dtype and scalar rebuilders (stand-ins that accept plain dtypes only), and the
# containers that need a global, under the names protocol-2 pickles give them (Python 2 names):
# the real set, frozenset and OrderedDict, which only hold what the pickle has already built.
PLAIN_GLOBALS: dict[tuple[str, str], Any] = {
    **ARRAY_GLOBALS,
    ("numpy.core.multiarray", "scalar"): _Scalar(),
    ("numpy._core.multiarray", "scalar"): _Scalar(),
    **{
        (module, name): obj
        for module in ("__builtin__", "builtins")
        for name, obj in (("set", set), ("frozenset", frozenset))
    },
    ("collections", "OrderedDict"): collections.OrderedDict,
}


class PlainUnpickler(pickle.Unpickler):
    """Unpickles plain data only: any global outside ``GLOBALS`` raises ``Refused``.

    It defines no ``persistent_load``, so under ``torch.load`` torch's own (which only makes
    storages) stays in place; a tensor still needs a torch global, and is refused."""

    GLOBALS = PLAIN_GLOBALS

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self.GLOBALS[(module, name)]
        except KeyError:
            raise Refused(f"the Python global {module}.{name}") from None


class ArrayUnpickler(PlainUnpickler):
    """The dataset batches' unpickler: dicts of numeric numpy arrays (``ARRAY_GLOBALS``), and
    no persistent references (nothing but torch writes them)."""

    GLOBALS = ARRAY_GLOBALS

    def persistent_load(self, pid: Any) -> Any:
        raise Refused("a persistent reference")


def _load(file, **kwargs) -> Any:
    return PlainUnpickler(file, **kwargs).load()


#: ``torch.load(..., weights_only=False, pickle_module=TORCH_PICKLE_MODULE)``: torch subclasses
#: ``.Unpickler`` (keeping its find_class), reads the legacy format's header records with
#: ``.load`` and checks ``.__name__``; nothing else of the module is used.
TORCH_PICKLE_MODULE = types.ModuleType("freedarts_plain_pickle")
TORCH_PICKLE_MODULE.Unpickler = PlainUnpickler
TORCH_PICKLE_MODULE.load = _load


def load_bz2(path: Path) -> Any:
    """The plain data a bz2-compressed pickle holds (``Refused`` for anything else)."""
    with bz2.BZ2File(path, "rb") as fh:
        return PlainUnpickler(fh).load()
