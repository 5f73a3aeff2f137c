"""scripts/suite_zero_agreement.py: our archived values meet Suite-Zero's row by row."""

import importlib.util
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from freedarts_cli.archive import pack

SCRIPT = Path(__file__).parents[1] / "scripts" / "suite_zero_agreement.py"
CELLS = [  # NAS-Bench-101 cells of 3 and 4 vertices, as the shared CSV writes them
    ("010001000", "input,conv3x3-bn-relu,output"),
    ("010001000", "input,conv1x1-bn-relu,output"),
    ("010001000", "input,maxpool3x3,output"),
    ("0110001100010000", "input,conv3x3-bn-relu,maxpool3x3,output"),
    ("0110001100010000", "input,conv1x1-bn-relu,conv3x3-bn-relu,output"),
]
ACC = [91.0, 90.0, 80.0, 93.0, 92.5]


@pytest.fixture
def script():
    spec = importlib.util.spec_from_file_location("suite_zero_agreement", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def files(tmp_path, theirs_jacov, acc=ACC):
    """The shared CSV, NASLib's JSON (its own keys, rows in the CSV's order) and our archive."""
    table = tmp_path / "cells.csv"
    pd.DataFrame(
        {"matrix": [m for m, _ in CELLS], "ops": [o for _, o in CELLS], "val_accuracy": ACC}
    ).to_csv(table, index=False)
    rows = {
        f"key{i}": {"jacov": v, "val_accuracy": a}
        for i, (v, a) in enumerate(zip(theirs_jacov, acc, strict=True))
    }
    suite = tmp_path / "zc_nasbench101.json"
    suite.write_text(json.dumps({"nasbench101": {"cifar10": rows}}))
    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    ours = [1.0, 0.5, -2.0, 3.0, 2.0]  # ranks like ACC
    pd.DataFrame(
        {
            "arch": [f"{m}|{o}" for m, o in CELLS],
            "proxy": "jacob_cov",
            "seed": 0,
            "value": ours,
            "seconds": 0.1,
        }
    ).to_csv(run / "proxy_scores.csv", index=False)
    archive = tmp_path / "archive"
    shutil.rmtree(archive, ignore_errors=True)
    pack([run], archive)
    return ["--space", "nb101", "--table", str(table), "--suite-zero", str(suite),
            "--archive", str(archive)]  # fmt: skip


def test_same_ranking_agrees_fully_and_a_reversed_one_not(script, tmp_path, capsys):
    assert script.main(files(tmp_path, [10, 9, 1, 30, 20])) == 0
    assert "| jacob_cov | 5 | 1.000 | 1.000 | 1.000 |" in capsys.readouterr().out
    assert script.main(files(tmp_path, [-10, -9, -1, -30, -20])) == 0
    assert "| jacob_cov | 5 | 1.000 | -1.000 | -1.000 |" in capsys.readouterr().out


def test_a_json_in_another_order_is_one_error_line(script, tmp_path, capsys):
    assert script.main(files(tmp_path, [1, 2, 3, 4, 5], acc=ACC[::-1])) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "another order" in err
