"""Multirun sweeps through the real launchers, then `freedarts tables` on their output."""

import glob
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import OmegaConf

from freedarts_cli import sweep

from .conftest import REPO, freedarts

FAST = ["space.N=1", "benchmark=none"]


def results(root):
    files = sorted(glob.glob(f"{root}/**/result.csv", recursive=True))
    return pd.concat([pd.read_csv(f) for f in files], ignore_index=True) if files else None


def test_joblib_sweep_then_tables(tmp_path):
    sweep = tmp_path / "sweep"
    out = freedarts(
        "search",
        "-m",
        *FAST,
        "scorer=synflow,snip",
        "data=synthetic",
        "seed=0,1,2",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        f"hydra.sweep.dir={sweep}",
    )
    assert out.returncode == 0, out.stderr
    df = results(sweep)
    assert len(df) == 6
    assert sorted(df.groupby("scorer").size().items()) == [("snip", 3), ("synflow", 3)]
    assert (df.data[df.scorer == "snip"] == "synthetic").all()

    out = freedarts("tables", str(sweep))
    assert out.returncode == 0, out.stderr
    table = pd.read_csv(sweep / "tables.csv")
    assert sorted(table.scorer) == ["snip", "synflow"] and (table.n == 3).all()
    syn = df[df.scorer == "synflow"].search_seconds
    row = table[table.scorer == "synflow"].iloc[0]
    assert row.search_seconds_mean == pytest.approx(syn.mean())
    assert row.search_seconds_std == pytest.approx(syn.std(ddof=0))
    assert "| nb201 | freedarts | snip |" in out.stdout


def test_joblib_uses_one_torch_thread_per_worker(tmp_path):
    out = freedarts(
        "search", "-m", *FAST, "seed=0,1", "hydra/launcher=joblib", f"hydra.sweep.dir={tmp_path}"
    )
    assert out.returncode == 0, out.stderr
    assert "torch threads: 1" in out.stderr


def test_a_failed_job_does_not_kill_the_sweep(tmp_path):
    out = freedarts("search", "-m", *FAST, "a=-1,1e-3", f"hydra.sweep.dir={tmp_path}")
    assert out.returncode == 1  # the sweep reports the failure...
    assert "a=-1" in out.stderr and "Traceback" not in out.stderr
    df = results(tmp_path)  # ...and the other job finished with a complete CSV
    assert len(df) == 1 and df.a[0] == 1e-3 and isinstance(df.arch[0], str)


@pytest.mark.slow
def test_submitit_local_launcher(tmp_path):
    out = freedarts(
        "search",
        "-m",
        *FAST,
        "seed=0,1",
        "hydra/launcher=submitit_local_small",
        f"hydra.sweep.dir={tmp_path}",
    )
    assert out.returncode == 0, out.stderr
    assert len(results(tmp_path)) == 2


def test_slurm_preset_composes():
    out = freedarts("search", "hydra/launcher=slurm", "--cfg", "hydra")
    assert out.returncode == 0, out.stderr
    assert "SlurmLauncher" in out.stdout and "cpus_per_task: 2" in out.stdout


LAUNCHERS = {
    "basic": [],
    "joblib": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
    "submitit": ["hydra/launcher=submitit_local_small"],
}


@pytest.mark.parametrize(
    "launcher", ["basic", "joblib", pytest.param("submitit", marks=pytest.mark.slow)]
)
def test_a_sweep_names_every_failed_job_with_its_overrides_and_reason(tmp_path, launcher):
    out = freedarts(
        "search",
        "-m",
        *FAST,
        "seed=0,abc",
        "a=1e-3,-1",
        *LAUNCHERS[launcher],
        f"hydra.sweep.dir={tmp_path}",
    )
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    failed = [line for line in out.stderr.splitlines() if line.startswith("failed: job")]
    assert len(failed) == 3, out.stderr
    assert any("seed=0 a=-1" in f and "a=-1 is not a positive finite number" in f for f in failed)
    assert any(
        "seed=abc a=0.001" in f and "seed=abc is not a non-negative integer" in f for f in failed
    )
    assert any("seed=abc a=-1" in f for f in failed)
    assert "3 of 4 sweep jobs failed, 1 finished" in out.stderr
    assert len(results(tmp_path)) == 1


