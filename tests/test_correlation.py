"""Rank correlations of the proxy study against brute-force definitions."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from freedarts_cli import correlation
from freedarts_cli.correlation import kendall, spearman, top_spearman
from freedarts_cli.errors import UserError
from freedarts_cli.proxies import AGGREGATES


def brute_kendall_b(x, y):
    s = sum(
        np.sign(x[i] - x[j]) * np.sign(y[i] - y[j])
        for i, j in itertools.combinations(range(len(x)), 2)
    )
    tx = sum(abs(np.sign(x[i] - x[j])) for i, j in itertools.combinations(range(len(x)), 2))
    ty = sum(abs(np.sign(y[i] - y[j])) for i, j in itertools.combinations(range(len(x)), 2))
    return s / math.sqrt(tx * ty)


@pytest.mark.parametrize("seed", range(5))
def test_kendall_tau_b_matches_the_pairwise_definition_with_ties(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 6, 40).astype(float)  # many ties
    y = rng.integers(0, 8, 40).astype(float) + 0.3 * x
    assert kendall(x, y) == pytest.approx(brute_kendall_b(x, y), abs=1e-12)


def test_kendall_extremes_and_minus_inf():
    x = np.arange(10.0)
    assert kendall(x, x) == pytest.approx(1.0)
    assert kendall(x, -x) == pytest.approx(-1.0)
    x_inf = x.copy()
    x_inf[0] = -math.inf  # a floored proxy value ranks lowest
    assert kendall(x_inf, x) == pytest.approx(1.0)
    assert math.isnan(kendall(np.ones(5), x[:5]))


def test_spearman_is_pearson_of_mid_ranks():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=50), rng.normal(size=50)
    x[:5] = x[0]
    rx = pd.Series(x).rank().to_numpy()
    ry = pd.Series(y).rank().to_numpy()
    assert spearman(x, y) == pytest.approx(np.corrcoef(rx, ry)[0, 1])


def test_top_spearman_uses_only_the_most_accurate_tenth():
    acc = np.arange(100.0)
    score = acc.copy()
    score[90:] = 189 - acc[90:]  # reversed among the top 10 %, perfect elsewhere
    assert spearman(score, acc) > 0.5
    assert top_spearman(score, acc) == pytest.approx(-1.0)


def scores_frame(rows):
    return pd.DataFrame(rows, columns=list(correlation.SCORE_COLUMNS))


def test_aggregate_columns_come_from_their_parts_per_seed():
    rows = []
    for seed in (0, 1):
        for i, arch in enumerate("abcd"):
            rows.append((arch, "nwot", seed, float(i), 0.1))
            rows.append((arch, "synflow", seed, float(3 - i) if seed else float(i), 0.1))
    scores = scores_frame(rows)
    assert "combined" in correlation.study_proxies(scores)
    col = correlation.columns_for(scores, "combined", 1)
    expected = AGGREGATES["combined"].combine([[0, 1, 2, 3], [3, 2, 1, 0]])
    assert col.loc[list("abcd")].to_numpy() == pytest.approx(expected)


def test_correlations_and_summary_over_seeds():
    archs = [f"a{i}" for i in range(30)]
    acc = pd.DataFrame({"cifar10_test": np.arange(30.0)}, index=archs)
    rows = [
        (a, "p", s, float(i) if s == 0 else float(-i), 0.0)
        for s in (0, 1)
        for i, a in enumerate(archs)
    ]
    rows.append(("a0", "p", 2, math.nan, 0.0))  # a failed value is counted, not correlated
    per_seed = correlation.correlations(scores_frame(rows), acc)
    tau = per_seed[(per_seed.metric == "kendall") & (per_seed.seed < 2)]["value"].to_list()
    assert tau == pytest.approx([1.0, -1.0])
    summary = correlation.summarise(per_seed[per_seed.seed < 2])
    row = summary[(summary.metric == "kendall")].iloc[0]
    assert (row["mean"], row["std"], row["n_seeds"]) == (pytest.approx(0.0), pytest.approx(1.0), 2)
    assert per_seed[per_seed.seed == 2]["failed"].max() == 1


def test_seeds_over_different_architectures_are_compared_on_the_common_ones(tmp_path):
    """Seed 0 on 30 architectures, seed 1 on the first 10 (a study that scored more seeds on a
    prefix): the mean over seeds keeps the 10 both scored, and each seed is also shown alone."""
    archs = [f"a{i}" for i in range(30)]
    acc = pd.DataFrame({"cifar10_test": np.arange(30.0)}, index=archs)
    # seed 0 ranks the first 10 perfectly and the rest backwards; seed 1 ranks its 10 perfectly
    rows = [(a, "p", 0, float(i if i < 10 else -i), 0.0) for i, a in enumerate(archs)]
    rows += [(a, "p", 1, float(i), 0.0) for i, a in enumerate(archs[:10])]
    scores = scores_frame(rows)
    assert not correlation.even_seeds(scores)
    assert correlation.even_seeds(scores[scores["arch"].isin(archs[:10])])
    common = correlation.correlations(scores, acc, common=True)
    tau = common[common.metric == "kendall"]
    assert tau["n_archs"].to_list() == [10, 10] and tau["value"].to_list() == pytest.approx([1, 1])
    every = correlation.correlations(scores, acc)
    assert every[every.metric == "kendall"]["n_archs"].to_list() == [30, 10]

    run = tmp_path / "run"
    run.mkdir()
    scores.to_csv(run / correlation.SCORE_TABLE, index=False)
    acc.rename_axis("arch").reset_index().to_csv(run / correlation.ACCURACY_TABLE, index=False)
    text, summary = correlation.report([run])
    assert "all of a proxy's seeds scored" in text
    assert "### Seed 0 alone" in text and "### Seed 1 alone" in text
    main = summary[(summary.metric == "kendall") & (summary.dataset == "cifar10")].iloc[0]
    assert (main["n_archs"], main["n_seeds"], main["mean"]) == (10, 2, pytest.approx(1.0))


def test_read_scores_keeps_one_value_per_arch_proxy_seed_and_names_bad_files(tmp_path):
    good = tmp_path / "a.csv"
    scores_frame([("x", "p", 0, 1.0, 0.1), ("y", "p", 0, 2.0, 0.1)]).to_csv(good, index=False)
    twin = tmp_path / "b.csv"
    scores_frame([("x", "p", 0, 1.0, 0.1)]).to_csv(twin, index=False)
    assert len(correlation.read_scores([good, twin])) == 2
    bad = tmp_path / "c.csv"
    bad.write_text("garbage\n1\n")
    with pytest.raises(UserError, match="c.csv"):
        correlation.read_scores([bad])


def test_read_scores_prefers_a_scored_row_to_a_dedup_copy_listed_before_it(tmp_path):
    copy = tmp_path / "a.csv"  # seconds NaN: copied from an isomorphic architecture
    scores_frame([("x", "p", 0, 1.0, math.nan), ("y", "p", 0, 2.0, math.nan)]).to_csv(
        copy, index=False
    )
    scored = tmp_path / "b.csv"
    scores_frame([("y", "p", 0, 2.0, 0.3)]).to_csv(scored, index=False)
    kept = correlation.read_scores([copy, scored])
    assert list(kept["arch"]) == ["x", "y"]
    assert kept["seconds"].tolist()[1] == 0.3 and math.isnan(kept["seconds"].tolist()[0])


def test_a_study_is_told_its_space_by_its_architecture_strings():
    from freedarts_cli.published import correlation_tables

    nb201 = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|"
    darts = "Genotype(normal=[('sep_conv_3x3', 0)], normal_concat=range(2, 6))"
    nb101 = "0" * 49 + "|input,conv3x3-bn-relu,output"
    for archs, space in (
        ([nb201], "nb201"),
        ([darts], "darts"),
        ([nb101], "nb101"),
        ([nb101, "010001000|input,maxpool3x3,output"], "nb101"),  # cells below 7 vertices
        ([nb201, darts], None),  # a mix has no one space: no published table fits it
        (["resnet18"], None),
    ):
        assert correlation.study_space(pd.DataFrame({"arch": archs})) == space
    assert set(correlation_tables("nb201")) == {"report_table1", "report_table2", "vkdnw_table1"}
    assert set(correlation_tables("darts")) == {"suite_zero_darts"}
    assert set(correlation_tables("nb101")) == {"suite_zero_nb101"}
    assert correlation_tables(None) == {}
    assert [correlation.space_title(s) for s in ("nb201", "darts", "nb101", None)] == [
        "NB201",
        "DARTS (NB301)",
        "NAS-Bench-101",
        "",
    ]


def test_per_class_keeps_one_architecture_per_isomorphism_class(tmp_path):
    """per=class: a dedup study's copied rows (seconds NaN) drop out, so each distinct network
    counts once; a space without isomorphism classes, or an unknown ``per``, is one clear error."""
    from freedarts_cli.spaces.nb201 import NB201Space

    space = NB201Space()
    classes: dict[str, list[str]] = {}
    for choice in space.architectures():
        classes.setdefault(space.canonical(choice), []).append(space.decode(choice))
    pairs = [members for members in classes.values() if len(members) == 2][:6]
    singles = [members[0] for members in classes.values() if len(members) == 1][:6]
    # each pair: the representative scored (seconds), its twin a copy (seconds NaN)
    rows = [(a, "p", 0, float(i), 0.1) for i, (a, _) in enumerate(pairs)]
    rows += [(b, "p", 0, float(i), math.nan) for i, (_, b) in enumerate(pairs)]
    rows += [(a, "p", 0, float(10 + i), 0.1) for i, a in enumerate(singles)]
    scores = scores_frame(rows)
    kept = correlation.one_per_class(scores)
    assert set(kept["arch"]) == {a for a, _ in pairs} | set(singles)

    run = tmp_path / "run"
    run.mkdir()
    scores.to_csv(run / correlation.SCORE_TABLE, index=False)
    archs = sorted(scores["arch"].unique())
    acc = pd.DataFrame({"arch": archs, "cifar10_test": np.arange(len(archs), dtype=float)})
    acc.to_csv(run / correlation.ACCURACY_TABLE, index=False)
    text, summary = correlation.report([run], per="class")
    assert "12 isomorphism classes of 18 architectures" in text
    assert set(summary["n_archs"]) == {12}
    assert set(correlation.report([run])[1]["n_archs"]) == {18}
    assert correlation.load([run], per="class").counted() == (
        "12 isomorphism classes of 18 architectures"
    )
    from omegaconf import OmegaConf

    from freedarts_cli.cli import config_dir
    from freedarts_cli.plots import make_figure

    cfg = OmegaConf.load(f"{config_dir()}/figures.yaml")
    cfg.update(paths=[str(run)], figure="proxy_tau", per="class", formats=["png"], dpi=50)
    cfg.update(out=str(tmp_path / "fig"), datasets=["cifar10"])
    assert make_figure(cfg).startswith("proxy_tau: 12 isomorphism classes of 18 architectures")
    with pytest.raises(UserError, match="per=both is not one of arch, class"):
        correlation.report([run], per="both")
    darts = scores_frame([("Genotype(normal=[('sep_conv_3x3', 0)])", "p", 0, 1.0, 0.1)])
    with pytest.raises(UserError, match="use per=arch"):
        correlation.one_per_class(darts)
