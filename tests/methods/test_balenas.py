"""BaLeNAS / BaLeNAS-TF: a seeded search, its TF selections, checkpoints and resume."""

from __future__ import annotations

import csv
import logging
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch

from freedarts_cli.data import Synthetic
from freedarts_cli.errors import UserError
from freedarts_cli.methods import Context
from freedarts_cli.methods.balenas import CHECKPOINT, BaLeNAS
from freedarts_cli.spaces.nb201 import NB201Space

from ..conftest import REPO, freedarts

CPU = torch.device("cpu")
SPACE = NB201Space(N=1)
TINY = dict(epochs=2, batch_size=16, mc_samples=2, select=["snip", "synflow"], n_samples=[2, 5])


def context(seed=0, out_dir=None, run_id="run"):
    data = Synthetic(batch_size=16, train_images=64)  # 32 + 32 images: 2 steps an epoch
    return Context(
        SPACE,
        seed,
        1e-3,
        torch.float32,
        CPU,
        data.batch(seed, torch.float32, CPU),
        data,
        out_dir,
        run_id,
    )


def search(seed=0, out_dir=None, run_id="run", **options):
    torch.manual_seed(seed)  # the runner seeds before a search: the supernet's weights
    return BaLeNAS(**{**TINY, **options}).search(context(seed, out_dir, run_id))


def summary(found):
    return (
        found.choice,
        [(f.scorer, f.extra["n_samples"], f.choice) for f in found.selections],
        found.tables["distribution"],
        found.tables["epochs"],
    )


def test_the_same_seed_gives_the_same_search_and_another_seed_another():
    a, b, c = search(0), search(0), search(1)
    assert summary(a) == summary(b)
    assert a.tables["distribution"] != c.tables["distribution"]
    assert len(a.tables["epochs"]) == 2 and a.scorer == "mu" and a.pruning == "argmax"
    mu = torch.tensor([r["mu"] for r in a.tables["distribution"]]).view(6, 5)
    assert a.choice == mu.argmax(dim=1).tolist()  # BaLeNAS: argmax of μ, none included


def test_tf_keeps_the_best_of_the_first_n_draws_by_each_proxy():
    found = search(0)
    samples = found.tables["samples"]
    assert [r["draw"] for r in samples] == list(range(5))
    assert {(f.scorer, f.extra["n_samples"]) for f in found.selections} == {
        (p, n) for p in ("snip", "synflow") for n in (2, 5)
    }
    for f in found.selections:
        first = samples[: f.extra["n_samples"]]
        best = max(first, key=lambda r: r[f.scorer])
        assert f.choice == best["choice"]
        assert f.pruning == "sample"
        assert f.extra["distinct"] == len({tuple(r["choice"]) for r in first})


def test_draws_come_from_the_learned_distribution():
    """A posterior that starts (and, in four steps, stays) precise, σ ≈ 1e-6 ≪ the gaps
    between the μ of one edge: every draw is the argmax of μ."""
    found = search(0, init_precision=1e12)
    assert all(r["choice"] == found.choice for r in found.tables["samples"])
    assert all(f.extra["distinct"] == 1 for f in found.selections)


def test_a_search_interrupted_after_an_epoch_resumes_to_the_same_result(tmp_path, monkeypatch):
    whole = search(0)
    calls = {"n": 0}
    real = BaLeNAS._epoch

    def dies_in_epoch_two(self, *args):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(self, *args)

    monkeypatch.setattr(BaLeNAS, "_epoch", dies_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        search(0, out_dir=tmp_path)
    assert (tmp_path / CHECKPOINT).is_file()
    monkeypatch.setattr(BaLeNAS, "_epoch", real)
    calls["n"] = 0
    resumed = search(0, out_dir=tmp_path)
    assert summary(resumed) == summary(whole)


def test_a_checkpoint_of_another_config_is_ignored(tmp_path, caplog):
    search(0, out_dir=tmp_path, run_id="other", epochs=1)
    with caplog.at_level(logging.WARNING, logger="freedarts"):
        fresh = search(0, out_dir=tmp_path, run_id="run")
    assert "another config" in caplog.text
    assert summary(fresh) == summary(search(0))


def test_a_garbled_checkpoint_is_one_error(tmp_path):
    (tmp_path / CHECKPOINT).write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="delete it"):
        search(0, out_dir=tmp_path)


