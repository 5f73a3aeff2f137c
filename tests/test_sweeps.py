"""Multirun sweeps through the real launchers, then `freedarts tables` on their output."""
import glob

import pandas as pd
import pytest

from .conftest import freedarts

FAST = ["space.N=1", "benchmark=none"]


def results(root):
    files = sorted(glob.glob(f"{root}/**/result.csv", recursive=True))
    return pd.concat([pd.read_csv(f) for f in files], ignore_index=True) if files else None


def test_joblib_sweep_then_tables(tmp_path):
    sweep = tmp_path / "sweep"
    out = freedarts("search", "-m", *FAST, "scorer=synflow,snip", "data=synthetic",
                    "seed=0,1,2", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                    f"hydra.sweep.dir={sweep}")
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
    out = freedarts("search", "-m", *FAST, "seed=0,1", "hydra/launcher=joblib",
                    f"hydra.sweep.dir={tmp_path}")
    assert out.returncode == 0, out.stderr
    assert "torch threads: 1" in out.stderr


def test_a_failed_job_does_not_kill_the_sweep(tmp_path):
    out = freedarts("search", "-m", *FAST, "a=-1,1e-3", f"hydra.sweep.dir={tmp_path}")
    assert out.returncode != 0  # the sweep reports the failure...
    assert "a=-1" in out.stderr and "Traceback" not in out.stderr
    df = results(tmp_path)     # ...and the other job finished with a complete CSV
    assert len(df) == 1 and df.a[0] == 1e-3 and isinstance(df.arch[0], str)


@pytest.mark.slow
def test_submitit_local_launcher(tmp_path):
    out = freedarts("search", "-m", *FAST, "seed=0,1", "hydra/launcher=submitit_local_small",
                    f"hydra.sweep.dir={tmp_path}")
    assert out.returncode == 0, out.stderr
    assert len(results(tmp_path)) == 2


def test_slurm_preset_composes():
    out = freedarts("search", "hydra/launcher=slurm", "--cfg", "hydra")
    assert out.returncode == 0, out.stderr
    assert "SlurmLauncher" in out.stdout and "cpus_per_task: 2" in out.stdout
