"""Images for the label-dependent scores (one batch) and for the methods that train (batches).

A data unit is selected with ``data=`` and offers ``batch(seed, dtype, device) -> Batch``,
``images_available() -> int`` and ``search_split(...) -> SearchSplit`` (the DARTS search data: the
training set split in two halves, weights trained on one and α on the other, with random crop and
flip). Every draw uses its own generator seeded by the run's seed (and, for training batches, the
epoch), so it is reproducible, a resumed search sees the same batches, and nothing disturbs the
random stream that initialises the supernet. Nothing is ever downloaded.

The CIFAR and ImageNet16 files are Python pickles. They are read here (not through torchvision,
whose md5 table rejects partial sets) by one restricted loader, :func:`load_batch_file`, that
never builds any object but plain containers and uint8/numeric numpy arrays: a file that names
any other Python global (a crafted pickle that would run code) is refused before anything in it
runs. The loaded arrays are kept per process (a sweep runs many jobs in one process).
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import UserError
from .options import check_positive_int
from .safeload import ArrayUnpickler, Refused

log = logging.getLogger("freedarts")

# Per-channel statistics used by NAS-Bench-201's CIFAR pipelines (values / 255).
_CIFAR_MEAN = (125.3 / 255, 123.0 / 255, 113.9 / 255)
_CIFAR_STD = (63.0 / 255, 62.1 / 255, 66.7 / 255)
_IN16_MEAN = (122.68 / 255, 116.66 / 255, 104.01 / 255)
_IN16_STD = (63.22 / 255, 61.26 / 255, 65.09 / 255)

# No genuine batch file comes near this (CIFAR-100 ``train``: 155 MB; an ImageNet16-120
# ``train_data_batch_*``: about 100 MB); anything larger is refused before it is read.
MAX_PICKLE_BYTES = 1 << 30


# --------------------------------------------------------------------------------------------
# Restricted unpickling
# --------------------------------------------------------------------------------------------

# The unpickler lives in safeload (shared with the benchmark loaders); it allows numpy's array
# rebuilders only.
_PLAIN = (str, bytes, int, float, bool, type(None), np.dtype, np.generic)


def _check_plain(obj: Any, depth: int = 0) -> None:
    """Everything loaded is a plain container, scalar or numeric (non-object) array."""
    if depth > 20:
        raise Refused("containers nested too deeply")
    if isinstance(obj, dict):
        for k, v in obj.items():
            _check_plain(k, depth + 1)
            _check_plain(v, depth + 1)
    elif isinstance(obj, (list, tuple)):
        if len(obj) and not all(type(v) in (int, str, float) for v in obj):  # fast path
            for v in obj:
                _check_plain(v, depth + 1)
    elif isinstance(obj, np.ndarray):
        if type(obj) is not np.ndarray or obj.dtype.hasobject:
            raise Refused("an array of Python objects (numpy dtype object)")
    elif not isinstance(obj, _PLAIN):
        raise Refused(f"a {type(obj).__name__} object")


def load_batch_file(path: Path, what: str, fix: str) -> dict:
    """Load one dataset pickle safely: plain dicts, lists, strings, numbers and numeric numpy
    arrays only; the only Python globals it may name are numpy's array/dtype reconstructors and
    ``_codecs.encode`` (any other is refused before anything runs). Keys that are bytes are
    decoded (latin1). Any problem is a one-line UserError that names ``path``, says it is not a
    valid ``what``, and ends with ``fix``."""

    def bad(reason: str) -> UserError:
        reason = " ".join(str(reason).split())  # one line, whatever an exception said
        return UserError(f"{path} is not a valid {what} ({reason}): {fix}")

    try:
        if not path.is_file():
            raise bad("not a regular file")
        size = path.stat().st_size
        if size > MAX_PICKLE_BYTES:
            raise bad(f"{size} bytes, more than any genuine one ({MAX_PICKLE_BYTES})")
        with open(path, "rb") as fh:
            head = fh.read(2)
            if len(head) < 2 or head[0] != 0x80 or not 2 <= head[1] <= pickle.HIGHEST_PROTOCOL:
                raise bad("not a Python pickle: no pickle protocol header at its start")
            fh.seek(0)
            try:
                obj = ArrayUnpickler(fh, encoding="latin1").load()
                _check_plain(obj)
            except Refused as e:
                raise UserError(
                    f"{path} was refused: it holds {e}, which no valid {what} "
                    f"contains (a crafted or foreign pickle; nothing in it was run): "
                    f"{fix}"
                ) from None
            except RecursionError:
                raise bad("nested too deeply") from None
            except UserError:
                raise
            except Exception as e:  # noqa: BLE001 - garbled pickles raise many types
                raise bad(f"unreadable pickle: {type(e).__name__}: {e}"[:300]) from None
    except OSError as e:
        raise UserError(f"{path} cannot be read ({e.strerror or e}): {fix}") from None
    if not isinstance(obj, dict):
        raise bad(f"it holds a {type(obj).__name__}, not a dict")
    return {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in obj.items()}


def _images(d: dict, key: str, width: int, bad: Callable[[str], UserError]) -> np.ndarray:
    if key not in d:
        raise bad(f"no '{key}' entry; it has {sorted(map(str, d))}")
    x = d[key]
    if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != width:
        desc = (
            f"{x.dtype} array of shape {x.shape}" if isinstance(x, np.ndarray) else type(x).__name__
        )
        raise bad(f"'{key}' is a {desc}, not uint8 N×{width}")
    return x


def _labels(
    d: dict, key: str, n: int, low: int, high: int, bad: Callable[[str], UserError]
) -> np.ndarray:
    if key not in d:
        raise bad(f"no '{key}' entry; it has {sorted(map(str, d))}")
    raw = d[key]
    if not isinstance(raw, (list, tuple, np.ndarray)):
        raise bad(f"'{key}' is a {type(raw).__name__}, not a list of integers")
    if isinstance(raw, (list, tuple)) and not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in raw
    ):
        raise bad(f"'{key}' holds values that are not integers")
    try:
        y = np.asarray(raw)
    except (ValueError, OverflowError, TypeError):
        raise bad(f"'{key}' is not a list of integers") from None
    if len(raw) == 0:
        y = y.astype(np.int64)
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise bad(f"'{key}' is not a flat list of integers")
    if len(y) != n:
        raise bad(f"{len(y)} '{key}' for {n} images")
    if len(y) and (y.min() < low or y.max() > high):
        raise bad(f"'{key}' range {y.min()}..{y.max()} is outside {low}..{high}")
    return y.astype(np.int64)


# --------------------------------------------------------------------------------------------
# Data units
# --------------------------------------------------------------------------------------------


@dataclass
class Batch:
    images: torch.Tensor  # [B, 3, H, W], normalised
    labels: torch.Tensor  # true labels
    random_labels: torch.Tensor  # uniform labels for ZEROS-L, same seed


def stream_seed(*keys: int) -> int:
    """A seed for one random stream named by integers (the run's seed, an epoch, a purpose):
    streams of different keys are independent, and the same keys always give the same stream."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1, np.uint64)[0] >> 1)


def _normalised(x: torch.Tensor, mean, std) -> torch.Tensor:
    """Images in [0, 1], float64 [B, 3, H, W] -> (x - mean) / std per channel."""
    mean = torch.tensor(mean, dtype=x.dtype).view(1, 3, 1, 1)
    std = torch.tensor(std, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - mean) / std


class SearchSplit:
    """The DARTS search data (AUTHORS_CODE.md §1.4): the training images split in two equal
    halves by a fixed permutation (``split_seed``; NAS-Bench-201 ships one such split for
    CIFAR-10, ``cifar-split.txt``, 25,000 / 25,000), the first half for the weights, the second
    for α. Both halves get the training augmentation: random 32×32 crop of the image zero-padded
    by ``pad`` pixels, then a horizontal flip with probability 1/2, then normalisation.

    :meth:`epoch` yields ``(train, valid)`` batch pairs, shuffled and augmented by a generator
    seeded from ``(seed, epoch)`` alone, so any epoch can be replayed (a resumed search) without
    saving random state. The last batch of an epoch may be smaller (no images are dropped)."""

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        mean,
        std,
        batch_size: int,
        pad: int = 4,
        split_seed: int = 0,
    ):
        n = len(labels) // 2
        if n < 1:
            raise UserError(
                f"the search split needs at least 2 training images, the data has "
                f"{len(labels)}: point data.root at a fuller copy of the set"
            )
        perm = torch.randperm(len(labels), generator=torch.Generator().manual_seed(split_seed))
        self.halves = (perm[:n].numpy(), perm[n : 2 * n].numpy())
        self.images, self.labels = images, labels
        self.mean, self.std = mean, std
        self.batch_size, self.pad = batch_size, pad

    @property
    def half_size(self) -> int:
        """Images in each half (the α half is the data of α's posterior: ``N`` in VAdam)."""
        return len(self.halves[0])

    def steps(self) -> int:
        """Batches per epoch (each half once)."""
        return -(-self.half_size // self.batch_size)

    def epoch(
        self,
        seed: int,
        epoch: int,
        dtype: torch.dtype,
        device: torch.device,
        steps: int | None = None,
    ):
        """The ``(train, valid)`` batches of one epoch (the first ``steps`` of them if given)."""
        gen = torch.Generator().manual_seed(stream_seed(seed, epoch, 1))
        orders = [half[torch.randperm(len(half), generator=gen).numpy()] for half in self.halves]
        bs = self.batch_size
        for i in range(self.steps() if steps is None else min(steps, self.steps())):
            yield tuple(
                self._augmented(order[i * bs : (i + 1) * bs], gen, dtype, device)
                for order in orders
            )

    def _augmented(
        self, idx: np.ndarray, gen: torch.Generator, dtype: torch.dtype, device: torch.device
    ) -> Batch:
        x = torch.from_numpy(self.images[idx]).permute(0, 3, 1, 2).to(torch.float64) / 255.0
        b, _, h, w = x.shape
        p = self.pad
        padded = torch.nn.functional.pad(x, (p, p, p, p))  # zeros: black borders, as torchvision
        dy, dx = torch.randint(2 * p + 1, (2, b), generator=gen).tolist()
        flip = (torch.rand(b, generator=gen) < 0.5).tolist()
        out = torch.empty_like(x)
        for i in range(b):
            crop = padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w]
            out[i] = crop.flip(-1) if flip[i] else crop
        y = torch.as_tensor(self.labels[idx], dtype=torch.long)
        return Batch(
            _normalised(out, self.mean, self.std).to(device, dtype), y.to(device), y.to(device)
        )


