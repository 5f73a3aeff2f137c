"""The large spaces from the command line (issue 4): real Hydra runs of small variants."""

import json
import re

import pandas as pd
import pytest

from .conftest import freedarts
from .spaces.test_darts import DARTS_V2


def run(tmp_path, *overrides):
    out = freedarts("search", *overrides, f"hydra.run.dir={tmp_path}/run")
    assert out.returncode == 0, out.stderr
    return out, pd.read_csv(tmp_path / "run" / "result.csv").iloc[0]


@pytest.mark.slow
def test_darts_search_reports_genotype_size_and_pictures(tmp_path):
    out, row = run(tmp_path, "space=darts", "space.layers=5", "pruning=iterative", "seed=1")
    assert row["space"] == "darts" and row["arch"].startswith("Genotype(normal=[(")
    assert "normal_concat=range(2, 6)" in row["arch"] and row["arch"] in out.stdout
    genotype = json.loads(row["genotype_json"])
    assert len(genotype["normal"]) == len(genotype["reduce"]) == 8
    assert 1 < row["params_m"] < 6 and 300 < row["flops_m"] < 1000 and row["imagenet_params_m"] > 3
    assert "M mult-adds" in out.stdout and "retraining" in out.stdout
    assert row["benchmark"] == "none"  # auto found the NB201 table, which knows no DARTS cells
    for name in ("normal", "reduce"):
        assert (tmp_path / "run" / f"{name}.png").stat().st_size > 1000
        assert (tmp_path / "run" / f"{name}.pdf").is_file()
    traj = pd.read_csv(tmp_path / "run" / "trajectory.csv")
    assert traj["round"].max() == 6 and len(traj) == 28 * 6


def test_darts_imagenet_defaults_to_the_papers_a():
    out = freedarts("search", "space=darts_imagenet", "--cfg", "job")
    assert out.returncode == 0 and re.search(r"^a: 0\.0005$", out.stdout, re.M)
    out = freedarts("search", "space=darts_imagenet", "a=1e-3", "--cfg", "job")
    assert re.search(r"^a: 0\.001$", out.stdout, re.M)


def test_nb1shot1_search_reports_the_module_hash(tmp_path):
    out, row = run(tmp_path, "space=nb1shot1", "space.cells_per_stack=1")
    assert re.fullmatch(r"[0-9a-f]{32}", row["arch"]) and row["module_hash"] == row["arch"]
    assert row["params_m"] > 0 and (tmp_path / "run" / "cell.png").is_file()


@pytest.mark.slow
def test_nb1shot1_looks_up_a_nb101_table(tmp_path):
    first, row = run(tmp_path / "a", "space=nb1shot1", "space.cells_per_stack=1")
    table = tmp_path / "nb101.csv"
    pd.DataFrame(
        {
            "module_hash": [row["arch"], "0" * 32],
            "validation_accuracy": [93.1, 90.0],
            "test_accuracy": [92.4, 89.0],
        }
    ).to_csv(table, index=False)
    _, looked_up = run(
        tmp_path / "b",
        "space=nb1shot1",
        "space.cells_per_stack=1",
        "benchmark=nb101_table",
        f"benchmark.path={table}",
    )
    assert looked_up["arch"] == row["arch"] and looked_up["cifar10_test"] == 92.4
    assert looked_up["cifar10_valid"] == 93.1


@pytest.mark.slow
def test_mobilenet_search_small_variant(tmp_path):
    out, row = run(
        tmp_path,
        "space=mobilenet",
        "space.input_size=64",
        "space.width_mult=0.5",
        "space.num_classes=10",
    )
    assert len(row["arch"].split("-")) == 21 and row["params_m"] > 0 and row["flops_m"] > 0
    assert (tmp_path / "run" / "architecture.png").is_file()


def test_genotype_info_prints_sizes_one_per_line(tmp_path):
    out = freedarts("genotype-info", DARTS_V2, "--draw", str(tmp_path))
    assert out.returncode == 0, out.stderr
    values = dict(re.findall(r"^(\w+_m): ([0-9.]+)", out.stdout, re.M))
    assert float(values["cifar_params_m"]) == pytest.approx(3.349, abs=1e-3)
    assert float(values["imagenet_params_m"]) == pytest.approx(4.719, abs=1e-3)
    assert float(values["imagenet_flops_m"]) == pytest.approx(529.9, abs=0.5)
    assert (tmp_path / "normal.png").is_file() and (tmp_path / "reduce.pdf").is_file()


def test_genotype_info_at_other_widths():
    out = freedarts(
        "genotype-info", DARTS_V2, "--cifar-channels", "38", "--imagenet-channels", "50"
    )
    assert out.returncode == 0, out.stderr
    values = dict(re.findall(r"^(\w+_m): ([0-9.]+)", out.stdout, re.M))
    assert float(values["cifar_params_m"]) == pytest.approx(3.720, abs=1e-3)
    assert float(values["imagenet_params_m"]) == pytest.approx(5.079, abs=1e-3)
    assert "C=50" in out.stdout
    bad = freedarts("genotype-info", DARTS_V2, "--imagenet-channels", "0")
    assert bad.returncode == 2 and "not a channel count" in bad.stderr


@pytest.mark.parametrize(
    "args,message",
    [
        (["genotype-info", "Genotype(normal=[('conv_9x9', 0)])"], "conv_9x9"),
        (
            ["search", "space=darts", "method=zero_cost"],
            "method=zero_cost is implemented for space=nb201",
        ),
        (["search", "space=darts", "benchmark=nb301", "benchmark.path=."], "nasbench301"),
        (
            ["search", "space=mobilenet", "scorer=snip", "data=synthetic", "data.input_size=32"],
            "224x224",
        ),
    ],
)
def test_bad_input_on_large_spaces_is_one_line(args, message):
    out = freedarts(*args)
    assert out.returncode == 2, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], out.stderr
