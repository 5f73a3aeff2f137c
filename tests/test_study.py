"""freedarts correlate: sampling, shards, the append-only score table, resume after a kill."""

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from freedarts_cli.errors import UserError
from freedarts_cli.proxies import PROXIES
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
    requested, proxies = parse_proxies("all")
    assert "vkdnw_agg" in requested and len(proxies) == len(PROXIES)
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
    # the accuracies are written before scoring: a half-done study already reads as a table
    assert set(partial["arch"]) <= set(pd.read_csv(out / "accuracies.csv")["arch"])
    half = subprocess.run(
        [sys.executable, "-m", "freedarts_cli", "tables", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert half.returncode == 0 and "C10 τ" in half.stdout, half.stderr[-2000:]
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
        (["space=darts"], "benchmark=arch_table"),
        (["space=nb1shot1"], "builds none"),
        (["dedup=maybe"], "dedup=maybe"),
    ],
)
def test_bad_options_give_one_line_and_exit_2(cli, tmp_path, args, needle):
    res = cli("correlate", *args, f"hydra.run.dir={tmp_path}")
    assert res.returncode == 2, res.stderr[-1500:]
    assert needle in res.stderr and "Traceback" not in res.stderr


# --------------------------------------------------------------------- other spaces, dedup


def test_a_space_that_cannot_be_enumerated_needs_the_benchmarks_list(darts_set):
    from freedarts_cli.benchmark.arch_table import ArchTableBenchmark
    from freedarts_cli.benchmark.none import NoBenchmark
    from freedarts_cli.spaces.darts import DartsSpace
    from freedarts_cli.study import candidates

    space = DartsSpace()
    with pytest.raises(UserError, match="benchmark=arch_table"):
        candidates(space, NoBenchmark())
    bench = ArchTableBenchmark(darts_set, space)
    pool, source = candidates(space, bench)
    assert len(pool) == 500 and "500" in source
    assert [space.decode(c) for c in pool] == bench.architectures()
    sample = sample_archs(space, 20, 0, pool)
    assert sample == sample_archs(space, "all", 0, pool)[:20]  # samples nest here too
    with pytest.raises(UserError, match="the benchmark's list"):
        sample_archs(space, 501, 0, pool)


def test_nb201_keeps_its_sample(shared_table):
    from freedarts_cli.benchmark.table import TableBenchmark
    from freedarts_cli.study import candidates

    space = NB201Space()
    pool, _ = candidates(space, TableBenchmark(shared_table))
    assert pool is None  # the space's own 15,625, in the order the earlier studies sampled
    # the first three of the sample every earlier NB201 study drew (checked against the code
    # before this change)
    assert sample_archs(space, 3, 0) == [[3, 2, 3, 1, 3, 4], [1, 2, 4, 3, 2, 0], [4, 3, 0, 1, 2, 3]]


def test_dedup_auto_is_on_for_whole_spaces_with_classes():
    from freedarts_cli.spaces.darts import DartsSpace
    from freedarts_cli.study import parse_dedup

    nb201, darts = NB201Space(), DartsSpace()
    assert parse_dedup("auto", "all", nb201) and not parse_dedup("auto", 100, nb201)
    assert parse_dedup(True, 100, nb201) and not parse_dedup(False, "all", nb201)
    assert parse_dedup("auto", 100, nb201, resumed_dedup=True)  # a dedup folder goes on so
    assert not parse_dedup("auto", "all", darts)
    assert not parse_dedup("auto", 100, darts, resumed_dedup=True)
    with pytest.raises(UserError, match="no isomorphism key"):
        parse_dedup(True, 10, darts)


def _isomorphic_sample(shared_table, tmp_path, classes=6, per_class=3):
    """A CSV of NB201 strings: ``classes`` isomorphism classes with ``per_class`` strings each
    (and their test accuracies), in shuffled order."""
    table = pd.read_csv(shared_table)
    sizes = table.groupby("UniqueString")["ArchitectureString"].transform("size")
    big = table[sizes >= per_class]
    keys = big["UniqueString"].drop_duplicates().sample(classes, random_state=1)
    rows = big[big["UniqueString"].isin(keys)].groupby("UniqueString").head(per_class)
    rows = rows.sample(frac=1.0, random_state=2)
    path = tmp_path / "sample.csv"
    rows[["ArchitectureString", "CIFAR10TestAccuracy200Epochs"]].to_csv(path, index=False)
    return path, rows


