"""benchmark=auto: where it looks, in which order, and the fall-back to none."""

import logging

import pytest

from freedarts_cli.benchmark import auto as auto_mod
from freedarts_cli.benchmark.auto import NATS_DIR, NB201_FILES, auto, candidates, open_source
from freedarts_cli.benchmark.none import NoBenchmark
from freedarts_cli.errors import UserError

from . import fixtures as fx
from .conftest import SHARED_TABLE, needs_shared_table


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Empty TORCH_HOME and HOME, no FREEDARTS_BENCHMARK, and no shared table nearby."""
    torch_home, home, repo = tmp_path / "th", tmp_path / "home", tmp_path / "repo"
    for folder in (torch_home, home, repo):
        folder.mkdir()
    monkeypatch.setenv("TORCH_HOME", str(torch_home))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("FREEDARTS_BENCHMARK", raising=False)
    monkeypatch.setattr(auto_mod, "CHECKOUT", repo)
    monkeypatch.chdir(repo)
    return torch_home, home / ".torch"


def csv(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"arch,cifar10_test\n{fx.ARCHS[0]},91.5\n")
    return path


def test_candidate_order(env, tmp_path, monkeypatch):
    torch_home, dot_torch = env
    monkeypatch.setenv("FREEDARTS_BENCHMARK", str(tmp_path / "from_env"))
    shared = tmp_path / "shared" / "benchmarks" / "nb201" / "nats_tss_test_acc_200ep.csv"
    assert candidates(tmp_path / "given") == [
        tmp_path / "given",
        tmp_path / "from_env",
        torch_home / NATS_DIR,
        dot_torch / NATS_DIR,
        torch_home / NB201_FILES[0],
        dot_torch / NB201_FILES[0],
        torch_home / NB201_FILES[1],
        dot_torch / NB201_FILES[1],
        shared,  # beside the checkout and beside the working dir: the same file here
    ]


def test_precedence(env, tmp_path, monkeypatch):
    torch_home, dot_torch = env
    assert isinstance(auto(), NoBenchmark)
    fx.build_nb201_pth(dot_torch, name=NB201_FILES[1])
    assert auto().name == "nb201"
    fx.build_nats_dir(dot_torch)
    assert auto().source == str(dot_torch / NATS_DIR)
    fx.build_nats_dir(torch_home)
    assert auto().source == str(torch_home / NATS_DIR)
    monkeypatch.setenv("FREEDARTS_BENCHMARK", str(csv(tmp_path / "env.csv")))
    assert auto().source == str(tmp_path / "env.csv")
    assert auto(tmp_path / "th" / NATS_DIR).name == "nats"
    assert auto(str(csv(tmp_path / "arg.csv"))).query(fx.ARCHS[0])["cifar10_test"] == 91.5


def test_shared_table_beside_checkout_then_cwd(env, tmp_path, monkeypatch):
    table = csv(tmp_path / "shared" / "benchmarks" / "nb201" / "nats_tss_test_acc_200ep.csv")
    assert auto().source == str(table)  # ../shared beside tmp_path/repo
    monkeypatch.setattr(auto_mod, "CHECKOUT", tmp_path / "elsewhere" / "repo")
    assert auto().source == str(table)  # ../shared beside the working dir
    (tmp_path / "th" / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "th" / "sub")  # no ../shared here
    assert isinstance(auto(), NoBenchmark)


def test_falls_back_to_none_and_logs_the_hint(env, caplog):
    with caplog.at_level(logging.INFO, logger="freedarts.benchmark"):
        bench = auto()
    assert isinstance(bench, NoBenchmark) and bench.name == "none" and bench.source == ""
    assert NoBenchmark.hint in caplog.text and "benchmark=table" in NoBenchmark.hint
    row = bench.query(fx.ARCHS[0])
    assert len(row) == 7 and all(v != v for v in row.values())  # all NaN


def test_logs_which_source(env, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="freedarts.benchmark"):
        auto(csv(tmp_path / "t.csv"))
    assert "benchmark=auto uses table" in caplog.text and "t.csv" in caplog.text


def test_named_paths_that_do_not_exist_are_errors(env, tmp_path, monkeypatch):
    with pytest.raises(UserError, match="benchmark.path=.*typo.csv"):
        auto(tmp_path / "typo.csv")
    monkeypatch.setenv("FREEDARTS_BENCHMARK", str(tmp_path / "typo_env"))
    with pytest.raises(UserError, match="FREEDARTS_BENCHMARK=.*typo_env"):
        auto()


def test_open_source_by_kind(tmp_path):
    assert open_source(fx.build_nats_dir(tmp_path / "a")).name == "nats"
    assert open_source(fx.build_nb201_pth(tmp_path / "b", name="any.pth")).name == "nb201"
    assert open_source(csv(tmp_path / "c" / "x.csv")).name == "table"
    folder = csv(tmp_path / "d" / "nats_tss_test_acc_200ep.csv").parent
    assert open_source(folder).name == "table"
    (tmp_path / "e.txt").write_text("?")
    for unknown in (tmp_path / "e.txt", tmp_path / "a"):
        with pytest.raises(UserError, match="cannot tell what benchmark"):
            open_source(unknown)


@needs_shared_table
def test_finds_the_real_shared_table(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("FREEDARTS_BENCHMARK", raising=False)
    bench = auto()
    assert bench.name == "table" and bench.source == str(SHARED_TABLE)
