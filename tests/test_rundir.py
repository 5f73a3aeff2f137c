"""Run folders (issue 11 point 6): one run per folder, claimed while it runs, never overwritten
by another config; result files written atomically with normal permissions."""

import errno
import os
import signal
import stat
import subprocess
import sys
import time

import pytest

from freedarts_cli import rundir
from freedarts_cli.errors import UserError
from freedarts_cli.results import save_figure, write_csv

from .conftest import REPO, freedarts

FAST = ["space.N=1", "benchmark=none"]


def test_a_folder_held_by_a_running_run_is_refused(tmp_path):
    with rundir.claimed(tmp_path):  # this process plays the running run
        out = freedarts("search", *FAST, f"hydra.run.dir={tmp_path}")
    assert out.returncode == 2
    assert f"error: {tmp_path} is in use by a running run (pid {os.getpid()}" in out.stderr
    assert not (tmp_path / "result.csv").exists() and not (tmp_path / ".hydra").exists()


def test_a_correlate_folder_in_use_is_refused_so_no_rows_are_scored_twice(tmp_path):
    with rundir.claimed(tmp_path):
        out = freedarts("correlate", "n_archs=2", f"hydra.run.dir={tmp_path}")
    assert out.returncode == 2 and "is in use by a running run" in out.stderr, out.stderr
    assert not (tmp_path / "proxy_scores.csv").exists()


def test_a_killed_runs_lock_does_not_block_its_folder(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time; from freedarts_cli import rundir\n"
                f"with rundir.claimed({str(tmp_path)!r}):\n"
                "    print('held', flush=True); time.sleep(60)"
            ),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(UserError, match="in use by a running run"):
        with rundir.claimed(tmp_path):
            pass
    holder.kill()
    holder.wait()
    with rundir.claimed(tmp_path):  # the kernel dropped the dead process's lock
        pass


def test_a_finished_run_of_another_config_is_never_overwritten(tmp_path):
    first = freedarts("search", *FAST, "seed=0", f"hydra.run.dir={tmp_path}")
    assert first.returncode == 0, first.stderr
    before = (tmp_path / "result.csv").read_bytes()
    second = freedarts("search", *FAST, "seed=1", f"hydra.run.dir={tmp_path}")
    assert second.returncode == 2
    assert f"error: {tmp_path} holds a finished run of another config" in second.stderr
    assert (tmp_path / "result.csv").read_bytes() == before
    assert "seed=0" in (tmp_path / ".hydra" / "overrides.yaml").read_text()  # its record kept


def test_rerunning_a_finished_config_skips_it(tmp_path):
    first = freedarts("search", *FAST, f"hydra.run.dir={tmp_path}")
    assert first.returncode == 0, first.stderr
    stamp = (tmp_path / "result.csv").stat().st_mtime_ns
    again = freedarts("search", *FAST, "threads=1", f"hydra.run.dir={tmp_path}")  # same run
    assert again.returncode == 0, again.stderr
    assert "finished run: skipped" in again.stderr
    assert (tmp_path / "result.csv").stat().st_mtime_ns == stamp


def test_config_id_ignores_threads_only():
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"seed": 0, "a": 1e-3, "threads": None, "space": {"N": 1}})
    assert rundir.config_id(cfg) == rundir.config_id(OmegaConf.merge(cfg, {"threads": 4}))
    assert rundir.config_id(cfg) != rundir.config_id(OmegaConf.merge(cfg, {"space": {"N": 5}}))


def test_result_files_get_normal_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        out = freedarts("search", *FAST, f"hydra.run.dir={tmp_path}")
    finally:
        os.umask(old)
    assert out.returncode == 0, out.stderr
    for name in (
        "result.csv",
        "scores.csv",
        "trajectory.csv",
        "cell.png",
        "cell.pdf",
        ".hydra/config.yaml",
    ):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name


class _FullDisk:
    """A figure whose file runs out of space half-way, as on a full disk."""

    def savefig(self, fh, **kwargs):
        fh.write(b"%PDF-1.4 half a picture")
        fh.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_leaves_the_old_picture_whole_and_says_so_in_one_line(tmp_path):
    picture = tmp_path / "cell.pdf"
    picture.write_bytes(b"the finished picture")
    with pytest.raises(UserError) as err:
        save_figure(_FullDisk(), picture)
    assert str(err.value).startswith(f"cannot write {picture}: No space left on device")
    assert "\n" not in str(err.value)
    assert picture.read_bytes() == b"the finished picture"
    assert os.listdir(tmp_path) == ["cell.pdf"]  # no temporary file left behind


def test_an_unwritable_folder_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(UserError, match=f"cannot write {blocker}/result.csv"):
        write_csv(blocker / "result.csv", [{"a": 1}])
    out = freedarts("search", *FAST, f"hydra.run.dir={blocker}/run")
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert [line for line in out.stderr.splitlines() if line.startswith("error:")]


def test_sigint_is_one_line_and_leaves_no_result(tmp_path):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "freedarts_cli",
            "search",
            "space=darts",
            "pruning=iterative",
            "benchmark=none",
            f"hydra.run.dir={tmp_path}",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A job started in the background (`make test &`) inherits SIGINT ignored, and Python
        # then never turns it into KeyboardInterrupt: give the child the default disposition.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 120
    while not (tmp_path / ".hydra" / "config.yaml").exists() and time.time() < deadline:
        time.sleep(0.2)  # the search has started: its folder is claimed and recorded
    assert (tmp_path / ".hydra" / "config.yaml").exists(), "the search never recorded its config"
    time.sleep(1.0)
    assert proc.poll() is None, "the search ended before it was interrupted"
    proc.send_signal(2)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)  # out: a run that finished prints its results
    assert "Traceback" not in err and len(err.strip().splitlines()[-1]) < 200
    assert err.strip().splitlines()[-1].startswith("interrupted: freedarts search stopped")
    assert not (tmp_path / "result.csv").exists()
    assert not (tmp_path / "scores.csv").exists()
