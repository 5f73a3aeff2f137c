import math
import re

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from freedarts_cli import published
from freedarts_cli.cli import config_dir
from freedarts_cli.errors import UserError
from freedarts_cli.tables import (
    aggregate,
    collect,
    drop_duplicate_runs,
    make_paper_table,
    make_tables,
    paper_table,
)

from .conftest import freedarts


def write_runs(root, rows):
    for i, row in enumerate(rows):
        d = root / str(i)
        d.mkdir(parents=True)
        pd.DataFrame([row]).to_csv(d / "result.csv", index=False)


def run(scorer, seed, acc, arch="x"):
    return {
        "space": "nb201",
        "method": "freedarts",
        "scorer": scorer,
        "pruning": "oneshot",
        "data": "none",
        "a": 1e-3,
        "seed": seed,
        "arch": f"{arch}{seed}",
        "cifar10_test": acc,
        "cifar100_test": float("nan"),
        "search_seconds": 0.1,
    }


def test_mean_population_std_and_best_run(tmp_path):
    write_runs(
        tmp_path,
        [
            run("synflow", 0, 93.0),
            run("synflow", 1, 94.0),
            run("synflow", 2, 95.0),
            run("snip", 0, 90.0),
        ],
    )
    table = aggregate(
        collect([tmp_path]),
        ["space", "scorer", "pruning", "a"],
        ["cifar10_test", "cifar100_test"],
        "cifar10_test",
    )
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


# ---------------------------------------------------------------------------------------------
# Published tables (table=<id>) on a synthetic result tree with realistic rows for every method
# ---------------------------------------------------------------------------------------------

OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
ACC = [
    "cifar10_valid",
    "cifar10_test",
    "cifar100_valid",
    "cifar100_test",
    "imagenet16_120_valid",
    "imagenet16_120_test",
]
CENTRES = {"cifar10": 93.0, "cifar100": 70.0, "imagenet16_120": 43.0}
# per search iteration on NB201 (|O|=5, |E|=6), as Zero-Cost-PT Table 5 counts them
PERTURBATIONS = {
    "fixed": 30,
    "random": 30,
    "global_op_iter": 105,
    "global_edge_iter": 105,
    "global_op_once": 55,
    "global_edge_once": 55,
}


def _arch(rng, conv_only=False):
    ops = OPS[2:4] if conv_only else OPS
    picks = [ops[i] for i in rng.integers(0, len(ops), 6)]
    return "|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*picks)


def _row(rng, seed, method, scorer, pruning, data, seconds, a=1e-3, **extra):
    row = {
        "space": "nb201",
        "method": method,
        "scorer": scorer,
        "pruning": pruning,
        "seed": seed,
        "a": a,
        "dtype": "float64",
        "device": "cpu",
        "data": data,
        "arch": _arch(rng, conv_only=method == "freedarts" and a <= 1e-3),
        "benchmark": "table",
        "benchmark_source": "nats_tss_test_acc_200ep.csv",
        "benchmark_index": int(rng.integers(0, 15625)),
    }
    for col in ACC:
        ds = col.rsplit("_", 1)[0]
        row[col] = round(
            CENTRES[ds] - 3 * rng.random() - (5 * math.log10(a / 1e-3) ** 2 / 5 if a > 1e-3 else 0),
            4,
        )
    row.update(
        search_seconds=round(seconds * (1 + 0.2 * rng.random()), 4),
        peak_memory_mb=700.0,
        rounds=24 if pruning.startswith("iterative") else 1,
        **extra,
        freedarts_version="0.1.0",
        torch_version="2.14.1",
        git_commit="abc",
    )
    return row


