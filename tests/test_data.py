"""The data units: CIFAR / ImageNet16 read from their python pickles by a restricted loader
(tiny fixtures written in the real on-disk format, and the real ../shared CIFAR-10 subset)."""

import logging
import os
import pickle
import struct

import numpy as np
import pytest
import torch

from freedarts_cli import data as data_mod
from freedarts_cli.data import CIFAR, ImageNet16, Synthetic
from freedarts_cli.errors import UserError

from .conftest import freedarts

CPU = torch.device("cpu")
BATCHES = [f"data_batch_{i}" for i in range(1, 6)]


def dump(path, obj):
    """Write ``obj`` as the real files are written: a protocol-2 pickle."""
    with open(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=2)


def cifar_batch(rng, n, label_key="labels", classes=10, i=1):
    return {
        "batch_label": f"training batch {i} of 5",
        label_key: rng.integers(0, classes, n).tolist(),
        "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        "filenames": [f"img_{i}_{j}.png" for j in range(n)],
    }


def write_cifar10(root, n=20, seed=0):
    """A tiny CIFAR-10 in the dataset's own format (cifar-10-batches-py pickles)."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    batches = {}
    for i, name in enumerate(BATCHES + ["test_batch"], 1):
        batches[name] = cifar_batch(rng, n, i=i)
        dump(folder / name, batches[name])
    dump(
        folder / "batches.meta",
        {"label_names": [f"c{i}" for i in range(10)], "num_cases_per_batch": n, "num_vis": 3072},
    )
    return folder, batches


def reference_arrays(folder, names, label_key="labels"):
    """The training set as torchvision builds it (plain pickle: only for trusted files)."""
    data, labels = [], []
    for name in names:
        with open(folder / name, "rb") as fh:
            d = pickle.load(fh, encoding="latin1")
        data.append(d["data"])
        labels.extend(d[label_key])
    return (np.vstack(data).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), np.asarray(labels))


def expected_batch(images, labels, seed, size, mean, std):
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(labels), generator=gen)[:size].numpy()
    x = torch.from_numpy(images[idx].astype(np.float64) / 255.0).permute(0, 3, 1, 2)
    mean = torch.tensor(mean, dtype=torch.float64).view(1, 3, 1, 1)
    x = (x - mean) / torch.tensor(std, dtype=torch.float64).view(1, 3, 1, 1)
    return x, torch.as_tensor(labels[idx])


def user_error(data, *names):
    """The UserError ``data`` raises on loading: one line, naming each of ``names``."""
    with pytest.raises(UserError) as info:
        data.batch(0, torch.float64, CPU)
    msg = str(info.value)
    assert "\n" not in msg
    for name in names:
        assert str(name) in msg, msg
    return msg


class Payload:
    """A pickle that runs a shell command when loaded by a plain ``pickle.load``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"echo pwned > {self.marker}",)


# ----------------------------------------------------------------------------- tiny fixtures


def test_cifar10_batch_read_from_the_pickles(tmp_path):
    folder, _ = write_cifar10(tmp_path, n=20)
    data = CIFAR("cifar10", root=str(tmp_path), batch_size=16)
    assert data.images_available() == 100  # 5 training batches, test_batch unread
    b = data.batch(3, torch.float64, CPU)
    assert b.images.shape == (16, 3, 32, 32) and b.images.dtype == torch.float64
    images, labels = reference_arrays(folder, BATCHES)
    x, y = expected_batch(images, labels, 3, 16, data_mod._CIFAR_MEAN, data_mod._CIFAR_STD)
    assert torch.equal(b.images, x) and torch.equal(b.labels, y)
    assert torch.equal(b.images, data.batch(3, torch.float64, CPU).images)  # seeded
    assert not torch.equal(b.images, data.batch(4, torch.float64, CPU).images)
    assert b.random_labels.min() >= 0 and b.random_labels.max() < 10


