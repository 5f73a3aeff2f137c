"""Every experiment config composes, job by job, as its sweep would run it; the sweep names real
methods and options; each published row's mapping points at runs the experiment produces."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import ListConfig, OmegaConf

from freedarts_cli import published
from freedarts_cli.cli import config_dir

from .conftest import freedarts

CONF = Path(config_dir())
EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
ROWS = sorted(p.stem for p in (CONF / "experiment" / "row").glob("*.yaml"))
ROW_KEY = "+experiment/row"
# the result's scorer column for methods that have no proxy option
IMPLIED_SCORER = {"random": "none", "naswot": "nwot", "tenas": "ntk_lr"}


@pytest.fixture(scope="module")
def hydra_compose():
    cache: dict = {}

    def composed(overrides):  # the same job is asked for by several tests: compose it once
        key = tuple(overrides)
        if key not in cache:
            cache[key] = compose("search", overrides=list(overrides), return_hydra_config=True)
        return cache[key]

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        yield composed


def sweep_params(compose_fn, experiment: str) -> dict[str, list[str]]:
    cfg = compose_fn([f"experiment={experiment}"])
    params = OmegaConf.to_container(cfg.hydra.sweeper.params) or {}
    out = {}
    for key, value in params.items():
        value = str(value)
        out[key] = [value] if value.startswith("range(") else value.split(",")
    return out


def method_keys(name: str) -> set[str]:
    """The options a method's own config declares (``method:`` under a global package too)."""
    node = OmegaConf.load(CONF / "method" / f"{name}.yaml")
    node = node.method if "method" in node and "_target_" not in node else node
    return set(node.keys())


def row_method(row: str) -> str | None:
    """The method a row file selects (read from its defaults list, without composing)."""
    defaults = OmegaConf.load(CONF / "experiment" / "row" / f"{row}.yaml").get("defaults", [])
    for entry in defaults:
        for key, value in dict(entry).items():
            if key.endswith("/method"):
                return value
    return None


def needs_method(row: str) -> None:
    """Rows of rivals whose config has not landed yet skip with the reason (a failure in CI)."""
    method = row_method(row)
    if method and not (CONF / "method" / f"{method}.yaml").is_file():
        pytest.skip(f"conf/method/{method}.yaml does not exist yet (row {row})")


def group_overrides(path: Path) -> set[str]:
    """The config groups a file's defaults list overrides (``override /data: ...``)."""
    defaults = OmegaConf.load(path).get("defaults", [])
    return {
        key.split("/", 1)[-1]
        for entry in defaults
        if not isinstance(entry, str)
        for key in dict(entry)
        if key.startswith("override")
    }


_ROW_CONFIGS: dict = {}


def jobs(compose_fn, experiment: str):
    """(overrides, config) covering every value of every sweep key: each row file composed within
    an experiment that sweeps it (once: rows and experiments override disjoint groups, checked
    here, so a row composes the same way in every experiment), every other value composed."""
    params = sweep_params(compose_fn, experiment)
    base = [f"experiment={experiment}"]
    if set(params) <= {"seed"}:  # one configuration, swept over seeds only
        yield base, compose_fn(base)
    mine = group_overrides(CONF / "experiment" / f"{experiment}.yaml")
    for row in params.get(ROW_KEY, []):
        needs_method(row)
        clash = mine & group_overrides(CONF / "experiment" / "row" / f"{row}.yaml")
        assert not clash, f"{experiment} and row {row} both override {sorted(clash)}"
        if row not in _ROW_CONFIGS:
            overrides = base + [f"{ROW_KEY}={row}"]
            _ROW_CONFIGS[row] = (overrides, compose_fn(overrides))
        yield _ROW_CONFIGS[row]
    for key, values in params.items():
        if key in (ROW_KEY, "seed"):
            continue
        for value in values:
            overrides = base + [f"{key}={value}"]
            yield overrides, compose_fn(overrides)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_sweeps_compose_with_real_methods_and_options(hydra_compose, experiment):
    params = sweep_params(hydra_compose, experiment)
    assert params, f"{experiment} has no hydra.sweeper.params: it must be a multirun sweep"
    assert "seed" in params, experiment
    header = (CONF / "experiment" / f"{experiment}.yaml").read_text()
    assert header.startswith("# @package _global_")
    if experiment != "nb201_synflow":
        # the header gives the command pair and the expected run time
        assert f"freedarts search -m experiment={experiment}" in header
        assert "freedarts tables" in header or "freedarts figures" in header
        assert "Run time" in header
    for key in params:
        assert key in (ROW_KEY, "seed", "pruning", "scorer", "a", "method.mc_samples"), (
            experiment,
            key,
        )
    for row in params.get(ROW_KEY, []):
        assert row in ROWS, f"{experiment}: no conf/experiment/row/{row}.yaml"
    seen = 0
    for overrides, cfg in jobs(hydra_compose, experiment):
        choices = cfg.hydra.runtime.choices
        method = choices["method"]
        assert (CONF / "method" / f"{method}.yaml").is_file()
        extra = set(cfg.method.keys()) - method_keys(method)
        assert not extra, f"{overrides}: method={method} has no option(s) {sorted(extra)}"
        assert cfg.a > 0
        if "proxy" in cfg.method:
            check_proxy(cfg.method.proxy)
        seen += 1
    assert seen