def test_dedup_scores_each_class_once_and_reports_every_string(shared_table, tmp_path):
    from freedarts_cli import api, correlation

    path, rows = _isomorphic_sample(shared_table, tmp_path)
    common = ("space=nb201", "benchmark=arch_table", f"benchmark.path={path}", "n_archs=all")
    common += ("proxy=synflow,params", "threads=1")
    api.correlate(*common, "dedup=true", out_dir=tmp_path / "dedup")
    api.correlate(*common, "dedup=false", out_dir=tmp_path / "every")
    dedup = pd.read_csv(tmp_path / "dedup" / "proxy_scores.csv")
    every = pd.read_csv(tmp_path / "every" / "proxy_scores.csv")
    assert len(dedup) == len(every) == 2 * len(rows)  # a row per string and proxy
    assert dedup["seconds"].notna().sum() == 2 * 6  # scored: one string per class
    classes = dict(zip(rows["ArchitectureString"], rows["UniqueString"], strict=True))
    dedup["class"] = dedup["arch"].map(classes)
    assert (dedup.groupby(["class", "proxy"])["value"].nunique() == 1).all()
    # the dedup correlation is that of scoring every string with each class's value being
    # its representative's (the first string of the class in the sample's order)
    every["class"] = every["arch"].map(classes)
    reps = dedup[dedup["seconds"].notna()].set_index(["class", "proxy"])["value"]
    expanded = every.assign(
        value=[reps[(c, p)] for c, p in zip(every["class"], every["proxy"], strict=True)]
    )
    accuracy = pd.read_csv(tmp_path / "every" / "accuracies.csv").set_index("arch")
    ours = pd.read_csv(tmp_path / "dedup" / "correlation.csv")
    check = correlation.summarise(correlation.correlations(expanded, accuracy))
    merged = ours.merge(check, on=["proxy", "dataset", "metric"])
    assert len(merged) == len(ours) and (merged["mean_x"] - merged["mean_y"]).abs().max() < 1e-12
    # and the same as scoring every string, up to the initialisation noise inside a class
    full = pd.read_csv(tmp_path / "every" / "correlation.csv")
    both = ours.merge(full, on=["proxy", "dataset", "metric"])
    tau = both[both["metric"] == "kendall"]
    assert (tau["mean_x"] - tau["mean_y"]).abs().max() < 0.15, tau
    # rerun into the dedup folder: nothing scored twice, nothing missing
    api.correlate(*common, "dedup=true", out_dir=tmp_path / "dedup")
    again = pd.read_csv(tmp_path / "dedup" / "proxy_scores.csv")
    assert len(again) == len(dedup) and not again.duplicated(["arch", "proxy", "seed"]).any()


def test_dedup_fills_the_classes_of_a_run_scored_without_it(shared_table, tmp_path):
    from freedarts_cli import api

    path, rows = _isomorphic_sample(shared_table, tmp_path, classes=3, per_class=2)
    common = ("space=nb201", "benchmark=arch_table", f"benchmark.path={path}", "n_archs=all")
    common += ("proxy=params", "threads=1")
    out = tmp_path / "run"
    api.correlate(*common, "n_archs=1", "dedup=false", out_dir=out)  # one string scored
    api.correlate(*common, "dedup=true", out_dir=out)
    scores = pd.read_csv(out / "proxy_scores.csv")
    assert sorted(scores["arch"]) == sorted(rows["ArchitectureString"])
    assert not scores.duplicated(["arch", "proxy", "seed"]).any()


def test_dedup_auto_continues_a_dedup_study_resumed_with_more_architectures(shared_table, tmp_path):
    from freedarts_cli import api

    path, rows = _isomorphic_sample(shared_table, tmp_path, classes=3, per_class=3)
    common = ("space=nb201", "benchmark=arch_table", f"benchmark.path={path}", "proxy=params")
    common += ("threads=1", "sample_seed=0")
    out = tmp_path / "run"
    api.correlate(*common, "n_archs=6", "dedup=true", out_dir=out)
    api.correlate(*common, f"n_archs={len(rows)}", out_dir=out)  # dedup=auto, not n_archs=all
    scores = pd.read_csv(out / "proxy_scores.csv")
    assert sorted(scores["arch"]) == sorted(rows["ArchitectureString"])
    assert scores["seconds"].notna().sum() == 3  # one scored string per class, the rest copies
    # a folder scored without dedup goes on without it
    api.correlate(*common, "n_archs=6", "dedup=false", out_dir=tmp_path / "every")
    api.correlate(*common, f"n_archs={len(rows)}", out_dir=tmp_path / "every")
    every = pd.read_csv(tmp_path / "every" / "proxy_scores.csv")
    assert len(every) == len(rows) and every["seconds"].notna().all()