@pytest.mark.parametrize(
    "options, fragment",
    [
        (dict(select=["nosuch"]), "nosuch"),
        (dict(mc_samples=0), "method.mc_samples=0"),
        (dict(n_samples=[10, 0]), "method.n_samples=0"),
        (dict(epochs=1.5), "method.epochs=1.5"),
    ],
)
def test_bad_options_fail_before_any_training(options, fragment):
    with pytest.raises(UserError, match=fragment.replace(".", r"\.")):
        BaLeNAS(**{**TINY, **options})


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_the_gpu_experiment_runs_its_first_steps_on_cpu(tmp_path, cifar10_subset, shared_table):
    """experiment=appendix_table4_gpu is the paper's scale on CUDA; with device=cpu and a tiny
    override it runs here on the real subset, through the CLI, and writes every file."""
    out = tmp_path / "r"
    run = freedarts(
        "search",
        "experiment=appendix_table4_gpu",
        "device=cpu",
        "threads=1",
        f"data.root={cifar10_subset}",
        "benchmark=table",
        f"benchmark.path={shared_table}",
        "method.epochs=1",
        "method.steps_per_epoch=1",
        "method.supernet_cells=1",
        "method.batch_size=8",
        "method.select=[synflow]",
        "method.n_samples=[2]",
        f"hydra.run.dir={out}",
    )
    assert run.returncode == 0, run.stderr[-2000:]
    for name in (
        "result.csv",
        "selections.csv",
        "distribution.csv",
        "epochs.csv",
        "samples.csv",
        CHECKPOINT,
    ):
        assert (out / name).is_file(), name
    (row,) = rows(out / "result.csv")
    assert row["method"] == "balenas" and row["data"] == "cifar10"
    assert row["epochs"] == "1" and float(row["cifar10_test"]) > 0
    assert len(rows(out / "distribution.csv")) == 30
    assert "1 epochs x 1 steps (batch 8; 2330 + 2330 images), M=3" in run.stdout + run.stderr


def test_the_gpu_experiment_asks_for_cuda_by_default(tmp_path):
    run = freedarts(
        "search",
        "experiment=appendix_table4_gpu",
        "data=synthetic",
        f"hydra.run.dir={tmp_path / 'r'}",
        "--cfg",
        "job",
    )
    assert run.returncode == 0, run.stderr
    assert "device: cuda" in run.stdout and "epochs: 50" in run.stdout
    if not torch.cuda.is_available():
        run = freedarts(
            "search",
            "experiment=appendix_table4_gpu",
            "data=synthetic",
            "benchmark=none",
            f"hydra.run.dir={tmp_path / 'r'}",
        )
        assert run.returncode == 2
        assert run.stderr.strip().splitlines()[-1].startswith("error: device=cuda")


@pytest.mark.slow
def test_a_killed_search_resumes_into_its_folder_with_the_same_result(tmp_path):
    """SIGKILL after the first epoch's checkpoint, rerun the same command: the same files as an
    uninterrupted run (timings aside)."""
    args = [
        "experiment=appendix_table4",
        "data=synthetic",
        "data.train_images=128",
        "method.epochs=3",
        "method.supernet_cells=1",
        "method.batch_size=32",
        "method.select=[synflow]",
        "method.n_samples=[3]",
        "benchmark=none",
        "threads=1",
    ]
    whole = freedarts("search", *args, f"hydra.run.dir={tmp_path / 'whole'}")
    assert whole.returncode == 0, whole.stderr[-2000:]
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "freedarts_cli", "search", *args, f"hydra.run.dir={killed}"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while not (killed / CHECKPOINT).is_file() and time.time() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "result.csv").exists()
    rerun = freedarts("search", *args, f"hydra.run.dir={killed}")
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "resumed from" in rerun.stdout + rerun.stderr
    timing = ["search_seconds", "peak_memory_mb"]
    for name in ("result.csv", "selections.csv", "distribution.csv", "epochs.csv", "samples.csv"):
        a = pd.read_csv(tmp_path / "whole" / name).drop(columns=timing, errors="ignore")
        b = pd.read_csv(killed / name).drop(columns=timing, errors="ignore")
        pd.testing.assert_frame_equal(a, b, check_exact=True)