def fake_runs(seeds=3, a_values=(1e-5, 1e-3, 1e-1)):
    """(kind, row) for every method and setting the experiments sweep (accuracies made up)."""
    rng = np.random.default_rng(0)
    rows = []
    for s in range(seeds):
        for pruning, sec in (("oneshot", 0.3), ("iterative", 3.3)):
            for scorer, data in (
                ("synflow", "none"),
                ("snip", "synthetic"),
                ("snip_random_labels", "synthetic"),
                ("grasp", "synthetic"),
            ):
                for a in a_values if scorer == "synflow" else (1e-3,):
                    rows.append(_row(rng, s, "freedarts", scorer, pruning, data, sec, a=a))
        rows.append(_row(rng, s, "freedarts", "grasp_authors", "oneshot", "synthetic", 0.3))
        scale = dict(epochs=50, supernet_cells=5)
        for m in (1, 2, 3, 4):
            rows.append(
                _row(rng, s, "balenas", "mu", "argmax", "synthetic", 600.0, mc_samples=m, **scale)
            )
        for proxy in ("snip", "grasp", "synflow"):
            for n in (10, 50, 100):
                rows.append(
                    _row(
                        rng,
                        s,
                        "balenas",
                        proxy,
                        "sample",
                        "synthetic",
                        600.0,
                        mc_samples=3,
                        n_samples=n,
                        **scale,
                    )
                )
        rows.append(_row(rng, s, "random", "none", "random", "none", 0.001))
        for proxy in ("synflow", "snip", "grasp"):
            for n in (10, 100, 1000):
                rows.append(
                    _row(
                        rng,
                        s,
                        "zero_cost",
                        proxy,
                        "sample",
                        "none" if proxy == "synflow" else "synthetic",
                        n * 0.03,
                        n_samples=n,
                    )
                )
        for n in (100, 1000):
            rows.append(
                _row(
                    rng,
                    s,
                    "naswot",
                    "nwot",
                    "sample",
                    "synthetic",
                    n * 0.05,
                    n_samples=n,
                    batch_size=128,
                )
            )
        for proxy, order in [
            (p, "random") for p in ("fisher", "grad_norm", "grasp", "snip", "synflow", "nwot")
        ] + [
            ("nwot", o)
            for o in (
                "fixed",
                "global_op_iter",
                "global_op_once",
                "global_edge_iter",
                "global_edge_once",
            )
        ]:
            rows.append(
                _row(
                    rng,
                    s,
                    "zero_cost_pt",
                    proxy,
                    f"perturbation_{order}",
                    "none" if proxy == "synflow" else "synthetic",
                    60.0,
                    n_proposals=10,
                    n_validation=100,
                    edge_order=order,
                    batch_size=256,
                    perturbations=PERTURBATIONS[order],
                )
            )
        rows.append(
            _row(
                rng,
                s,
                "tenas",
                "ntk_lr",
                "tenas",
                "synthetic",
                120.0,
                ntk_C=3,
                ntk_N=1,
                ntk_batch=72,
                repeat=3,
                lr_samples=1000,
                lr_batches=3,
                precision=3,
                tenas_rounds=5,
            )
        )
        for proxy in ("nwot", "synflow", "snip", "combined"):
            data = "none" if proxy == "synflow" else "synthetic"
            rows.append(
                _row(rng, s, "random_search", proxy, "random_search", data, 20.0, n_models=500)
            )
            for warmup in (0, 128):
                rows.append(
                    _row(
                        rng,
                        s,
                        "evolution",
                        proxy,
                        "evolution",
                        data,
                        25.0,
                        n_models=500,
                        population=64,
                        tournament=10,
                        warmup=warmup,
                        zero_cost_move=True,
                    )
                )
        for space in ("darts", "darts_20cells", "darts_imagenet", "mobilenet"):
            row = _row(
                rng,
                s,
                "freedarts",
                "synflow",
                "oneshot",
                "none",
                1.5,
                a=5e-4 if space == "darts_imagenet" else 1e-3,
            )
            row.update(
                {c: float("nan") for c in ACC},
                space=space,
                benchmark="none",
                params_m=round(3 + rng.random(), 3),
                flops_m=round(500 + 100 * rng.random()),
            )
            rows.append(row)
    return rows