@pytest.mark.slow
@pytest.mark.parametrize("space", ["darts", "nb101"])
def test_correlate_runs_on_the_suite_zero_sets(cli, tmp_path, space, request):
    path = request.getfixturevalue(f"{space}_set")
    res = cli(
        "correlate",
        f"space={space}",
        "benchmark=arch_table",
        f"benchmark.path={path}",
        "n_archs=3",
        "proxy=params,synflow",
        "threads=1",
        f"hydra.run.dir={tmp_path}",
    )
    assert res.returncode == 0, res.stderr[-2000:]
    scores = pd.read_csv(tmp_path / "proxy_scores.csv")
    assert len(scores) == 6 and scores["value"].notna().all()
    from freedarts_cli.runner import build  # noqa: F401  (the space parses its own rows back)
    from freedarts_cli.spaces.darts import DartsSpace
    from freedarts_cli.spaces.nb101 import NB101Space

    unit = DartsSpace() if space == "darts" else NB101Space()
    assert all(unit.decode(unit.parse(a)) == a for a in scores["arch"])
    corr = pd.read_csv(tmp_path / "correlation.csv")
    params = corr[(corr["proxy"] == "params") & (corr["metric"] == "spearman")]
    assert len(params) == 1 and int(params["n_archs"].iloc[0]) == 3
    assert "C10 ρ" in res.stdout
    tables = cli("tables", str(tmp_path))
    assert tables.returncode == 0, tables.stderr[-2000:]
    assert "C10 ρ" in tables.stdout and "Student report" not in tables.stdout  # NB201's tables
    other = "nb101" if space == "darts" else "darts"
    assert f"same 500 {'DARTS' if space == 'darts' else 'NAS-Bench-101'}" in tables.stdout
    assert f"same 500 {'DARTS' if other == 'darts' else 'NAS-Bench-101'}" not in tables.stdout


def test_a_malformed_architecture_list_is_one_line_and_exit_2(cli, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("genotype,val_accuracy\n\"Genotype(normal=[('sep_conv_9x9', 0)])\",93.1\n")
    res = cli(
        "correlate",
        "space=darts",
        "benchmark=arch_table",
        f"benchmark.path={bad}",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert res.returncode == 2, res.stderr[-1500:]
    last = res.stderr.strip().splitlines()[-1]
    assert "bad.csv, line 2" in last and "sep_conv_9x9" in last and "Traceback" not in res.stderr


def test_dedup_shards_split_the_classes(shared_table, tmp_path):
    """Shards take every k-th class representative, each with its own class's strings: the
    shards together hold every string once."""
    from freedarts_cli import api, correlation

    path, rows = _isomorphic_sample(shared_table, tmp_path, classes=5, per_class=2)
    common = ("space=nb201", "benchmark=arch_table", f"benchmark.path={path}", "n_archs=all")
    common += ("proxy=params", "threads=1", "dedup=true")
    for i in (1, 2):
        api.correlate(*common, f"shard={i}/2", out_dir=tmp_path / f"s{i}")
    parts = [pd.read_csv(tmp_path / f"s{i}" / "proxy_scores.csv") for i in (1, 2)]
    assert {len(p) for p in parts} == {4, 6}  # 2 and 3 classes of 2 strings
    merged = correlation.read_scores([tmp_path / f"s{i}" / "proxy_scores.csv" for i in (1, 2)])
    assert sorted(merged["arch"]) == sorted(rows["ArchitectureString"])


def test_dedup_scores_the_classes_in_a_seeded_uniform_order():
    """A dedup study stopped early has scored a uniform sample of the isomorphism classes: in
    order of first appearance the large classes come first (NB201: the first 200 classes hold
    19 strings each against 2.4 on average); the seeded order is a permutation of the same
    representatives."""
    from freedarts_cli.spaces.nb201 import NB201Space
    from freedarts_cli.study import isomorphism_classes, sample_archs

    space = NB201Space()
    sample = sample_archs(space, "all", 0)
    first, members = isomorphism_classes(space, sample)
    seeded, same = isomorphism_classes(space, sample, 0)
    assert same == members and len(first) == 6466
    assert sorted(map(space.decode, seeded)) == sorted(map(space.decode, first))
    assert seeded == isomorphism_classes(space, sample, 0)[0]  # the same seed, the same order

    def mean_size(reps):
        return sum(1 + len(members[space.decode(r)]) for r in reps) / len(reps)

    assert mean_size(first[:200]) > 5
    assert abs(mean_size(seeded[:200]) - 15625 / 6466) < 1.0