# (class, dataset name, num_classes, resolved folder, files' (name, size, mtime)) -> arrays
_CACHE: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


def _signature(files: list[Path]) -> tuple:
    out = []
    for f in files:
        try:
            st = f.stat()
            out.append((f.name, st.st_size, st.st_mtime_ns))
        except OSError:
            out.append((f.name, -1, -1))
    return tuple(out)


class _ImageData:
    """Shared part: pick ``batch_size`` random training images, normalise, attach labels."""

    name = "?"
    synthetic = False
    mean, std = _CIFAR_MEAN, _CIFAR_STD
    max_classes: int | None = None  # the most classes the set has (None: any number)

    def __init__(self, root: str | None = None, batch_size: int = 64, num_classes: int = 10):
        # Checked here, where the options are read, before any file is touched.
        self.batch_size = check_positive_int("data.batch_size", batch_size, 64)
        self.num_classes = check_positive_int("data.num_classes", num_classes, 10, self.max_classes)
        self.root = root
        self._loaded: tuple[np.ndarray, np.ndarray] | None = None

    def _files(self) -> tuple[Path, list[Path]]:
        """The dataset folder and the training files to read (all checked to exist)."""
        raise NotImplementedError

    def _read(self, folder: Path, files: list[Path]) -> tuple[np.ndarray, np.ndarray]:
        """All training images as uint8 [N, H, W, 3] and integer labels [N]."""
        raise NotImplementedError

    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The training set, read once per process (per class, folder and file versions)."""
        if self._loaded is None:
            folder, files = self._files()
            key = (type(self).__name__, self.name, self.num_classes, str(folder), _signature(files))
            if key not in _CACHE:
                images, labels = self._read(folder, files)
                images.setflags(write=False)
                labels.setflags(write=False)
                _CACHE[key] = images, labels
            self._loaded = _CACHE[key]
            log.info("data=%s: %d training images in %s", self.name, len(self._loaded[1]), folder)
        return self._loaded

    def images_available(self) -> int:
        """How many training images the batch is drawn from (reads the files if needed)."""
        return int(len(self._arrays()[1]))

    def _root(self) -> Path:
        if not self.root:
            raise UserError(
                f"data={self.name} needs data.root=PATH (a folder holding the "
                f"{self.name} files; nothing is downloaded), or use data=synthetic"
            )
        root = Path(os.path.expanduser(str(self.root))).resolve()
        if not root.is_dir():
            raise UserError(
                f"data.root={self.root} does not exist: point it at the folder that "
                f"holds the {self.name} files, or use data=synthetic"
            )
        return root

    def batch(self, seed: int, dtype: torch.dtype, device: torch.device) -> Batch:
        images, labels = self._arrays()
        gen = torch.Generator().manual_seed(seed)
        idx = torch.randperm(len(labels), generator=gen)[: self.batch_size].numpy()
        x = torch.from_numpy(images[idx]).permute(0, 3, 1, 2).to(torch.float64) / 255.0
        x = _normalised(x, self.mean, self.std)
        y = torch.as_tensor(labels[idx], dtype=torch.long)
        y_rand = torch.randint(self.num_classes, (len(idx),), generator=gen)
        return Batch(x.to(device, dtype), y.to(device), y_rand.to(device))

    def search_split(
        self, batch_size: int | None = None, pad: int = 4, split_seed: int = 0
    ) -> SearchSplit:
        """The whole training set as DARTS search data (:class:`SearchSplit`), in batches of
        ``batch_size`` (default: ``data.batch_size``)."""
        images, labels = self._arrays()
        return SearchSplit(
            images,
            labels,
            self.mean,
            self.std,
            self.batch_size if batch_size is None else batch_size,
            pad,
            split_seed,
        )


# name -> (folder, training files, label key, classes, official archive)
_CIFAR = {
    "cifar10": (
        "cifar-10-batches-py",
        [f"data_batch_{i}" for i in range(1, 6)],
        "labels",
        10,
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    ),
    "cifar100": (
        "cifar-100-python",
        ["train"],
        "fine_labels",
        100,
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
    ),
}


class CIFAR(_ImageData):
    """CIFAR-10 / CIFAR-100 training set, read from the dataset's python pickles
    (``cifar-10-batches-py/data_batch_1..5`` or ``cifar-100-python/train``). ``root`` is the
    folder holding that folder, or that folder itself. Partial sets (fewer images per batch, as
    in ../shared/data/cifar10_subset) load as they are; there is no md5 check. ``num_classes``
    is the set's own (10 or 100; None: that one); any other is refused."""

    def __init__(
        self,
        name: str = "cifar10",
        root: str | None = None,
        batch_size: int = 64,
        num_classes: int | None = None,
    ):
        if not isinstance(name, str) or name not in _CIFAR:
            raise UserError(f"data.name={name} is not a CIFAR set: use cifar10 or cifar100")
        classes = _CIFAR[name][3]
        super().__init__(root, batch_size, classes if num_classes is None else num_classes)
        self.name = name
        if self.num_classes != classes:  # the labels run to classes-1: the classifier needs them
            raise UserError(
                f"data.num_classes={self.num_classes} does not match {name}, which "
                f"has {classes} classes: use data.num_classes={classes} (or "
                f"data={name}, which sets it)"
            )

    def _files(self):
        folder_name, names, _, _, url = _CIFAR[self.name]
        root = self._root()
        if (root / folder_name).is_dir():
            folder = root / folder_name
        elif root.name == folder_name or any((root / n).exists() for n in names):
            folder = root
        else:
            raise UserError(
                f"data.root={self.root} holds no {folder_name}/ folder: point "
                f"data.root at the folder holding {folder_name}/ (or at "
                f"{folder_name}/ itself; unpacked from {url}), or use "
                "data=synthetic"
            )
        files = [folder / n for n in names]
        missing = [f.name for f in files if not f.exists()]
        if missing:
            raise UserError(
                f"{folder} lacks {', '.join(missing)} (data={self.name} needs "
                f"{', '.join(names)}): restore the missing file(s) from {url}, "
                "or use data=synthetic"
            )
        return folder, files

    def _read(self, folder, files):
        _, _, label_key, classes, url = _CIFAR[self.name]
        fix = f"replace it with the original from {url}, or use data=synthetic"
        data, labels = [], []
        for f in files:
            d = load_batch_file(f, f"{self.name} python batch", fix)

            def bad(reason: str, f: Path = f) -> UserError:
                return UserError(f"{f} is not a valid {self.name} python batch ({reason}): {fix}")

            x = _images(d, "data", 3072, bad)
            data.append(x)
            labels.append(_labels(d, label_key, len(x), 0, classes - 1, bad))
        x, y = np.concatenate(data), np.concatenate(labels)
        if len(y) == 0:
            raise UserError(f"{folder} holds no training images: {fix}")
        return x.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), y