def write_tree(root, rows, trajectories=True):
    """One folder per run, as a sweep writes them (result.csv, trajectory.csv)."""
    rng = np.random.default_rng(1)
    for i, row in enumerate(rows):
        d = root / str(i)
        d.mkdir(parents=True)
        pd.DataFrame([row]).to_csv(d / "result.csv", index=False)
        if trajectories and row["method"] == "freedarts":
            n = 24 if row["pruning"].startswith("iterative") else 1
            traj = [
                {
                    "round": r if n > 1 else 0,
                    "removed_edge": "",
                    "removed_op": "",
                    "removed_score": 0.0,
                    "arch": row["arch"],
                    **{c: row[c] - (n - r) * rng.random() * 0.5 for c in ACC},
                }
                for r in range(1, n + 1)
            ]
            pd.DataFrame(traj).to_csv(d / "trajectory.csv", index=False)
    return root


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    rows = fake_runs()
    write_tree(root, rows)
    return root, pd.DataFrame(rows), collect([root])


def tables_cfg(paths, **kw):
    cfg = OmegaConf.load(f"{config_dir()}/tables.yaml")
    cfg.paths = [str(p) for p in paths]
    for k, v in kw.items():
        cfg[k] = v
    return cfg


def md_rows(markdown):
    """Markdown table lines -> {first cell: cells} (escaped '|' kept inside cells)."""
    out = {}
    for line in markdown.splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            out[cells[0]] = cells
    return out


def split_pm(text):
    mean, _, std = text.partition(" ± ")
    return float(mean), (float(std) if std else float("nan"))


@pytest.mark.parametrize("table_id", published.table_ids())
def test_every_published_table_renders_ours_beside_the_paper(tree, tmp_path, table_id):
    root, _, runs = tree
    text = make_paper_table(tables_cfg([root], table=table_id, out=str(tmp_path)), runs)
    for ext in ("md", "csv", "tex"):
        assert (tmp_path / f"{table_id}.{ext}").stat().st_size > 0
    long = pd.read_csv(tmp_path / f"{table_id}.csv")
    values = published.values(table_id)
    assert len(long) == len(values)  # one record per published (row, column)
    spec = published.spec(table_id)
    merged = long.merge(values, on=["row", "column"], suffixes=("", "_pub"))
    # published numbers in every cell equal the data file's
    num = merged[merged.unit != "text"]
    assert np.allclose(num.paper_value, num.value_f, equal_nan=True)
    assert np.allclose(num.paper_std, num.std_f, equal_nan=True)
    # every reproduced row has our numbers (the fake tree has every method), quoted rows none
    for row_id, rspec in spec["rows"].items():
        ours = long[(long.row == row_id) & (long.unit != "text")]
        if "match" in rspec:
            assert ours.ours_mean.notna().all() and (ours.ours_n == 3).all(), row_id
        else:
            assert rspec.get("quoted") and ours.ours_mean.isna().all(), row_id
    assert "–" in text and table_id in text
    tex = (tmp_path / f"{table_id}.tex").read_text()
    assert "\\begin{tabular}" in tex and "\\bottomrule" in tex and "±" not in tex


def test_cells_are_mean_and_population_std_of_the_runs(tree, tmp_path):
    root, df, collected = tree
    text = make_paper_table(tables_cfg([root], table="conf_table2", out=str(tmp_path)), collected)
    rows = md_rows(text)
    header = rows["Method"]
    col = header.index("CIFAR-100 Test(%) ours")
    label = next(k for k in rows if k.startswith("Zero-cost with SNIP"))
    runs = df[(df.method == "zero_cost") & (df.scorer == "snip") & (df.n_samples == 100)]
    assert len(runs) == 3
    mean, std = split_pm(rows[label][col])
    assert mean == pytest.approx(runs.cifar100_test.mean(), abs=0.005)
    assert std == pytest.approx(runs.cifar100_test.std(ddof=0), abs=0.005)
    # the published number beside it is the data file's
    pub = published.values("conf_table2").set_index(["row", "column"])
    rec = pub.loc[("zero_cost_snip", "cifar100_test")]
    assert split_pm(rows[label][col + 1]) == (rec.value_f, rec.std_f)
    # synthetic-data rows are labelled, data-free ones are not
    assert "[ours on synthetic data]" in label
    syn = next(k for k in rows if k.startswith("FreeDARTS with SynFlow"))
    assert "synthetic" not in syn
    assert "NOT the paper's setting" in text


