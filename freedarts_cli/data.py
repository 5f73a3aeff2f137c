"""One batch of images for the label-dependent scores (SNIP-α, ZEROS-L, GraSP-α).

A data unit is selected with ``data=`` and offers ``batch(seed, dtype, device) -> Batch``. The
batch is drawn with its own generator seeded by the run's seed, so it is reproducible and does
not disturb the random stream that initialises the supernet. Nothing is ever downloaded.
"""
from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from .errors import UserError

# Per-channel statistics used by NAS-Bench-201's CIFAR pipelines (values / 255).
_CIFAR_MEAN = (125.3 / 255, 123.0 / 255, 113.9 / 255)
_CIFAR_STD = (63.0 / 255, 62.1 / 255, 66.7 / 255)
_IN16_MEAN = (122.68 / 255, 116.66 / 255, 104.01 / 255)
_IN16_STD = (63.22 / 255, 61.26 / 255, 65.09 / 255)


@dataclass
class Batch:
    images: torch.Tensor        # [B, 3, H, W], normalised
    labels: torch.Tensor        # true labels
    random_labels: torch.Tensor  # uniform labels for ZEROS-L, same seed


class _ImageData:
    """Shared part: pick ``batch_size`` random training images, normalise, attach labels."""

    name = "?"
    synthetic = False
    mean, std = _CIFAR_MEAN, _CIFAR_STD

    def __init__(self, root: Optional[str] = None, batch_size: int = 64, num_classes: int = 10):
        self.root, self.batch_size, self.num_classes = root, batch_size, num_classes

    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All training images as uint8 [N, H, W, 3] and integer labels [N]."""
        raise NotImplementedError

    def _root(self) -> Path:
        if not self.root:
            raise UserError(f"data={self.name} needs data.root=PATH (a folder holding the "
                            f"{self.name} files; nothing is downloaded), or use data=synthetic")
        root = Path(os.path.expanduser(str(self.root)))
        if not root.is_dir():
            raise UserError(f"data.root={self.root} does not exist: point it at the folder that "
                            f"holds the {self.name} files, or use data=synthetic")
        return root

    def batch(self, seed: int, dtype: torch.dtype, device: torch.device) -> Batch:
        images, labels = self._arrays()
        gen = torch.Generator().manual_seed(seed)
        idx = torch.randperm(len(labels), generator=gen)[: self.batch_size].numpy()
        x = torch.from_numpy(images[idx]).permute(0, 3, 1, 2).to(torch.float64) / 255.0
        mean = torch.tensor(self.mean, dtype=torch.float64).view(1, 3, 1, 1)
        std = torch.tensor(self.std, dtype=torch.float64).view(1, 3, 1, 1)
        x = (x - mean) / std
        y = torch.as_tensor(labels[idx], dtype=torch.long)
        y_rand = torch.randint(self.num_classes, (len(idx),), generator=gen)
        return Batch(x.to(device, dtype), y.to(device), y_rand.to(device))


class CIFAR(_ImageData):
    """CIFAR-10 / CIFAR-100 training set through torchvision (``download=False``)."""

    def __init__(self, name: str = "cifar10", root: Optional[str] = None, batch_size: int = 64,
                 num_classes: int = 10):
        super().__init__(root, batch_size, num_classes)
        self.name = name

    def _arrays(self):
        import torchvision

        cls = torchvision.datasets.CIFAR100 if self.name == "cifar100" else torchvision.datasets.CIFAR10
        root = self._root()
        try:
            ds = cls(str(root), train=True, download=False)
        except RuntimeError:
            folder = "cifar-100-python" if self.name == "cifar100" else "cifar-10-batches-py"
            raise UserError(f"data.root={self.root} holds no {self.name} ({folder}/ not found "
                            "or corrupted): point data.root at its parent folder, or use "
                            "data=synthetic") from None
        return np.asarray(ds.data), np.asarray(ds.targets)


class ImageNet16(_ImageData):
    """ImageNet16-120 in NAS-Bench-201's format: pickled ``train_data_batch_*`` files with
    ``data`` (N×3072 uint8) and 1-based ``labels``; classes 1..120 are kept."""

    name = "imagenet16_120"
    mean, std = _IN16_MEAN, _IN16_STD

    def _arrays(self):
        files = sorted(self._root().glob("train_data_batch_*"))
        if not files:
            raise UserError(f"data.root={self.root} has no ImageNet16 train_data_batch_* files: "
                            "point it at the ImageNet16 folder, or use data=synthetic")
        data, labels = [], []
        for f in files:
            with open(f, "rb") as fh:
                d = pickle.load(fh, encoding="latin1")
            data.append(np.asarray(d["data"], dtype=np.uint8))
            labels.append(np.asarray(d["labels"]) - 1)
        x, y = np.concatenate(data), np.concatenate(labels)
        keep = y < self.num_classes
        return x[keep].reshape(-1, 3, 16, 16).transpose(0, 2, 3, 1), y[keep]


class Synthetic(_ImageData):
    """Random normal images and uniform labels: for tests and for machines without datasets.
    Results on it are labelled ``data=synthetic`` in every CSV; never real-data numbers."""

    name = "synthetic"
    synthetic = True

    def __init__(self, batch_size: int = 64, num_classes: int = 10, input_size: int = 32):
        super().__init__(None, batch_size, num_classes)
        self.input_size = input_size

    def batch(self, seed: int, dtype: torch.dtype, device: torch.device) -> Batch:
        gen = torch.Generator().manual_seed(seed)
        shape = (self.batch_size, 3, self.input_size, self.input_size)
        x = torch.randn(shape, generator=gen, dtype=torch.float64)
        y = torch.randint(self.num_classes, (self.batch_size,), generator=gen)
        y_rand = torch.randint(self.num_classes, (self.batch_size,), generator=gen)
        return Batch(x.to(device, dtype), y.to(device), y_rand.to(device))
