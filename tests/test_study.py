"""freedarts correlate: sampling, shards, the append-only score table, resume after a kill."""

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from freedarts_cli.errors import UserError
from freedarts_cli.spaces.nb201 import NB201Space
from freedarts_cli.study import ScoreTable, parse_proxies, parse_seeds, parse_shard, sample_archs

from .conftest import REPO


def test_samples_are_seeded_uniform_and_without_replacement():
    space = NB201Space()
    everything = sample_archs(space, "all", 0)
    assert len(everything) == 5**6 == len({tuple(c) for c in everything})
    a, b = sample_archs(space, 500, 0), sample_archs(space, 500, 0)
    assert a == b and len({tuple(c) for c in a}) == 500
    assert sample_archs(space, 500, 1) != a
    assert everything[:500] == a and sample_archs(space, 200, 0) == a[:200]  # samples nest
    for bad in (0, -3, 20000, True):
        with pytest.raises(UserError, match="n_archs"):
            sample_archs(space, bad, 0)


def test_shards_partition_the_sample():
    sample = list(range(103))
    parts = [sample[i - 1 :: 4] for i in (parse_shard(f"{i}/4")[0] for i in range(1, 5))]
    assert sorted(sum(parts, [])) == sample
    for bad in ("0/4", "5/4", "a/b", "1", "2/1"):
        with pytest.raises(UserError, match="shard="):
            parse_shard(bad)


def test_proxy_and_seed_lists_are_checked():
    requested, proxies = parse_proxies(["combined", "synflow"])
    assert requested == ["combined", "synflow"]
    assert [p.name for p in proxies] == ["nwot", "synflow"]  # synflow scored once
    with pytest.raises(UserError, match="proxy=nope"):
        parse_proxies(["nope"])
    assert parse_seeds([0, 1, 1]) == [0, 1]
    for bad in ("abc", -1, 1.5, True):
        with pytest.raises(UserError, match="seed="):
            parse_seeds(bad)


def test_score_table_drops_a_torn_line_and_remembers_what_is_done(tmp_path):
    path = tmp_path / "proxy_scores.csv"
    table = ScoreTable(path)
    table.append([("x", "synflow", 0, 1.5, 0.1), ("y", "synflow", 0, float("-inf"), 0.1)])
    with open(path, "a") as fh:
        fh.write("z,synflow,0,3.")  # killed mid-write
    again = ScoreTable(path)
    assert again.done == {("x", "synflow", 0), ("y", "synflow", 0)}
    again.append([("z", "synflow", 0, 3.0, 0.1)])
    df = pd.read_csv(path)
    assert df["arch"].tolist() == ["x", "y", "z"]
    assert df["value"].iloc[1] == float("-inf")
    assert oct(path.stat().st_mode & 0o777) == oct(0o644 & ~_umask())


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def correlate_cmd(out, *extra):
    return [
        sys.executable,
        "-m",
        "freedarts_cli",
        "correlate",
        "proxy=synflow",
        "n_archs=40",
        "seed=0,1",
        "threads=1",
        f"hydra.run.dir={out}",
        *extra,
    ]


def test_a_killed_run_resumes_without_scoring_twice_or_missing_one(tmp_path, shared_table):
    out = tmp_path / "run"
    table = out / "proxy_scores.csv"
    proc = subprocess.Popen(
        correlate_cmd(out), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if table.exists() and len(table.read_text().splitlines()) > 11:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = pd.read_csv(table)
    assert 10 <= len(partial) < 80, "the kill came too late to test a resume"
    done = subprocess.run(correlate_cmd(out), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "resuming:" in done.stderr
    scores = pd.read_csv(table)
    assert not scores.duplicated(["arch", "proxy", "seed"]).any()
    assert len(scores) == 80 and set(scores["seed"]) == {0, 1}
    fresh = subprocess.run(
        correlate_cmd(tmp_path / "fresh"), cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    ref = pd.read_csv(tmp_path / "fresh" / "proxy_scores.csv")
    key = ["arch", "proxy", "seed"]
    merged = scores.merge(ref, on=key, suffixes=("", "_ref"))
    assert len(merged) == 80
    assert (merged["value"] == merged["value_ref"]).all()  # resumed = uninterrupted, bit for bit
    corr = pd.read_csv(out / "correlation.csv")
    assert set(corr["proxy"]) == {"synflow"}
    assert "C10 τ" in done.stdout


@pytest.mark.parametrize(
    "args, needle",
    [
        (["proxy=nope"], "proxy=nope"),
        (["n_archs=0"], "n_archs=0"),
        (["shard=3/2"], "shard=3/2"),
        (["seed=abc"], "seed=abc"),
        (["space=darts"], "space=nb201"),
    ],
)
def test_bad_options_give_one_line_and_exit_2(cli, tmp_path, args, needle):
    res = cli("correlate", *args, f"hydra.run.dir={tmp_path}")
    assert res.returncode == 2, res.stderr[-1500:]
    assert needle in res.stderr and "Traceback" not in res.stderr