def test_error_tables_convert_ours_to_error(tree, tmp_path):
    root, df, collected = tree
    make_paper_table(tables_cfg([root], table="zcpt_table5", out=str(tmp_path)), collected)
    long = pd.read_csv(tmp_path / "zcpt_table5.csv").set_index(["row", "column"])
    runs = df[(df.method == "zero_cost_pt") & (df.pruning == "perturbation_global_op_iter")]
    cell = long.loc[("global_op_iter", "cifar10_test")]
    assert cell.ours_mean == pytest.approx(100 - runs.cifar10_test.mean())
    assert cell.ours_std == pytest.approx(runs.cifar10_test.std(ddof=0))
    assert cell.paper_value == 5.69 and cell.unit == "error"
    assert "error = 100 − accuracy" in (tmp_path / "zcpt_table5.md").read_text()
    text = long.loc[("global_op_iter", "perturbations")]
    assert text.paper_printed == "½|O||E|(|E|+1)" and text.ours_mean == 105
    rows = md_rows((tmp_path / "zcpt_table5.md").read_text())
    header = rows["Search Order"]
    col = header.index("# of Perturbations ours")
    row = next(v for k, v in rows.items() if k.startswith("global-op-iter"))
    assert row[col : col + 2] == ["105", "½|O||E|(|E|+1)"]


def test_quoted_rows_search_cost_and_nan(tree, tmp_path):
    root, df, _ = tree
    text = make_tables(tables_cfg([root], table="conf_table1", out=str(tmp_path)))
    rows = md_rows(text)
    header = rows["Method"]
    gdas = next(v for k, v in rows.items() if k.startswith("GDAS"))
    assert "[quoted: training-based]" in gdas[0] and gdas[1] == "–"
    cost = header.index("Search Cost (GPU sec.) ours")
    assert gdas[cost] == "–" and gdas[cost + 1] == "28925.91"
    fd = next(v for k, v in rows.items() if k.startswith("FreeDARTS"))
    runs = df[
        (df.space == "nb201")
        & (df.method == "freedarts")
        & (df.scorer == "synflow")
        & (df.pruning == "oneshot")
        & (df.a == 1e-3)
    ]
    mean, std = split_pm(fd[cost])
    assert mean == pytest.approx(runs.search_seconds.mean(), abs=5e-4)
    assert std == pytest.approx(runs.search_seconds.std(ddof=0), abs=5e-4)
    assert fd[cost + 1] == "0.6"
    zcpt = next(v for k, v in rows.items() if k.startswith("Zero-Cost-PT"))
    assert zcpt[header.index("CIFAR-10 Valid(%) paper")] == "–"  # printed '-'
    assert "measured search_seconds" in text and "on cpu" in text


def test_reduced_setting_is_labelled_and_duplicates_count_once(tmp_path):
    rows = [r for r in fake_runs(seeds=2) if r["method"] in ("zero_cost_pt", "random")]
    for r in rows:
        if r["method"] == "zero_cost_pt":
            r["n_proposals"] = 2
    write_tree(tmp_path / "a", rows, trajectories=False)
    write_tree(tmp_path / "b", [r for r in rows if r["method"] == "random"], trajectories=False)
    t = paper_table(collect([tmp_path / "a", tmp_path / "b"]), "conf_table1")
    zcpt = next(r for r in t.rows if r.id == "zero_cost_pt")
    assert zcpt.differs == {"n_proposals": ("2", 10)}
    assert "[ours at n_proposals=2 (paper 10)]" in zcpt.display_label()
    random = next(r for r in t.rows if r.id == "random")
    assert random.cells["cifar10_test"].n == 2 and t.duplicates == 2
    # with runs at the published setting present, those are used alone
    write_tree(
        tmp_path / "c",
        [dict(r, n_proposals=10) for r in rows if r["method"] == "zero_cost_pt"],
        trajectories=False,
    )
    t = paper_table(collect([tmp_path]), "conf_table1")
    assert next(r for r in t.rows if r.id == "zero_cost_pt").differs == {}