def test_cifar_root_may_be_the_parent_or_the_folder(tmp_path):
    folder, _ = write_cifar10(tmp_path, n=7)
    a = CIFAR("cifar10", root=str(tmp_path))._arrays()
    b = CIFAR("cifar10", root=str(folder))._arrays()
    assert len(a[1]) == len(b[1]) == 35
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_cifar100_reads_fine_labels(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    rng = np.random.default_rng(1)
    train = cifar_batch(rng, 30, label_key="fine_labels", classes=100)
    train["coarse_labels"] = rng.integers(0, 20, 30).tolist()
    dump(folder / "train", train)
    data = CIFAR("cifar100", root=str(tmp_path), batch_size=8, num_classes=100)
    images, labels = data._arrays()
    assert images.shape == (30, 32, 32, 3)
    assert np.array_equal(labels, train["fine_labels"])
    assert CIFAR("cifar100", root=str(folder)).images_available() == 30
    # a CIFAR-10 folder is not a CIFAR-100 one
    write_cifar10(tmp_path / "other", n=3)
    user_error(CIFAR("cifar100", root=str(tmp_path / "other")), "cifar-100-python")


def test_python2_globals_and_bytes_keys_load(tmp_path):
    """The original files (Python 2) name numpy.core.multiarray; bytes keys are decoded."""
    folder, _ = write_cifar10(tmp_path, n=4)
    rng = np.random.default_rng(5)
    batch = {b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), b"labels": [1, 2, 3, 4]}
    raw = pickle.dumps(batch, protocol=2)
    assert b"numpy._core.multiarray\n_reconstruct" in raw
    raw = raw.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    (folder / "data_batch_1").write_bytes(raw)
    images, labels = CIFAR("cifar10", root=str(folder))._arrays()
    assert np.array_equal(images[:4], batch[b"data"].reshape(4, 3, 32, 32).transpose(0, 2, 3, 1))
    assert labels[:4].tolist() == [1, 2, 3, 4] and len(labels) == 20


def py2_pickle(data, labels):
    """A batch as the original CIFAR files were written (Python 2 cPickle, protocol 2, numpy
    1.x): str opcodes for keys and raw bytes, numpy.core globals, dtype('u1', 0, 1)."""
    raw = data.tobytes()
    return (
        b"\x80\x02}q\x00(U\x04data"
        b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R"
        b"(K\x01M" + struct.pack("<H", len(data)) + b"M\x00\x0c\x86"
        b"cnumpy\ndtype\nU\x02u1K\x00K\x01\x87R"
        b"(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
        b"\x89T" + struct.pack("<I", len(raw)) + raw + b"tb"
        b"U\x06labels](" + b"".join(b"K" + bytes([v]) for v in labels) + b"e"
        b"U\x0bbatch_labelU\x05batchu."
    )


def test_the_original_python2_format_loads(tmp_path):
    folder, _ = write_cifar10(tmp_path, n=4)
    x = np.random.default_rng(7).integers(0, 256, (6, 3072), dtype=np.uint8)
    raw = py2_pickle(x, [9, 8, 7, 6, 5, 4])
    assert np.array_equal(pickle.loads(raw, encoding="latin1")["data"], x)  # a valid pickle
    (folder / "data_batch_2").write_bytes(raw)
    images, labels = CIFAR("cifar10", root=str(folder))._arrays()
    assert len(labels) == 22 and labels[4:10].tolist() == [9, 8, 7, 6, 5, 4]
    assert np.array_equal(images[4:10], x.reshape(6, 3, 32, 32).transpose(0, 2, 3, 1))


def test_missing_cifar_is_a_user_error(tmp_path):
    user_error(CIFAR("cifar10", root=str(tmp_path)), "cifar-10-batches-py", tmp_path)
    user_error(CIFAR("cifar10", root=None), "data.root")
    user_error(CIFAR("cifar10", root=str(tmp_path / "nowhere")), "does not exist")


def test_a_missing_training_batch_is_named(tmp_path):
    folder, _ = write_cifar10(tmp_path, n=3)
    (folder / "data_batch_3").unlink()
    msg = user_error(CIFAR("cifar10", root=str(tmp_path)), folder, "data_batch_3")
    assert "data_batch_1" not in msg.split("needs")[0]


