import pickle

import numpy as np
import pytest
import torch

from freedarts_cli.data import CIFAR, ImageNet16, Synthetic
from freedarts_cli.errors import UserError

CPU = torch.device("cpu")


def write_cifar10(root, n=20):
    """A tiny CIFAR-10 in torchvision's on-disk format (cifar-10-batches-py pickles)."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 "labels": rng.integers(0, 10, n).tolist()}
        with open(folder / name, "wb") as fh:
            pickle.dump(batch, fh)
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump({"label_names": [f"c{i}" for i in range(10)]}, fh)


def test_cifar10_batch_through_torchvision(tmp_path, monkeypatch):
    import torchvision

    write_cifar10(tmp_path)
    # The real files carry md5 sums a tiny fixture cannot match; everything else is real.
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *a, **k: True)
    data = CIFAR("cifar10", root=str(tmp_path), batch_size=16)
    b = data.batch(3, torch.float64, CPU)
    assert b.images.shape == (16, 3, 32, 32) and b.images.dtype == torch.float64
    assert b.labels.min() >= 0 and b.labels.max() < 10
    assert torch.equal(b.images, data.batch(3, torch.float64, CPU).images)  # seeded
    assert not torch.equal(b.images, data.batch(4, torch.float64, CPU).images)


def test_missing_cifar_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="cifar-10-batches-py"):
        CIFAR("cifar10", root=str(tmp_path)).batch(0, torch.float64, CPU)
    with pytest.raises(UserError, match="data.root"):
        CIFAR("cifar10", root=None).batch(0, torch.float64, CPU)


def test_imagenet16_batches_keep_120_classes(tmp_path):
    rng = np.random.default_rng(0)
    for i in (1, 2):
        with open(tmp_path / f"train_data_batch_{i}", "wb") as fh:
            pickle.dump({"data": rng.integers(0, 256, (50, 768), dtype=np.uint8),
                         "labels": rng.integers(1, 1001, 50).tolist()}, fh)
    data = ImageNet16(root=str(tmp_path), batch_size=8, num_classes=120)
    images, labels = data._arrays()
    assert images.shape[1:] == (16, 16, 3) and (labels < 120).all() and (labels >= 0).all()
    b = data.batch(0, torch.float64, CPU)
    assert b.images.shape == (min(8, len(labels)), 3, 16, 16)


def test_synthetic_is_seeded_and_labels_differ():
    a = Synthetic(batch_size=32).batch(1, torch.float64, CPU)
    b = Synthetic(batch_size=32).batch(1, torch.float64, CPU)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.labels, a.random_labels)