def test_real_data_runs_are_preferred_over_synthetic(tmp_path):
    rows = [r for r in fake_runs(seeds=2) if r["method"] == "tenas"]
    real = [dict(r, data="cifar10", cifar10_test=90.0) for r in rows]
    write_tree(tmp_path, rows + real, trajectories=False)
    t = paper_table(collect([tmp_path]), "conf_table1")
    tenas = next(r for r in t.rows if r.id == "tenas")
    assert not tenas.synthetic and tenas.cells["cifar10_test"].ours_mean == 90.0


def test_runs_on_a_cifar10_subset_are_labelled_with_its_size(tmp_path):
    rows = [r for r in fake_runs(seeds=2) if r["method"] == "tenas"]
    write_tree(
        tmp_path / "subset",
        [dict(r, data="cifar10", data_images=4660) for r in rows],
        trajectories=False,
    )
    t = paper_table(collect([tmp_path]), "conf_table1")
    tenas = next(r for r in t.rows if r.id == "tenas")
    assert "[ours on real CIFAR-10, subset: 4,660 training images]" in tenas.display_label()
    assert any("subset" in n for n in t.notes)
    # the full training set is not a subset
    write_tree(
        tmp_path / "full",
        [dict(r, data="cifar10", data_images=50000, seed=r["seed"] + 9) for r in rows],
        trajectories=False,
    )
    t = paper_table(collect([tmp_path / "full"]), "conf_table1")
    assert "subset" not in next(r for r in t.rows if r.id == "tenas").display_label()


def test_nats_rows_use_their_dataset_and_column_method(tree):
    _, df, collected = tree
    t = paper_table(collected, "nats_search")
    row = next(r for r in t.rows if r.id == "c100_combined")
    runs = df[(df.method == "evolution") & (df.scorer == "combined") & (df.warmup == 128)]
    assert row.cells["aew_test"].ours_mean == pytest.approx(runs.cifar100_test.mean())
    assert row.cells["aew_time"].ours_mean == pytest.approx(runs.search_seconds.mean())
    assert row.cells["aew_test"].paper_value == 72.00


def test_unknown_table_is_a_user_error(tree):
    root, _, _ = tree
    with pytest.raises(UserError, match="conf_table1"):
        make_tables(tables_cfg([root], table="nope"))


def test_published_data_is_consistent():
    df = published.values()
    assert set(df.unit) <= set(published.UNITS)
    for table_id in published.table_ids():
        spec = published.spec(table_id)
        values = published.values(table_id)
        assert spec["id"] == table_id
        assert set(spec["rows"]) == set(values.row)
        assert {c["id"] for c in spec["columns"]} == set(values.column)
        assert len(values) == values.row.nunique() * len(spec["columns"])
        for row_id, rspec in spec["rows"].items():
            quoted = values[values.row == row_id].quoted
            # a row is either reproduced (filters to our runs) or quoted (with the reason)
            assert quoted.all() == ("match" not in rspec) == bool(rspec.get("quoted")), row_id
        numeric = values[values.unit != "text"]
        has = numeric.value != ""
        assert numeric[has].value_f.notna().all()
        assert (numeric[~has].printed.isin(["-", "?"])).all()
    # Zero-Cost-PT tables are error, everything else accuracy (+ seconds)
    assert set(df[df.table.str.startswith("zcpt")].unit) <= {"error", "text"}


