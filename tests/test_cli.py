"""The `freedarts` command as a user runs it: real Hydra runs in subprocesses, real CSVs."""

import pandas as pd
import pytest

from freedarts_cli.benchmark import ACCURACY_COLUMNS

from .conftest import freedarts

FAST = ["space.N=1"]  # 3 cells instead of 15: the same code path, seconds faster

RESULT_COLUMNS = [
    "space",
    "method",
    "scorer",
    "pruning",
    "seed",
    "a",
    "dtype",
    "device",
    "data",
    "data_images",
    "arch",
    "benchmark_index",
    *ACCURACY_COLUMNS,
    "search_seconds",
    "peak_memory_mb",
    "freedarts_version",
    "torch_version",
    "git_commit",
]


def test_help_lists_commands():
    out = freedarts("--help")
    assert out.returncode == 0
    assert "search" in out.stdout and "tables" in out.stdout


def test_default_search_without_benchmark(tmp_path):
    out = freedarts("search", "benchmark=none", f"hydra.run.dir={tmp_path}/run")
    assert out.returncode == 0, out.stderr
    row = pd.read_csv(tmp_path / "run" / "result.csv")
    assert set(RESULT_COLUMNS) <= set(row.columns)
    arch = row["arch"][0]
    assert arch in out.stdout and arch.startswith("|") and arch.count("~") == 6
    assert "benchmark.path" in out.stdout  # says how to get accuracies
    assert row[list(ACCURACY_COLUMNS)].isna().all(axis=None)
    assert row["scorer"][0] == "synflow" and row["dtype"][0] == "float64"
    assert row["search_seconds"][0] > 0 and row["peak_memory_mb"][0] > 0
    scores = pd.read_csv(tmp_path / "run" / "scores.csv")
    assert len(scores) == 30 and (scores[scores.op == "none"].score == 0).all()
    traj = pd.read_csv(tmp_path / "run" / "trajectory.csv")
    assert traj["arch"].iloc[-1] == arch