@pytest.mark.parametrize(
    "content",
    [
        np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes(),  # garbage
        b"\x80\x02" + np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes(),
        b"",
        b"data,labels\n1,2\n",
    ],
    ids=["random", "random-after-pickle-header", "empty", "text"],
)
def test_a_garbled_batch_is_a_user_error(tmp_path, content):
    folder, _ = write_cifar10(tmp_path, n=3)
    (folder / "data_batch_2").write_bytes(content)
    user_error(CIFAR("cifar10", root=str(tmp_path)), folder / "data_batch_2", "data=synthetic")


def test_a_truncated_batch_is_a_user_error(tmp_path):
    folder, _ = write_cifar10(tmp_path, n=30)
    raw = (folder / "data_batch_4").read_bytes()
    (folder / "data_batch_4").write_bytes(raw[: len(raw) // 2])
    user_error(CIFAR("cifar10", root=str(tmp_path)), folder / "data_batch_4")


def test_an_oversized_file_is_refused_before_reading(tmp_path, monkeypatch):
    folder, _ = write_cifar10(tmp_path, n=3)
    monkeypatch.setattr(data_mod, "MAX_PICKLE_BYTES", 1000)
    monkeypatch.setattr(data_mod, "ArrayUnpickler", None)  # never reached
    user_error(CIFAR("cifar10", root=str(tmp_path)), folder / "data_batch_1", "bytes")


def _rng_batch(n=5):
    rng = np.random.default_rng(2)
    return {
        "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        "labels": rng.integers(0, 10, n).tolist(),
    }


@pytest.mark.parametrize(
    "change,reason",
    [
        (lambda d: d.update(data=d["data"][:, :3071]), "uint8 N×3072"),
        (lambda d: d.update(data=d["data"].reshape(-1)), "uint8 N×3072"),
        (lambda d: d.update(data=d["data"].astype(np.float32)), "float32"),
        (lambda d: d.update(data=d["data"].astype(np.int64)), "int64"),
        (lambda d: d.update(data=d["data"].tolist()), "list"),
        (lambda d: d.update(labels=d["labels"][:-1]), "4 'labels' for 5 images"),
        (lambda d: d.update(labels=d["labels"] + [0]), "6 'labels' for 5 images"),
        (lambda d: d.update(labels=[10] * 5), "outside 0..9"),
        (lambda d: d.update(labels=[-1] * 5), "outside 0..9"),
        (lambda d: d.update(labels=[0.5] * 5), "not integers"),
        (lambda d: d.update(labels="01234"), "str"),
        (lambda d: d.pop("labels"), "no 'labels'"),
        (lambda d: d.pop("data"), "no 'data'"),
    ],
    ids=[
        "width",
        "flat",
        "float",
        "int64",
        "list",
        "few-labels",
        "many-labels",
        "label-10",
        "label-negative",
        "label-float",
        "label-str",
        "no-labels",
        "no-data",
    ],
)
def test_a_wrong_shape_batch_is_a_user_error(tmp_path, change, reason):
    folder, _ = write_cifar10(tmp_path, n=3)
    batch = _rng_batch()
    change(batch)
    dump(folder / "data_batch_5", batch)
    user_error(CIFAR("cifar10", root=str(tmp_path)), folder / "data_batch_5", reason)


@pytest.mark.parametrize(
    "content,reason",
    [
        ([1, 2, 3], "list"),
        ("a string", "str"),
        (np.zeros((2, 3072), dtype=np.uint8), "ndarray"),
    ],
    ids=["list", "str", "array"],
)
def test_a_batch_that_is_not_a_dict_is_a_user_error(tmp_path, content, reason):
    folder, _ = write_cifar10(tmp_path, n=3)
    dump(folder / "data_batch_1", content)
    user_error(CIFAR("cifar10", root=str(tmp_path)), folder / "data_batch_1", "not a dict", reason)


def test_an_object_array_is_refused(tmp_path):
    folder, _ = write_cifar10(tmp_path, n=3)
    batch = _rng_batch()
    batch["data"] = np.array([[1] * 3072] * 5, dtype=object)
    dump(folder / "data_batch_1", batch)
    user_error(CIFAR("cifar10", root=str(tmp_path)), folder / "data_batch_1", "object")


def test_a_malicious_cifar_pickle_is_refused_unrun(tmp_path):
    # the payload is real: a plain pickle.load runs it
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(Payload(control), protocol=2))
    assert control.is_file()

    folder, _ = write_cifar10(tmp_path, n=3)
    marker = tmp_path / "pwned"
    batch = _rng_batch()
    batch["data"] = Payload(marker)
    dump(folder / "data_batch_1", batch)
    user_error(
        CIFAR("cifar10", root=str(tmp_path)),
        folder / "data_batch_1",
        f"{os.system.__module__}.system",
        "refused",
    )
    assert not marker.exists()


@pytest.mark.parametrize(
    "global_name",
    [b"builtins\neval", b"numpy\nload", b"numpy.core.multiarray\nscalar", b"os\nsystem"],
)
def test_any_other_global_is_refused(tmp_path, global_name):
    folder, _ = write_cifar10(tmp_path, n=3)
    raw = pickle.dumps(_rng_batch(), protocol=2)
    raw = raw.replace(b"_codecs\nencode", global_name)
    (folder / "data_batch_1").write_bytes(raw)
    user_error(
        CIFAR("cifar10", root=str(tmp_path)),
        folder / "data_batch_1",
        global_name.decode().replace("\n", "."),
    )


def test_arrays_are_read_once_per_process(tmp_path, monkeypatch, caplog):
    write_cifar10(tmp_path, n=5)
    calls = []
    real = data_mod.load_batch_file

    def counting(path, *args):
        calls.append(path.name)
        return real(path, *args)

    monkeypatch.setattr(data_mod, "load_batch_file", counting)
    caplog.set_level(logging.INFO, logger="freedarts")
    for _ in range(3):  # three jobs of a sweep, each with its own data unit
        data = CIFAR("cifar10", root=str(tmp_path), batch_size=4)
        data.batch(0, torch.float32, CPU)
        data.batch(1, torch.float32, CPU)
        assert data.images_available() == 25
    assert sorted(calls) == BATCHES
    assert "data=cifar10: 25 training images in" in caplog.text
    # both root forms are the same resolved folder: still no second read
    CIFAR("cifar10", root=str(tmp_path / "cifar-10-batches-py")).batch(0, torch.float32, CPU)
    assert sorted(calls) == BATCHES
    # a rewritten file is read again
    write_cifar10(tmp_path, n=6, seed=1)
    assert CIFAR("cifar10", root=str(tmp_path)).images_available() == 30


def test_a_garbled_folder_is_one_error_line_from_the_cli(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "data_batch_1").write_bytes(np.random.default_rng(3).bytes(5000))
    for name in BATCHES[1:]:
        dump(folder / name, _rng_batch())
    out = freedarts(
        "search",
        "scorer=snip",
        "data=cifar10",
        f"data.root={tmp_path}",
        "benchmark=none",
        f"hydra.run.dir={tmp_path / 'run'}",
        cwd=tmp_path,
    )
    assert out.returncode == 2, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "data_batch_1" in lines[0], out.stderr
    assert "Traceback" not in out.stderr + out.stdout


# ----------------------------------------------------------------------------- ImageNet16


def write_imagenet16(root, sizes=(50, 50), seed=0):
    rng = np.random.default_rng(seed)
    for i, n in enumerate(sizes, 1):
        dump(
            root / f"train_data_batch_{i}",
            {
                "data": rng.integers(0, 256, (n, 768), dtype=np.uint8),
                "labels": rng.integers(1, 1001, n).tolist(),
                "mean": rng.random(768),
            },
        )


def test_imagenet16_batches_keep_120_classes(tmp_path):
    rng = np.random.default_rng(0)
    batches = []
    for i in (1, 2):
        batch = {
            "data": rng.integers(0, 256, (300, 768), dtype=np.uint8),
            "labels": rng.integers(1, 1001, 300).tolist(),
            "mean": rng.random(768),
        }
        batch["labels"][:3] = [1, 120, 121]
        dump(tmp_path / f"train_data_batch_{i}", batch)
        batches.append(batch)
    data = ImageNet16(root=str(tmp_path), batch_size=8, num_classes=120)
    images, labels = data._arrays()
    y = np.concatenate([b["labels"] for b in batches]) - 1
    x = np.concatenate([b["data"] for b in batches])
    keep = y < 120
    assert np.array_equal(labels, y[keep]) and labels.min() >= 0 and labels.max() < 120
    assert np.array_equal(images, x[keep].reshape(-1, 3, 16, 16).transpose(0, 2, 3, 1))
    assert data.images_available() == keep.sum() > 0
    b = data.batch(0, torch.float64, CPU)
    assert b.images.shape == (8, 3, 16, 16)


def test_imagenet16_missing_and_garbled(tmp_path):
    user_error(ImageNet16(root=str(tmp_path)), "train_data_batch_", tmp_path)
    write_imagenet16(tmp_path)
    (tmp_path / "train_data_batch_2").write_bytes(np.random.default_rng(4).bytes(5000))
    user_error(ImageNet16(root=str(tmp_path)), tmp_path / "train_data_batch_2")


@pytest.mark.parametrize(
    "change,reason",
    [
        (lambda d: d.update(data=d["data"][:, :767]), "uint8 N×768"),
        (lambda d: d.update(labels=d["labels"][1:]), "'labels' for"),
        (lambda d: d.update(labels=[0] * len(d["labels"])), "outside 1..1000"),
        (lambda d: d.pop("labels"), "no 'labels'"),
    ],
    ids=["width", "few-labels", "zero-based", "no-labels"],
)
def test_imagenet16_wrong_shape(tmp_path, change, reason):
    write_imagenet16(tmp_path, sizes=(10, 10))
    rng = np.random.default_rng(6)
    batch = {
        "data": rng.integers(0, 256, (10, 768), dtype=np.uint8),
        "labels": rng.integers(1, 121, 10).tolist(),
    }
    change(batch)
    dump(tmp_path / "train_data_batch_1", batch)
    user_error(ImageNet16(root=str(tmp_path)), tmp_path / "train_data_batch_1", reason)


def test_a_malicious_imagenet16_pickle_is_refused_unrun(tmp_path):
    write_imagenet16(tmp_path, sizes=(10, 10))
    marker = tmp_path / "pwned"
    dump(tmp_path / "train_data_batch_2", {"data": Payload(marker), "labels": [1]})
    user_error(
        ImageNet16(root=str(tmp_path)),
        tmp_path / "train_data_batch_2",
        f"{os.system.__module__}.system",
        "refused",
    )
    assert not marker.exists()


def test_an_imagenet16_pickle_payload_is_never_executed_from_the_cli(tmp_path):
    write_imagenet16(tmp_path, sizes=(10,))
    marker = tmp_path / "pwned"
    dump(tmp_path / "train_data_batch_2", {"data": Payload(marker), "labels": [1]})
    out = freedarts(
        "search",
        "scorer=snip",
        "data=imagenet16_120",
        f"data.root={tmp_path}",
        "benchmark=none",
        "space.N=1",
        f"hydra.run.dir={tmp_path / 'run'}",
        cwd=tmp_path,
    )
    assert out.returncode == 2, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "train_data_batch_2" in lines[0] and "refused" in lines[0]
    assert not marker.exists()


# ----------------------------------------------------------------------------- options

UNITS = {
    "synthetic": lambda **kw: Synthetic(**kw),
    "cifar10": lambda **kw: CIFAR("cifar10", root="/nowhere", **kw),
    "imagenet16_120": lambda **kw: ImageNet16(root="/nowhere", **kw),
}


@pytest.mark.parametrize("unit", sorted(UNITS))
@pytest.mark.parametrize("value", [0, -1, 1.5, True, "abc", None])
def test_batch_size_must_be_a_positive_integer(unit, value):
    # refused where the option is read, before any file is looked for
    with pytest.raises(
        UserError,
        match=rf"^data.batch_size={value} is not a positive integer: "
        r"use e.g. data.batch_size=64$",
    ):
        UNITS[unit](batch_size=value)
    assert UNITS[unit](batch_size=1).batch_size == 1


@pytest.mark.parametrize("option", ["num_classes", "input_size"])
@pytest.mark.parametrize("value", [0, -3, 2.0, False, "ten"])
def test_num_classes_and_input_size_must_be_positive_integers(option, value):
    with pytest.raises(UserError, match=rf"^data.{option}={value} is not a positive integer"):
        Synthetic(**{option: value})


def test_imagenet16_keeps_at_most_its_1000_classes():
    assert ImageNet16(root="/nowhere", num_classes=1000).num_classes == 1000
    with pytest.raises(UserError, match="data.num_classes=1001 is not an integer from 1 to 1000"):
        ImageNet16(root="/nowhere", num_classes=1001)


def test_cifar_num_classes_must_match_the_set():
    assert CIFAR("cifar100", root="/nowhere").num_classes == 100  # the set's own by default
    with pytest.raises(
        UserError,
        match="data.num_classes=10 does not match cifar100, which has "
        "100 classes: use data.num_classes=100",
    ):
        CIFAR("cifar100", root="/nowhere", num_classes=10)
    with pytest.raises(UserError, match=r"data.name=\['cifar10'\] is not a CIFAR set"):
        CIFAR(["cifar10"], root="/nowhere")


@pytest.mark.parametrize("value", ["0", "-1"])
def test_a_bad_batch_size_is_one_error_line_from_the_cli(tmp_path, value):
    out = freedarts(
        "search",
        "scorer=snip",
        "data=synthetic",
        f"data.batch_size={value}",
        "benchmark=none",
        "space.N=1",
        f"hydra.run.dir={tmp_path / 'run'}",
        cwd=tmp_path,
    )
    assert out.returncode == 2, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert lines == [
        f"error: data.batch_size={value} is not a positive integer: use e.g. data.batch_size=64"
    ], out.stderr
    assert "Traceback" not in out.stderr + out.stdout


def test_synthetic_is_seeded_and_labels_differ():
    a = Synthetic(batch_size=32).batch(1, torch.float64, CPU)
    b = Synthetic(batch_size=32).batch(1, torch.float64, CPU)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.labels, a.random_labels)
    assert Synthetic(batch_size=32).images_available() == 0  # no image set: generated