class ImageNet16(_ImageData):
    """ImageNet16-120 in NAS-Bench-201's format: pickled ``train_data_batch_*`` files with
    ``data`` (N×768 uint8, 16×16 RGB) and 1-based ``labels``; classes 1..num_classes are kept
    (as 0..num_classes-1). ``root`` is the folder holding the files (or holding
    ``ImageNet16/``)."""

    name = "imagenet16_120"
    mean, std = _IN16_MEAN, _IN16_STD
    max_classes = 1000  # the labels of the files run 1..1000; NAS-Bench-201 keeps 120

    def _files(self):
        root = self._root()
        folder = root
        files = sorted(p for p in folder.glob("train_data_batch_*"))
        if not files and (root / "ImageNet16").is_dir():
            folder = root / "ImageNet16"
            files = sorted(p for p in folder.glob("train_data_batch_*"))
        if not files:
            raise UserError(
                f"data.root={self.root} has no ImageNet16 train_data_batch_* files: "
                "point it at the ImageNet16 folder, or use data=synthetic"
            )
        return folder, files

    def _read(self, folder, files):
        fix = (
            "replace it with the original ImageNet16 file (NAS-Bench-201's "
            "ImageNet16-120 download), or use data=synthetic"
        )
        data, labels = [], []
        for f in files:
            d = load_batch_file(f, "ImageNet16 batch", fix)

            def bad(reason: str, f: Path = f) -> UserError:
                return UserError(f"{f} is not a valid ImageNet16 batch ({reason}): {fix}")

            x = _images(d, "data", 768, bad)
            data.append(x)
            labels.append(_labels(d, "labels", len(x), 1, 1000, bad) - 1)
        x, y = np.concatenate(data), np.concatenate(labels)
        keep = y < self.num_classes
        if not keep.any():
            raise UserError(
                f"{folder} holds no images of classes 1..{self.num_classes}: "
                "point data.root at the ImageNet16 folder, or use data=synthetic"
            )
        return x[keep].reshape(-1, 3, 16, 16).transpose(0, 2, 3, 1), y[keep]