def test_snip_search_on_real_cifar10_from_another_directory(tmp_path, cifar10_subset, shared_table):
    """Issue 9's acceptance run: SNIP-α on the real subset, run from outside the checkout, in
    the scorer's float32; the result records the data and how many images it was drawn from."""
    out = freedarts(
        "search",
        "scorer=snip",
        "data=cifar10",
        f"data.root={cifar10_subset}",
        "benchmark=table",
        f"benchmark.path={shared_table}",
        f"hydra.run.dir={tmp_path}/run",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    row = pd.read_csv(tmp_path / "run" / "result.csv").iloc[0]
    assert row["data"] == "cifar10" and row["data_images"] == 4660
    assert row["dtype"] == "float32" and row["scorer"] == "snip"
    assert row["cifar10_test"] > 80  # a real NB201 cell, looked up
    assert "4660 training images" in out.stderr + out.stdout


def test_a_garbage_cifar_folder_is_one_line_and_exit_2(tmp_path):
    folder = tmp_path / "bad" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    (folder / "data_batch_1").write_bytes(bytes(range(256)) * 20)
    out = freedarts(
        "search",
        "scorer=snip",
        "data=cifar10",
        f"data.root={tmp_path}/bad",
        "benchmark=none",
        f"hydra.run.dir={tmp_path}/run",
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "cifar-10-batches-py" in errors[0]
    assert not (tmp_path / "run" / "result.csv").exists()


def test_iterative_search_with_the_shared_table(tmp_path, shared_table):
    out = freedarts(
        "search",
        "pruning=iterative",
        "seed=3",
        "a=1e-4",
        "benchmark=table",
        f"benchmark.path={shared_table}",
        f"hydra.run.dir={tmp_path}/run",
    )
    assert out.returncode == 0, out.stderr
    row = pd.read_csv(tmp_path / "run" / "result.csv").iloc[0]
    assert 10 < row.cifar10_test <= 94.37 and 1 < row.imagenet16_120_test <= 47.31
    assert pd.isna(row.cifar10_valid)  # the table holds test accuracies only
    assert f"CIFAR-10 {row.cifar10_test:.2f}" in out.stdout
    traj = pd.read_csv(tmp_path / "run" / "trajectory.csv")
    assert list(traj["round"]) == list(range(1, 25))
    assert (traj["removed_op"][:6] == "none").all()
    assert traj["arch"].iloc[-1] == row.arch and traj["cifar10_test"].iloc[-1] == row.cifar10_test
    scores = pd.read_csv(tmp_path / "run" / "scores.csv")
    assert len(scores) == 24 * 30


def test_auto_benchmark_finds_the_shared_table(tmp_path, shared_table):
    out = freedarts("search", *FAST, f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "benchmark=auto uses table" in out.stderr
    assert pd.read_csv(tmp_path / "run" / "result.csv")["benchmark"][0] == "table"


def test_works_from_any_directory(tmp_path):
    out = freedarts("search", *FAST, "benchmark=none", "hydra.run.dir=here", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "here" / "result.csv").is_file()


def test_same_seed_same_architecture(tmp_path):
    archs = []
    for i in range(2):
        out = freedarts(
            "search",
            *FAST,
            "pruning=iterative",
            "seed=11",
            "benchmark=none",
            f"hydra.run.dir={tmp_path}/{i}",
        )
        assert out.returncode == 0, out.stderr
        archs.append(pd.read_csv(tmp_path / str(i) / "result.csv")["arch"][0])
    assert archs[0] == archs[1]


def test_journal_names_select_the_same_scorers(tmp_path):
    out = freedarts("search", "scorer=zeros_l", "data=synthetic", "--cfg", "job")
    assert out.returncode == 0, out.stderr
    assert "random_labels: true" in out.stdout
    out = freedarts(
        "search",
        *FAST,
        "scorer=zeros",
        "data=synthetic",
        "benchmark=none",
        f"hydra.run.dir={tmp_path}/r",
    )
    assert out.returncode == 0, out.stderr
    row = pd.read_csv(tmp_path / "r" / "result.csv").iloc[0]
    assert row.scorer == "snip" and row.data == "synthetic"


@pytest.mark.parametrize("scorer", ["snip", "snip_random_labels", "grasp"])
def test_label_scorers_run_on_synthetic_data(tmp_path, scorer):
    out = freedarts(
        "search",
        *FAST,
        f"scorer={scorer}",
        "data=synthetic",
        "benchmark=none",
        f"hydra.run.dir={tmp_path}/r",
    )
    assert out.returncode == 0, out.stderr
    assert pd.read_csv(tmp_path / "r" / "result.csv")["data"][0] == "synthetic"


BAD = {
    "negative_a": (["a=-1"], "a=-1"),
    "nan_a": (["a=nan"], "a=nan"),
    "unknown_space": (["space=nosuchspace"], "space=nosuchspace is not known: use one of"),
    "missing_table": (["benchmark=table", "benchmark.path=nosuchfile.csv"], "nosuchfile.csv"),
    "missing_data": (["scorer=snip", "data=cifar10", "data.root=nodata"], "data.root=nodata"),
    "no_data_root": (["scorer=grasp", "data=cifar10", "data.root=null"], "data.root"),
    "float32_underflow": (["dtype=float32", "a=1e-30"], "float64"),
    "bad_dtype": (["dtype=float16"], "dtype=float16"),
    # issue 11 point 4: values are checked where read, never coerced or left to a traceback
    "float_seed": (["seed=1.5"], "seed=1.5"),
    "bool_a": (["a=true"], "a=True is not a number"),
    "bool_seed": (["seed=true"], "seed=True"),
    "text_seed": (["seed=abc"], "seed=abc"),
    "huge_seed": (["seed=99999999999999999999"], "seed=99999999999999999999"),
    "zero_threads": (["threads=0"], "threads=0"),
    "negative_threads": (["threads=-1"], "threads=-1"),
    # unit options, checked against the unit's constructor where it is built
    "zero_cells": (["space.N=0"], "space.N=0 is not a positive integer"),
    "text_cells": (["space.N=abc"], "space.N=abc is not an integer"),
    "negative_channels": (["space.C=-1"], "space.C=-1"),
    "zero_batch": (["scorer=snip", "data=synthetic", "data.batch_size=0"], "data.batch_size=0"),
    "zero_models": (["method=random_search", "n_models=0"], "n_models=0"),
    # Hydra's own errors are bad input too: one line, exit 2 (Hydra alone exits 1)
    "unknown_option": (["nosuch=1"], "use +nosuch=1"),
    "unknown_launcher": (["hydra/launcher=nosuch"], "hydra/launcher=nosuch is not known"),
    "unparsable_override": (["a=[1"], "'a=[1'"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_clear_line(tmp_path, case):
    args, words = BAD[case]
    out = freedarts(
        "search", *FAST, *args, f"hydra.run.dir={tmp_path}/run", env={"FREEDARTS_DATA": ""}
    )
    assert out.returncode == 2, out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and words in errors[0], out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    assert not (tmp_path / "run" / "result.csv").exists()


def test_bad_table_names_the_file(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    out = freedarts(
        "search", *FAST, "benchmark=table", f"benchmark.path={bad}", f"hydra.run.dir={tmp_path}/run"
    )
    assert out.returncode != 0 and "bad.csv" in out.stderr
    assert "Traceback" not in out.stderr


def test_architecture_missing_from_the_benchmark(tmp_path):
    table = tmp_path / "one.csv"
    table.write_text("arch,cifar10_test\n|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,10.0\n")
    out = freedarts(
        "search",
        *FAST,
        "benchmark=table",
        f"benchmark.path={table}",
        f"hydra.run.dir={tmp_path}/run",
    )
    assert out.returncode != 0
    assert "one.csv" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "run" / "result.csv").exists()