# ----------------------------------------------------------------------------- real subset


def test_the_shared_cifar10_subset_loads(cifar10_subset):
    folder = cifar10_subset / "cifar-10-batches-py"
    data = CIFAR("cifar10", root=str(cifar10_subset), batch_size=64)
    images, labels = data._arrays()
    assert data.images_available() == 4660 and images.shape == (4660, 32, 32, 3)
    assert images.dtype == np.uint8
    # the original first training labels: frog, truck, truck, deer, automobile, automobile, ...
    assert labels[:10].tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
    counts = np.bincount(labels, minlength=10)
    assert len(counts) == 10 and counts.min() >= 435 and counts.max() <= 489
    ref_images, ref_labels = reference_arrays(folder, BATCHES)
    assert np.array_equal(images, ref_images) and np.array_equal(labels, ref_labels)
    same = CIFAR("cifar10", root=str(folder))._arrays()
    assert np.array_equal(same[0], images) and np.array_equal(same[1], labels)
    b = data.batch(0, torch.float64, CPU)
    x, y = expected_batch(ref_images, ref_labels, 0, 64, data_mod._CIFAR_MEAN, data_mod._CIFAR_STD)
    assert torch.equal(b.images, x) and torch.equal(b.labels, y)
    assert abs(b.images.mean().item()) < 0.5  # normalised


