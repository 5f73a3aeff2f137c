import pandas as pd
import pytest
from omegaconf import OmegaConf

from freedarts_cli.cli import config_dir
from freedarts_cli.errors import UserError
from freedarts_cli.tables import aggregate, collect, make_tables


def write_runs(root, rows):
    for i, row in enumerate(rows):
        d = root / str(i)
        d.mkdir(parents=True)
        pd.DataFrame([row]).to_csv(d / "result.csv", index=False)


def run(scorer, seed, acc, arch="x"):
    return {"space": "nb201", "method": "freedarts", "scorer": scorer, "pruning": "oneshot",
            "data": "none", "a": 1e-3, "seed": seed, "arch": f"{arch}{seed}",
            "cifar10_test": acc, "cifar100_test": float("nan"), "search_seconds": 0.1}


def test_mean_population_std_and_best_run(tmp_path):
    write_runs(tmp_path, [run("synflow", 0, 93.0), run("synflow", 1, 94.0),
                          run("synflow", 2, 95.0), run("snip", 0, 90.0)])
    table = aggregate(collect([tmp_path]), ["space", "scorer", "pruning", "a"],
                      ["cifar10_test", "cifar100_test"], "cifar10_test")
    syn = table[table.scorer == "synflow"].iloc[0]
    assert syn.n == 3
    assert syn.cifar10_test_mean == pytest.approx(94.0)
    assert syn.cifar10_test_std == pytest.approx((2 / 3) ** 0.5)  # population std, ddof=0
    assert syn.best_seed == 2 and syn.best_arch == "x2"
    assert table[table.scorer == "snip"].iloc[0].cifar10_test_std == 0


def test_make_tables_writes_markdown_and_csv(tmp_path):
    write_runs(tmp_path, [run("synflow", 0, 93.0), run("synflow", 1, 94.0)])
    cfg = OmegaConf.load(f"{config_dir()}/tables.yaml")
    cfg.paths = [str(tmp_path)]
    text = make_tables(cfg)
    assert "93.50 ± 0.50" in text
    assert "cifar100_test" not in text  # NaN in every run: no column
    assert (tmp_path / "tables.csv").is_file() and (tmp_path / "tables.md").is_file()
    assert "93.50 ± 0.50" in (tmp_path / "tables.md").read_text()


def test_missing_or_empty_folders_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        collect([tmp_path / "nope"])
    with pytest.raises(UserError, match="no result.csv"):
        collect([tmp_path])