class Synthetic(_ImageData):
    """Random normal images and uniform labels: for tests and for machines without datasets.
    Results on it are labelled ``data=synthetic`` in every CSV; never real-data numbers.
    ``images_available()`` is 0: there is no image set, each batch is generated."""

    name = "synthetic"
    synthetic = True

    def __init__(
        self,
        batch_size: int = 64,
        num_classes: int = 10,
        input_size: int = 32,
        train_images: int = 512,
    ):
        super().__init__(None, batch_size, num_classes)
        self.input_size = check_positive_int("data.input_size", input_size, 32)
        self.train_images = check_positive_int("data.train_images", train_images, 512)

    def images_available(self) -> int:
        return 0

    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The training set of :meth:`search_split`: ``train_images`` random uint8 images and
        uniform labels, the same on every call (a fixed generator)."""
        if self._loaded is None:
            rng = np.random.default_rng(0)
            shape = (self.train_images, self.input_size, self.input_size, 3)
            self._loaded = (
                rng.integers(0, 256, shape, dtype=np.uint8),
                rng.integers(0, self.num_classes, self.train_images),
            )
        return self._loaded

    def batch(self, seed: int, dtype: torch.dtype, device: torch.device) -> Batch:
        gen = torch.Generator().manual_seed(seed)
        shape = (self.batch_size, 3, self.input_size, self.input_size)
        x = torch.randn(shape, generator=gen, dtype=torch.float64)
        y = torch.randint(self.num_classes, (self.batch_size,), generator=gen)
        y_rand = torch.randint(self.num_classes, (self.batch_size,), generator=gen)
        return Batch(x.to(device, dtype), y.to(device), y_rand.to(device))