# ----------------------------------------------------------------------------- search split


def search_split(tmp_path, n=20, **options):
    write_cifar10(tmp_path, n=n)
    return CIFAR(root=str(tmp_path), batch_size=8).search_split(**options)


def test_the_search_split_halves_are_disjoint_equal_and_fixed(tmp_path):
    split = search_split(tmp_path)  # 100 training images
    train, valid = split.halves
    assert len(train) == len(valid) == split.half_size == 50
    assert not set(train) & set(valid)
    again = CIFAR(root=str(tmp_path), batch_size=8).search_split()
    assert all(np.array_equal(a, b) for a, b in zip(split.halves, again.halves, strict=True))
    other = CIFAR(root=str(tmp_path), batch_size=8).search_split(split_seed=1)
    assert not np.array_equal(split.halves[0], other.halves[0])


def test_an_epoch_is_replayed_exactly_and_covers_each_half_once(tmp_path):
    split = search_split(tmp_path)
    one = list(split.epoch(3, 2, torch.float64, CPU))
    two = list(split.epoch(3, 2, torch.float64, CPU))
    assert len(one) == split.steps() == 7  # 50 images in batches of 8: the last holds 2
    assert [len(t.labels) for t, _ in one] == [8] * 6 + [2]
    for (t1, v1), (t2, v2) in zip(one, two, strict=True):
        assert torch.equal(t1.images, t2.images) and torch.equal(v1.labels, v2.labels)
    later = list(split.epoch(3, 3, torch.float64, CPU))
    assert not torch.equal(one[0][0].images, later[0][0].images)
    labels = np.concatenate([t.labels.numpy() for t, _ in one])
    assert sorted(labels) == sorted(split.labels[split.halves[0]])
    assert len(list(split.epoch(3, 2, torch.float64, CPU, steps=2))) == 2