def test_published_values_match_paper_tables_md():
    """Each record's printed cell appears in its table in shared/docs/PAPER_TABLES.md."""
    from .conftest import REPO

    doc = REPO.parent / "shared" / "docs" / "PAPER_TABLES.md"
    if not doc.is_file():
        pytest.skip("../shared/docs/PAPER_TABLES.md absent (a clone outside the workspace)")
    text = doc.read_text().replace("\\*", "*").replace("\\|", "|")
    lines, label = {}, None
    for line in text.splitlines():
        if line.startswith("| "):
            cells = [c.strip() for c in line.strip()[1:-1].split(" | ")]
            # a row-group label is printed once: blank label cells continue the one above
            label = cells[0] if cells[0] or label is None else label
            lines.setdefault(label, []).append(cells)
        else:
            label = None
    for _, rec in published.values().iterrows():
        if published.spec(rec.table)["rows"][rec.row].get("ours_only"):
            # a row of ours beside the paper's (no published value): not in the paper
            assert rec.printed == "-" and not rec.value and "not in" in rec.source, rec.row
            continue
        candidates = lines.get(rec.label, [])
        assert any(rec.printed in cells[1:] for cells in candidates), (
            rec.table,
            rec.row,
            rec.column,
            rec.printed,
        )
        if rec.value:
            assert rec.printed.replace(" ", "").startswith(rec.value)


def test_selection_rows_beside_a_result_are_collected_and_junk_is_named(tmp_path, caplog):
    """A search that selects several architectures (BaLeNAS-TF) writes them to selections.csv
    beside its result.csv: they are runs of their own for the tables; an unreadable one is
    named and left out."""
    write_runs(tmp_path / "good", [run("mu", 0, 90.0)])
    pd.DataFrame([run("snip", 0, 91.0, arch="s"), run("grasp", 0, 92.0, arch="g")]).to_csv(
        tmp_path / "good" / "0" / "selections.csv", index=False
    )
    write_runs(tmp_path / "junk", [run("mu", 1, 89.0)])
    (tmp_path / "junk" / "0" / "selections.csv").write_text("nothing,useful\n1,2\n")
    with caplog.at_level("WARNING"):
        df = collect([tmp_path])
    assert sorted(df.scorer) == ["grasp", "mu", "mu", "snip"]
    assert df[df.scorer == "snip"].source.iloc[0].endswith("selections.csv")
    assert "junk/0/selections.csv: no space, method, seed, arch column" in caplog.text


def test_overlapping_folders_count_each_run_once(tmp_path):
    write_runs(tmp_path / "s", [run("synflow", 0, 93.0), run("synflow", 1, 94.0)])
    df = collect([tmp_path, tmp_path / "s"])
    assert len(df) == 2
    rerun = df.assign(source="rerun", search_seconds=0.2)  # the same runs, collected later
    kept, dropped = drop_duplicate_runs(pd.concat([df, rerun], ignore_index=True))
    assert len(dropped) == 2 and len(kept) == 2 and (kept.source == "rerun").all()
    assert set(dropped) == set(df.source) and set(dropped.values()) == {"rerun"}
    other_seed = df.assign(seed=df.seed + 10)
    assert drop_duplicate_runs(pd.concat([df, other_seed], ignore_index=True))[1] == {}


def test_plain_tables_also_write_latex(tmp_path):
    write_runs(tmp_path, [run("synflow", 0, 93.0), run("synflow", 1, 94.0)])
    make_tables(tables_cfg([tmp_path]))
    tex = (tmp_path / "tables.tex").read_text()
    assert "93.50 $\\pm$ 0.50" in tex and "\\begin{tabular}" in tex


def test_tables_command_with_table_id(tree, tmp_path):
    from .conftest import freedarts

    root, _, _ = tree
    out = freedarts("tables", str(root), "table=journal_table3", f"out={tmp_path}")
    assert out.returncode == 0, out.stderr
    assert "One-shot FreeDARTS-D" in out.stdout and "93.63 ± 0.06" in out.stdout
    assert (tmp_path / "journal_table3.tex").is_file()
    out = freedarts("tables", str(root), "table=bogus")
    assert out.returncode == 2 and "not a published table" in out.stderr


