"""`freedarts figures`: every figure from a synthetic result tree, written as PNG and PDF."""
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
    text = make_figure(figures_cfg([tree], figure="cost_accuracy", out=str(tmp_path),
                                   where={"method": "freedarts"}, formats=["png"],
                                   datasets=["cifar10"]))
    n = sum(r["method"] == "freedarts" for r in fake_runs(seeds=2, a_values=(1e-5, 1e-3, 1e-2,
                                                                              1.0)))
    assert f"{n} runs" in text


def test_parse_arch():
    arch = "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|"
    assert parse_arch(arch) == ["nor_conv_3x3", "skip_connect", "none", "avg_pool_3x3",
                                "nor_conv_1x1", "none"]
    with pytest.raises(ValueError):
        parse_arch("|nor_conv_3x3~0|")


def test_figures_command(tmp_path):
    rows = [r for r in fake_runs(seeds=2) if r["method"] == "freedarts"
            and r["scorer"] == "synflow"]
    write_tree(tmp_path / "runs", rows, trajectories=False)
    out = freedarts("figures", str(tmp_path / "runs"), "figure=a_study", f"out={tmp_path}",
                    "formats=[png]", "dpi=50", "datasets=[cifar10]")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "a_study.png").stat().st_size > 0
    assert not (tmp_path / "a_study.pdf").exists()
    with pytest.raises(UserError, match="does not exist"):
        make_figure(figures_cfg([tmp_path / "none"], figure="a_study"))