def check_proxy(name: str) -> None:
    proxies = pytest.importorskip("freedarts_cli.proxies")
    if hasattr(proxies, "resolve"):
        proxies.resolve(name)  # raises on an unknown proxy


def _eq(a, b) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


@pytest.mark.parametrize("table_id", published.table_ids())
def test_each_published_row_is_produced_by_its_experiment(hydra_compose, table_id):
    """A reproduced row names the row file of its runs; that row is in the table's sweep, and
    the composed job would write result columns equal to the row's filters and setting."""
    spec = published.spec(table_id)
    experiment = spec["experiment"]
    assert experiment in EXPERIMENTS
    params = sweep_params(hydra_compose, experiment)
    swept = params.get(ROW_KEY, [])
    for row_id, rspec in spec["rows"].items():
        if "match" not in rspec:
            continue
        if "run" not in rspec:
            # every row is a selection of the experiment's own search (BaLeNAS: result.csv and
            # selections.csv of one run); its CPU-sized scale is labelled by the setting
            cfg = hydra_compose([f"experiment={experiment}"])
            written = expected_columns(cfg, cfg.hydra.runtime.choices["method"])
            for key, value in {**(spec.get("match") or {}), **rspec["match"]}.items():
                assert key in written, f"{table_id}/{row_id}: {experiment} writes no {key}"
                options = params.get(f"method.{key}") or (
                    written[key] if isinstance(written[key], ListConfig) else [written[key]]
                )
                assert any(_eq(w, value) for w in options), (table_id, row_id, key, value)
            continue
        for col in spec["columns"]:
            if col.get("kind") == "text":
                continue
            run = col["run"].format(rspec["run"]) if "run" in col else rspec["run"]
            assert run in swept, f"{table_id}/{row_id}: row {run} is not swept by {experiment}"
            needs_method(run)
            cfg = _ROW_CONFIGS.get(run, (None, None))[1] or hydra_compose(
                [f"experiment={experiment}", f"{ROW_KEY}={run}"]
            )
            method = cfg.hydra.runtime.choices["method"]
            match = {**(spec.get("match") or {}), **(col.get("match") or {}), **rspec["match"]}
            setting = {
                **(spec.get("setting") or {}),
                **(col.get("setting") or {}),
                **(rspec.get("setting") or {}),
            }
            written = expected_columns(cfg, method)
            for key, value in {**match, **setting}.items():
                assert key in written, f"{table_id}/{row_id}: {run} writes no {key}"
                assert _eq(written[key], value), (table_id, row_id, run, key, written[key], value)


def expected_columns(cfg, method: str) -> dict:
    """The result.csv columns a job of this config writes (for the keys the tables filter on)."""
    choices = cfg.hydra.runtime.choices
    out = {"space": cfg.space.get("name", choices["space"]), "method": method, "a": cfg.a}
    if method == "freedarts":
        out["scorer"] = {
            "zeros_d": "synflow",
            "zeros": "snip",
            "zeros_l": "snip_random_labels",
        }.get(choices["scorer"], choices["scorer"])
        reinit = cfg.pruning.get("reinit", True)
        out["pruning"] = choices["pruning"] if reinit else "iterative_keep_init"
        return out
    if method == "balenas":  # the argmax of μ, and one selection per (proxy, sample size)
        out.update({k: v for k, v in cfg.method.items() if k != "_target_"})
        out["scorer"] = ListConfig(["mu", *cfg.method.select])
        out["pruning"] = ListConfig(["argmax", "sample"])
        return out
    out["scorer"] = cfg.method.get("proxy", IMPLIED_SCORER.get(method))
    if "edge_order" in cfg.method:
        out["pruning"] = f"perturbation_{cfg.method.edge_order}"
    out.update({k: v for k, v in cfg.method.items() if k != "_target_"})
    return out


def test_every_row_file_is_used_and_selects_a_method():
    used = set()
    for experiment in EXPERIMENTS:
        text = (CONF / "experiment" / f"{experiment}.yaml").read_text()
        used |= {r for r in ROWS if r in text}
    assert set(ROWS) == used
    for row in ROWS:
        text = (CONF / "experiment" / "row" / f"{row}.yaml").read_text()
        assert text.startswith("# @package _global_") and row_method(row), row


def test_cli_prints_an_experiment_config():
    out = freedarts(
        "search", "experiment=journal_table3", "+experiment/row=fd_iterative_snip", "--cfg", "job"
    )
    assert out.returncode == 0, out.stderr
    assert "Snip" in out.stdout and "Iterative" in out.stdout
    assert "freedarts_cli.data.CIFAR" in out.stdout  # image-reading rows read real CIFAR-10