def test_a_crashed_jobs_reason_names_its_traceback_log():
    ret = JobReturn(
        overrides=["seed=3"],
        hydra_cfg=OmegaConf.create(
            {"hydra": {"runtime": {"output_dir": "/runs/7"}, "job": {"name": "search"}}}
        ),
    )
    ret.status, ret._return_value = JobStatus.FAILED, ValueError("bad thing\nsecond line")
    assert sweep.failure_report([ret], first_job=7) == [
        "failed: job 7 seed=3: ValueError: bad thing (traceback in /runs/7/search.log)"
    ]


def _sweep_cmd(folder, seeds=10):
    return [
        sys.executable,
        "-m",
        "freedarts_cli",
        "search",
        "-m",
        *FAST,
        "seed=" + ",".join(map(str, range(seeds))),
        f"hydra.sweep.dir={folder}",
    ]


def _finished(folder):
    return {f: os.stat(f).st_mtime_ns for f in glob.glob(f"{folder}/*/result.csv")}


@pytest.mark.slow
def test_a_killed_sweep_resumed_into_its_folder_equals_an_uninterrupted_one(tmp_path):
    killed = subprocess.Popen(
        _sweep_cmd(tmp_path / "resumed"),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while len(_finished(tmp_path / "resumed")) < 3 and time.time() < deadline:
        time.sleep(0.05)
    killed.kill()
    killed.wait()
    done = _finished(tmp_path / "resumed")
    assert 3 <= len(done) < 10

    out = subprocess.run(_sweep_cmd(tmp_path / "resumed"), cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert f"resumed: {len(done)} of 10 jobs had finished already (skipped)" in out.stdout
    assert {f: t for f, t in _finished(tmp_path / "resumed").items() if f in done} == done

    full = subprocess.run(
        _sweep_cmd(tmp_path / "uninterrupted"), cwd=REPO, capture_output=True, text=True
    )
    assert full.returncode == 0, full.stderr
    columns = ["seed", "arch", "config_id"]
    resumed = results(tmp_path / "resumed")[columns].sort_values("seed")
    assert resumed.reset_index(drop=True).equals(
        results(tmp_path / "uninterrupted")[columns].sort_values("seed").reset_index(drop=True)
    )

    tables = freedarts("tables", str(tmp_path))  # both folders: each seed counted once
    assert tables.returncode == 0, tables.stderr
    table = pd.read_csv(tmp_path / "tables.csv")
    assert table.n.tolist() == [10]
    assert "10 duplicate run(s) dropped" in tables.stdout
    assert tables.stdout.count("dropped duplicate") == 10


@pytest.mark.slow
def test_joblib_workers_exit_when_the_sweep_process_dies(tmp_path):
    parent = subprocess.Popen(
        [*_sweep_cmd(tmp_path, seeds=40), "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while not _finished(tmp_path) and time.time() < deadline:
        time.sleep(0.1)
    workers = subprocess.run(
        ["pgrep", "-P", str(parent.pid)], capture_output=True, text=True
    ).stdout.split()
    assert workers
    parent.send_signal(signal.SIGKILL)
    parent.wait()

    def alive():
        return [
            w
            for w in workers
            if os.path.exists(f"/proc/{w}") and open(f"/proc/{w}/stat").read().split()[2] != "Z"
        ]

    deadline = time.time() + 15
    while alive() and time.time() < deadline:
        time.sleep(0.2)
    left = alive()
    for w in left:
        os.kill(int(w), signal.SIGKILL)
    assert not left, "workers outlived their sweep"
