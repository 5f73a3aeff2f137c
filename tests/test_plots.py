"""`freedarts figures`: every figure from a synthetic result tree, written as PNG and PDF."""

import pandas as pd
import pytest
from omegaconf import OmegaConf

from freedarts_cli.cli import config_dir
from freedarts_cli.errors import UserError
from freedarts_cli.plots import FIGURES, make_figure, parse_arch

from .conftest import freedarts
from .test_tables import fake_runs, write_tree


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return write_tree(root, fake_runs(seeds=2, a_values=(1e-5, 1e-3, 1e-2, 1.0)))


def figures_cfg(paths, **kw):
    cfg = OmegaConf.load(f"{config_dir()}/figures.yaml")
    cfg.paths = [str(p) for p in paths]
    cfg.dpi = 50  # small PNGs: the tests check the files, not their resolution
    for k, v in kw.items():
        cfg[k] = v
    return cfg


@pytest.mark.parametrize("figure", sorted(FIGURES))
def test_every_figure_is_a_non_empty_png_and_pdf(tree, tmp_path, figure):
    # every dataset panel once (a_study); one panel keeps the rest fast
    datasets = ["cifar10", "cifar100", "imagenet16_120"] if figure == "a_study" else ["cifar10"]
    text = make_figure(figures_cfg([tree], figure=figure, out=str(tmp_path), datasets=datasets))
    assert figure in text
    png, pdf = tmp_path / f"{figure}.png", tmp_path / f"{figure}.pdf"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 2_000
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 1_000
    assert not list(tmp_path.glob(".*tmp*"))  # written atomically


def test_figure_errors_name_the_fix(tmp_path):
    only_random = [r for r in fake_runs(seeds=1) if r["method"] == "random"]
    write_tree(tmp_path, only_random, trajectories=False)
    with pytest.raises(UserError, match="experiment=sample_size"):
        make_figure(figures_cfg([tmp_path], figure="sample_size"))
    with pytest.raises(UserError, match="trajectory"):
        make_figure(figures_cfg([tmp_path], figure="trajectory"))
    with pytest.raises(UserError, match="a_study"):
        make_figure(figures_cfg([tmp_path], figure="nope"))


def test_where_filters_runs(tree, tmp_path):
    text = make_figure(
        figures_cfg(
            [tree],
            figure="cost_accuracy",
            out=str(tmp_path),
            where={"method": "freedarts"},
            formats=["png"],
            datasets=["cifar10"],
        )
    )
    n = sum(
        r["method"] == "freedarts" for r in fake_runs(seeds=2, a_values=(1e-5, 1e-3, 1e-2, 1.0))
    )
    assert f"{n} runs" in text


def test_parse_arch():
    arch = "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|"
    assert parse_arch(arch) == [
        "nor_conv_3x3",
        "skip_connect",
        "none",
        "avg_pool_3x3",
        "nor_conv_1x1",
        "none",
    ]
    with pytest.raises(ValueError):
        parse_arch("|nor_conv_3x3~0|")


def test_figures_command(tmp_path):
    rows = [
        r for r in fake_runs(seeds=2) if r["method"] == "freedarts" and r["scorer"] == "synflow"
    ]
    write_tree(tmp_path / "runs", rows, trajectories=False)
    out = freedarts(
        "figures",
        str(tmp_path / "runs"),
        "figure=a_study",
        f"out={tmp_path}",
        "formats=[png]",
        "dpi=50",
        "datasets=[cifar10]",
    )
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "a_study.png").stat().st_size > 0
    assert not (tmp_path / "a_study.pdf").exists()
    with pytest.raises(UserError, match="does not exist"):
        make_figure(figures_cfg([tmp_path / "none"], figure="a_study"))


def write_study(root, n=60):
    """A synthetic ``freedarts correlate`` folder: a synflow-like column spanning tens of
    decades (with exact zeros), a flops column and the accuracies."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    archs = [f"arch{i}" for i in range(n)]
    acc = rng.uniform(10, 94, n)
    synflow = np.where(acc < 20, 0.0, 10.0 ** (acc / 2))
    rows = [(a, "synflow", 0, v, 0.1) for a, v in zip(archs, synflow, strict=True)]
    rows += [
        (a, "flops", 0, v, 0.01) for a, v in zip(archs, acc + rng.normal(0, 5, n), strict=True)
    ]
    root.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=["arch", "proxy", "seed", "value", "seconds"]).to_csv(
        root / "proxy_scores.csv", index=False
    )
    pd.DataFrame(
        {
            "arch": archs,
            "cifar10_test": acc,
            "cifar100_test": acc - 20,
            "imagenet16_120_test": acc - 50,
        }
    ).to_csv(root / "accuracies.csv", index=False)
    return root


@pytest.mark.parametrize("figure", ["proxy_scatter", "proxy_tau"])
def test_study_figures_are_written_from_a_correlate_folder(tmp_path, figure):
    study = write_study(tmp_path / "study")
    make_figure(figures_cfg([study], figure=figure, out=str(tmp_path / "fig")))
    for ext in ("png", "pdf"):
        assert (tmp_path / "fig" / f"{figure}.{ext}").stat().st_size > 1000


def test_a_score_spanning_decades_is_drawn_on_log10_with_zeros_at_the_bottom():
    import numpy as np

    from freedarts_cli.plots import _score_axis

    y, label = _score_axis(np.array([0.0, 1e2, 1e40, -np.inf]))
    assert label == "log10 score (0 at the bottom)"
    assert y[1] == 2 and y[2] == 40 and y[0] == 1 and y[3] == -np.inf
    y, label = _score_axis(np.array([1.0, 5.0, 9.0]))
    assert label == "score" and list(y) == [1.0, 5.0, 9.0]


def test_proxy_tau_ranks_the_proxies_by_tau_best_first(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from freedarts_cli import correlation
    from freedarts_cli.plots import proxy_tau

    study = correlation.load([write_study(tmp_path / "study")])
    # a third proxy that ranks the architectures backwards: its τ is the lowest
    worst = study.scores[study.scores["proxy"] == "flops"].assign(proxy="backwards")
    worst["value"] = -worst["value"]
    study.scores = pd.concat([worst, study.scores], ignore_index=True)
    fig = proxy_tau(study, ["cifar10", "cifar100"], plt)
    shown = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    summary = correlation.summarise(correlation.correlations(study.scores, study.accuracy))
    tau = summary[(summary.metric == "kendall") & (summary.dataset == "cifar10")]
    assert shown == list(tau.sort_values("mean", ascending=False)["proxy"])
    assert shown[-1] == "backwards"
    plt.close(fig)