def test_augmentation_is_a_padded_crop_and_maybe_a_flip_of_the_image(tmp_path):
    """Every training image is one of the 9x9 crops of the 4-pixel zero-padded image, flipped or
    not (torchvision's RandomCrop(32, padding=4) + RandomHorizontalFlip), then normalised."""
    split = search_split(tmp_path)
    mean = torch.tensor(data_mod._CIFAR_MEAN, dtype=torch.float64).view(3, 1, 1)
    std = torch.tensor(data_mod._CIFAR_STD, dtype=torch.float64).view(3, 1, 1)
    gen = torch.Generator().manual_seed(0)
    idx = split.halves[0][:8]
    batch = split._augmented(idx, gen, torch.float64, CPU)
    flips = 0
    for x, i in zip(batch.images, idx, strict=True):
        raw = torch.from_numpy(split.images[i]).permute(2, 0, 1).double() / 255
        padded = torch.nn.functional.pad(raw, (4, 4, 4, 4))
        pixels = x * std + mean
        found = [
            (dy, dx, f)
            for dy in range(9)
            for dx in range(9)
            for f in (False, True)
            if torch.allclose(
                pixels, (lambda c: c.flip(-1) if f else c)(padded[:, dy : dy + 32, dx : dx + 32])
            )
        ]
        assert found, "an augmented image is no crop/flip of its original"
        flips += found[0][2]
    assert 0 < flips < 8
    assert torch.equal(batch.labels, torch.as_tensor(split.labels[idx]))


def test_synthetic_data_has_a_training_set_for_search_splits():
    split = Synthetic(batch_size=16, train_images=64).search_split()
    assert split.half_size == 32 and split.steps() == 2
    (train, valid), _ = list(split.epoch(0, 0, torch.float32, CPU))
    assert train.images.shape == (16, 3, 32, 32) and train.images.dtype == torch.float32


def test_the_real_subset_splits_in_two_halves(cifar10_subset):
    split = CIFAR(root=str(cifar10_subset)).search_split()
    assert split.half_size == 2330 and split.steps() == 37