def test_a_setting_the_runs_did_not_record_is_not_a_difference(tmp_path):
    rows = [r for r in fake_runs(seeds=1) if r["method"] in ("zero_cost_pt", "naswot")]
    for r in rows:
        if r["method"] == "zero_cost_pt":
            del r["batch_size"]  # naswot rows still have the column: NaN for these runs
    write_tree(tmp_path, rows, trajectories=False)
    t = paper_table(collect([tmp_path]), "zcpt_table5")
    assert all(not r.differs and r.cells["cifar10_test"].n == 1 for r in t.rows)


def test_a_min_match_selects_any_warmup_and_the_setting_labels_it():
    """nats_search's warm-up columns: runs at a CPU-sized warm-up (32) must fill the column,
    labelled against the paper's 128, and warm-up 0 runs must not."""
    import pandas as pd

    from freedarts_cli.tables import _prefer_setting, _select

    df = pd.DataFrame({"method": ["evolution"] * 3, "warmup": [0, 32, 32]})
    sel = _select(df, {"method": "evolution", "warmup": {"min": 1}})
    assert list(sel["warmup"]) == [32, 32]
    _, differs = _prefer_setting(sel, {"warmup": 128})
    assert differs == {"warmup": ("32", 128)}


def test_junk_result_files_are_named_left_out_and_counted_never_averaged(tmp_path, caplog):
    """Issue 11 point 3: text, empty, binary, wrong-column and truncated result.csv files."""
    from freedarts_cli.tables import collect

    good = "space,method,seed,arch,cifar10_test\nnb201,freedarts,0,|x|,90.0\n"
    junk = {
        "text": "garbage\n",
        "empty": "",
        "binary": b"\x00\xff\xfe" * 40,
        "columns": "a,b\n1,2\n",
        "truncated": good[:-8],
        "rows": good + good.split("\n")[1],
        "seed": good.replace(",0,", ",abc,"),
    }
    write_runs(tmp_path, [])
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "result.csv").write_text(good)
    for name, body in junk.items():
        (tmp_path / name).mkdir()
        path = tmp_path / name / "result.csv"
        path.write_bytes(body) if isinstance(body, bytes) else path.write_text(body)
    with caplog.at_level("WARNING"):
        df = collect([tmp_path])
    assert len(df) == 1 and df["cifar10_test"].tolist() == [90.0]
    for name in junk:
        assert any(str(tmp_path / name / "result.csv") in r.message for r in caplog.records), name
    assert any(f"left out {len(junk)} of {len(junk) + 1}" in r.message for r in caplog.records)
    for name in junk:
        (tmp_path / name / "result.csv").unlink()
    (tmp_path / "ok" / "result.csv").write_text("garbage\n")
    with pytest.raises(UserError, match="no readable result.csv"):
        collect([tmp_path])


def test_tables_count_a_rerun_config_once_and_name_unfinished_folders(tmp_path):
    """Issue 11 point 2: a sweep rerun into a new folder, and a folder killed before its
    result.csv, are named, never averaged twice or silently ignored."""
    first = [run("synflow", s, 93.0 + s) for s in range(3)]
    write_runs(tmp_path / "sweep1", first)
    write_runs(tmp_path / "sweep2", first[:2])  # the same two runs again
    killed = tmp_path / "sweep2" / "2"
    killed.mkdir()
    (killed / "search.log").write_text("[12:00:00][freedarts][INFO] seed=2 ...\n")
    out = freedarts("tables", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert pd.read_csv(tmp_path / "tables.csv").n.tolist() == [3]
    assert out.stdout.count("dropped duplicate") == 2
    assert f"unfinished: {killed} holds no result.csv" in out.stdout
    assert "2 duplicate run(s) dropped (named above); 1 unfinished run folder(s)" in out.stdout
