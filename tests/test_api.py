"""The Python API (freedarts_cli.api): score any nn.Module, load a real batch, search and
correlate in-process."""

import logging
import math
import re
import subprocess
import sys

import pandas as pd
import pytest
import torch
import torchvision
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from freedarts_cli import correlate, load_batch, score, search
from freedarts_cli.data import CIFAR, Synthetic
from freedarts_cli.errors import UserError
from freedarts_cli.proxies import AGGREGATES, PROXIES, ProxyError
from freedarts_cli.spaces.nb201 import NB201Space

from .conftest import REPO

CPU = torch.device("cpu")
THREE = ["synflow", "nwot", "snip"]


def batch(n=8, seed=0, size=32):
    b = Synthetic(batch_size=n, input_size=size).batch(seed, torch.float32, CPU)
    return b.images, b.labels


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    return torchvision.models.resnet18(num_classes=10)


def nb201_network():
    torch.manual_seed(0)
    return NB201Space(N=1).network([2, 3, 4, 1, 3, 2], torch.float32, CPU)


def plain_cnn():
    """No BatchNorm, no nn.ModuleList of blocks, no input_shape attribute."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 10),
    )


def snapshot(model):
    return (
        {k: v.detach().clone() for k, v in model.state_dict().items()},
        [(name, m.training) for name, m in model.named_modules()],
        [(name, p.requires_grad, p.dtype, p.device) for name, p in model.named_parameters()],
    )


def assert_unchanged(model, before):
    state, modes, flags = snapshot(model)
    assert state.keys() == before[0].keys()
    for key, value in state.items():  # every tensor: BN running means/vars, num_batches_tracked
        assert torch.equal(value, before[0][key]), key
    assert modes == before[1]
    assert flags == before[2]


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_resnet18_scores_are_finite_repeatable_and_leave_the_model_as_given(resnet, mode):
    images, labels = batch()
    resnet.train(mode == "train")
    resnet.fc.weight.requires_grad_(False)  # a frozen layer stays frozen
    before = snapshot(resnet)
    rng = torch.get_rng_state()
    first = score(resnet, THREE, images=images, labels=labels)
    assert list(first) == THREE
    assert all(type(v) is float and math.isfinite(v) for v in first.values()), first
    assert score(resnet, THREE, images=images, labels=labels) == first  # bit-identical
    assert torch.equal(torch.get_rng_state(), rng)  # the caller's random stream is untouched
    assert_unchanged(resnet, before)
    assert resnet.training == (mode == "train")
    resnet.fc.weight.requires_grad_(True)
    resnet.train()
    # the order asked is the order returned, and a value does not depend on the others asked
    assert score(resnet, ["snip", "synflow"], images=images, labels=labels) == {
        "snip": first["snip"],
        "synflow": first["synflow"],
    }
    # the seed drives the proxies' random draws (zen: Gaussian inputs, re-drawn weights)
    assert score(resnet, "zen", images=images, seed=1) != score(resnet, "zen", images=images)


def test_a_dataloader_gives_its_first_batch(resnet):
    images, labels = batch()
    loader = DataLoader(TensorDataset(images, labels), batch_size=8)
    assert score(resnet, ["nwot", "snip"], images=loader) == score(
        resnet, ["nwot", "snip"], images=images, labels=labels
    )


def test_all_on_an_nb201_network_scores_every_proxy(caplog):
    net = nb201_network()
    images, labels = batch(size=16)  # 16x16: the same code paths, 4x faster
    before = snapshot(net)
    values = score(net, "all", images=images, labels=labels)
    assert list(values) == list(PROXIES)  # every proxy applies to this project's networks
    assert all(isinstance(v, float) and not math.isnan(v) for v in values.values())
    assert_unchanged(net, before)
    with caplog.at_level(logging.INFO, logger="freedarts.api"):
        unlabelled = score(net, ["all"], images=images)
    assert list(unlabelled) == [n for n, p in PROXIES.items() if not p.needs_labels]
    assert "without labels: not epe_nas, plain, snip" in caplog.text
    assert all(unlabelled[n] == values[n] for n in unlabelled)


def test_all_leaves_out_what_the_model_cannot_take_and_says_so(caplog):
    with caplog.at_level(logging.INFO, logger="freedarts.api"):
        values = score(plain_cnn(), "all", input_shape=(3, 16, 16))  # data-free ones only
    assert "synflow" in values and "zen" in values
    assert not {"az_expressivity", "nwot", "snip"} & set(values)
    assert "skipped az_expressivity (proxy 'az_expressivity' cannot score Sequential" in caplog.text
    assert "without images: not jacob_cov, nwot, swap" in caplog.text


@pytest.mark.slow
def test_all_on_resnet18_leaves_out_the_az_nas_components_and_meco(resnet, caplog):
    """What docs/guide/python-api.md says ResNet-18 cannot take (about 10 s on a CPU)."""
    images, labels = batch()
    with caplog.at_level(logging.WARNING, logger="freedarts.api"):
        values = score(resnet, "all", images=images, labels=labels)
    left_out = {"az_expressivity", "az_progressivity", "az_trainability", "meco"}
    assert list(values) == [n for n in PROXIES if n not in left_out]
    assert all(math.isfinite(v) for v in values.values()), values
    assert all(f"skipped {n} " in caplog.text for n in left_out)


def test_the_guide_table_matches_the_registry():
    """The proxy table of docs/guide/python-api.md: every registered proxy, in order, with what
    it reads; and the aggregates it names."""
    text = (REPO / "docs" / "guide" / "python-api.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)` \| (yes|no) \| (yes|no) \|$", text, flags=re.MULTILINE)
    assert [name for name, _, _ in rows] == list(PROXIES)
    for name, reads_images, reads_labels in rows:
        assert (reads_images == "yes", reads_labels == "yes") == (
            PROXIES[name].needs_data,
            PROXIES[name].needs_labels,
        ), name
    names = ", ".join(f"`{n}`" for n in AGGREGATES)
    assert names.rsplit(", ", 1)[0] + " and " + names.rsplit(", ", 1)[1] in text


def test_data_free_proxies_take_the_shape_from_input_shape_images_or_the_model(resnet):
    images, _ = batch()
    by_images = score(resnet, ["synflow", "zen"], images=images)
    assert score(resnet, ["synflow", "zen"], input_shape=(3, 32, 32)) == by_images
    assert score(resnet, ["synflow", "zen"], input_shape=(5, 3, 32, 32)) == by_images  # B ignored
    assert score(resnet, "zen", input_shape=(3, 16, 16)) != {"zen": by_images["zen"]}
    net = nb201_network()  # this project's networks carry input_shape: nothing to pass
    assert score(net, "synflow") == score(net, "synflow", input_shape=(3, 32, 32))
    with pytest.raises(UserError, match=r"proxy 'synflow' needs the input shape.*input_shape="):
        score(resnet, "synflow")


def nan_model():
    net = plain_cnn()
    with torch.no_grad():
        net[0].weight[0, 0, 0, 0] = float("nan")
    return net


def image_only_model():
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1))  # [B, 4, H, W], not logits


IMAGES, LABELS = batch()

ERRORS = {
    "labels missing": (lambda m: score(m, "snip", images=IMAGES), "proxy 'snip' needs labels"),
    "images missing": (lambda m: score(m, "nwot"), "proxy 'nwot' needs images"),
    "unknown proxy": (
        lambda m: score(m, ["synflow", "nope"], images=IMAGES),
        "proxy 'nope' is not known: use one of jacob_cov, nwot",
    ),
    "aggregate": (
        lambda m: score(m, "combined", images=IMAGES),
        r"proxy 'combined' is an aggregate: it ranks its parts \(nwot, synflow\) across many",
    ),
    "one image": (
        lambda m: score(m, "nwot", images=IMAGES[0]),
        r"images of shape \(3, 32, 32\) are not a \[B, C, H, W\] batch",
    ),
    "wrong channels": (
        lambda m: score(m, "nwot", images=IMAGES[:, :1]),
        r"model ResNet cannot take images of shape \(8, 1, 32, 32\)",
    ),
    "integer images": (
        lambda m: score(m, "nwot", images=(IMAGES * 50).to(torch.uint8)),
        "images are uint8: pass float images",
    ),
    "labels too short": (
        lambda m: score(m, "snip", images=IMAGES, labels=LABELS[:3]),
        "3 labels for 8 images",
    ),
    "labels out of range": (
        lambda m: score(m, "snip", images=IMAGES, labels=LABELS + 10),
        "labels run up to 1[0-9] but model ResNet gives 10 logits",
    ),
    "bad input_shape": (
        lambda m: score(m, "synflow", input_shape=(3, 32)),
        r"input_shape=\(3, 32\) is not \(C, H, W\)",
    ),
    "bad seed": (lambda m: score(m, "synflow", images=IMAGES, seed=-1), "seed=-1"),
    "proxy cannot take the model": (
        lambda m: score(m, "meco", images=IMAGES),
        "proxy 'meco' cannot score ResNet: ValueError: Expected more than 1 value per channel",
    ),
    "az-nas without blocks": (
        lambda m: score(plain_cnn(), "az_expressivity", images=IMAGES),
        r"proxy 'az_expressivity' cannot score Sequential: AZ-NAS needs a network whose blocks",
    ),
    "output not logits": (
        lambda m: score(image_only_model(), "synflow", images=IMAGES),
        r"model Sequential returns a tensor of shape \(2, 4, 32, 32\) for 2 images, not \[B, "
        r"classes\] logits",
    ),
    "non-finite score": (
        lambda m: score(nan_model(), "snip", images=IMAGES, labels=LABELS),
        r"proxy 'snip' gave Sequential a non-finite score \(nan\)",
    ),
    "not a module": (lambda m: score("resnet18", "synflow"), "model is a str"),
}


@pytest.mark.parametrize("case", ERRORS)
def test_every_error_is_one_line_naming_the_bad_value(resnet, case):
    call, pattern = ERRORS[case]
    before = snapshot(resnet)
    with pytest.raises(UserError, match=pattern) as err:
        call(resnet)
    assert "\n" not in str(err.value)
    assert_unchanged(resnet, before)
    if case == "non-finite score":
        assert isinstance(err.value, ProxyError)


def test_load_batch_reads_the_real_subset(cifar10_subset):
    images, labels = load_batch("cifar10", root=cifar10_subset, batch_size=64)
    assert images.shape == (64, 3, 32, 32) and images.dtype == torch.float32
    assert labels.shape == (64,) and labels.dtype == torch.int64
    assert 0 <= int(labels.min()) and int(labels.max()) <= 9 and len(set(labels.tolist())) > 5
    assert abs(float(images.mean())) < 0.5 and 0.5 < float(images.std()) < 1.5  # normalised
    # the batch `freedarts search data=cifar10 seed=0` scores with, through the same reader
    ref = CIFAR("cifar10", str(cifar10_subset), 64).batch(0, torch.float32, CPU)
    assert torch.equal(images, ref.images) and torch.equal(labels, ref.labels)
    again, _ = load_batch("cifar10", root=str(cifar10_subset), batch_size=64)
    assert torch.equal(again, images)
    assert not torch.equal(load_batch("cifar10", root=cifar10_subset, seed=1)[0], images)


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"root": "/nonexistent/cifar"}, "root=/nonexistent/cifar does not exist"),
        ({"root": None}, r"load_batch\('cifar10'\) needs root=PATH"),
        ({"dataset": "mnist", "root": "."}, "dataset='mnist' is not known: use one of cifar10"),
        ({"split": "test", "root": "."}, "split='test' is not read"),
    ],
)
def test_load_batch_errors_name_the_path_or_value(kwargs, pattern, monkeypatch):
    monkeypatch.delenv("FREEDARTS_DATA", raising=False)
    with pytest.raises(UserError, match=pattern) as err:
        load_batch(**kwargs)
    assert "\n" not in str(err.value)


def test_load_batch_names_a_folder_without_the_dataset(tmp_path):
    with pytest.raises(UserError, match=f"data.root={tmp_path} holds no cifar-10-batches-py/"):
        load_batch("cifar10", root=tmp_path)


def test_search_returns_the_result_row(tmp_path):
    rng = torch.get_rng_state()
    out = tmp_path / "run"
    row = search("space=nb201", "scorer=synflow", "benchmark=none", "space.N=1", out_dir=out)
    assert row["arch"].startswith("|") and row["arch"].count("~") == 6
    assert row["space"] == "nb201" and row["scorer"] == "synflow" and row["benchmark"] == "none"
    written = pd.read_csv(out / "result.csv")
    assert written["arch"][0] == row["arch"] and written["config_id"][0] == row["config_id"]
    assert (out / ".hydra" / "overrides.yaml").is_file()
    assert torch.equal(torch.get_rng_state(), rng)
    # the same config into the same folder: not searched again, the finished row comes back
    again = search("space=nb201", "scorer=synflow", "benchmark=none", "space.N=1", out_dir=out)
    assert again["arch"] == row["arch"] and again["search_seconds"] == row["search_seconds"]


@pytest.mark.parametrize(
    "overrides, pattern",
    [
        (["space=nope"], "space=nope is not known: use one of darts"),
        (["seed=abc", "benchmark=none"], "seed=abc"),
        (["-m", "seed=0,1"], r"runs one job, not a sweep \(-m\)"),
    ],
)
def test_search_errors_are_one_line(tmp_path, overrides, pattern):
    with pytest.raises(UserError, match=pattern) as err:
        search(*overrides, out_dir=tmp_path / "run")
    assert "\n" not in str(err.value)


def test_correlate_returns_the_summary(tmp_path, shared_table):
    summary = correlate(
        "proxy=synflow,params",
        "n_archs=6",
        f"benchmark.path={shared_table}",
        "threads=1",
        out_dir=tmp_path / "study",
    )
    assert isinstance(summary, pd.DataFrame)
    assert {"synflow", "params"} <= set(summary["proxy"])
    assert (tmp_path / "study" / "correlation.csv").is_file()
    scores = pd.read_csv(tmp_path / "study" / "proxy_scores.csv")
    assert len(scores) == 12


def test_importing_the_package_stays_light():
    out = subprocess.run(
        [sys.executable, "-c", "import sys, freedarts_cli; print('torch' in sys.modules)"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.strip() == "False", out.stderr
