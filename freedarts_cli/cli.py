"""``freedarts <command> [Hydra overrides]``: one Hydra app per command.

``freedarts search`` runs FreeDARTS (``-m`` for sweeps, ``--cfg job`` / ``--help`` as in Hydra);
``freedarts tables PATH...`` aggregates the ``result.csv`` files under PATH;
``freedarts figures PATH... figure=<name>`` draws them (PNG + PDF);
``freedarts genotype-info "Genotype(...)"`` prints a DARTS genotype's evaluation-network sizes.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from .errors import UserError
from .sweep import JobFailed

log = logging.getLogger("freedarts")


def config_dir() -> str:
    """The configs: ``conf/`` of a checkout (editable install) or the installed package's copy."""
    checkout = Path(__file__).resolve().parent.parent / "conf"
    if (checkout / "search.yaml").is_file():
        return str(checkout)
    return str(resources.files("freedarts_cli.conf"))


def _report(err: UserError) -> None:
    """A user error ends a single run with one line and exit 2; inside a sweep it fails only its
    own job (the others run; the sweep ends naming every failed job, :mod:`.sweep`)."""
    if HydraConfig.get().mode == RunMode.MULTIRUN:
        log.error("%s", err)
        raise JobFailed(str(err)) from None
    print(f"error: {err}", file=sys.stderr)
    sys.exit(2)


def _threads(cfg: DictConfig):
    """One torch thread per worker when joblib runs several jobs side by side."""
    from .runner import check_threads

    if check_threads(cfg.get("threads")) is not None:
        return cfg.threads
    launcher = str(HydraConfig.get().launcher.get("_target_", ""))
    return 1 if "joblib" in launcher.lower() else None


#: Set by :func:`main` for the processes it starts: ``pid@host`` of the freedarts process.
_PARENT = "FREEDARTS_PARENT"
_watching = False


def _exit_with_parent() -> None:
    """A job running in a child of the freedarts process (a joblib worker, a local submitit
    job) stops once that process is gone: nobody would read what it writes, and a killed sweep
    must not leave workers computing (and idling) behind it."""
    global _watching
    pid, _, host = os.environ.get(_PARENT, "").partition("@")
    if (
        _watching
        or not pid.isdigit()
        or host != socket.gethostname()
        or int(pid) == os.getpid()
        or os.getppid() != int(pid)
    ):
        return
    _watching = True

    def watch() -> None:
        while os.getppid() == int(pid):
            time.sleep(1.0)
        log.error("the sweep's process %s is gone: stopping this worker (pid %d)", pid, os.getpid())
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _job(body: Callable[[Path], Any]) -> Any:
    """Run one job in its claimed folder (:mod:`.rundir`). A UserError is one line (exit 2, or
    this job's failure in a sweep); an unexpected error's traceback also goes to the job's log,
    which is all a sweep's user gets to see of it."""
    from . import rundir, sweep

    sweep.job_started()
    _exit_with_parent()
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        with rundir.claimed(out_dir):
            return body(out_dir)
    except UserError as err:
        _report(err)
    except Exception:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            log.exception("job failed (%s)", " ".join(HydraConfig.get().overrides.task))
        raise


@hydra.main(config_path=config_dir(), config_name="search", version_base="1.3")
def search_app(cfg: DictConfig) -> str | None:
    from . import rundir, runner, sweep
    from .benchmark.none import NoBenchmark

    def search(out_dir: Path) -> str:
        done = rundir.finished(out_dir, cfg)
        if done is not None:
            log.info(
                "%s holds this config's finished run: skipped (resuming; delete the folder "
                "to rerun)",
                out_dir,
            )
            print(f"results: {done}")
            return sweep.SKIPPED
        rundir.record_config(out_dir, cfg, HydraConfig.get())
        outcome = runner.search(cfg, out_dir=out_dir, threads=_threads(cfg))
        print(runner.summary(outcome, hint=NoBenchmark().hint))
        print(f"results: {out_dir / 'result.csv'}")
        return sweep.RAN

    return _job(search)


@hydra.main(config_path=config_dir(), config_name="correlate", version_base="1.3")
def correlate_app(cfg: DictConfig) -> str | None:
    from . import correlation, rundir, study, sweep

    def correlate(out_dir: Path) -> str:  # resumes by itself: the score table is appended to
        rundir.record_config(out_dir, cfg, HydraConfig.get())
        summary = study.run(cfg, out_dir=out_dir, threads=_threads(cfg))
        print(correlation.markdown(summary))
        print(f"scores: {out_dir / correlation.SCORE_TABLE}")
        print(f"correlations: {out_dir / 'correlation.csv'}")
        return sweep.RAN

    return _job(correlate)


@hydra.main(config_path=config_dir(), config_name="tables", version_base="1.3")
def tables_app(cfg: DictConfig) -> None:
    from . import sweep, tables

    sweep.job_started()

    try:
        print(tables.make_tables(cfg))
    except UserError as err:
        _report(err)


@hydra.main(config_path=config_dir(), config_name="figures", version_base="1.3")
def figures_app(cfg: DictConfig) -> None:
    from . import plots, sweep

    sweep.job_started()

    try:
        print(plots.make_figure(cfg))
    except UserError as err:
        _report(err)


def _channels(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a channel count: pass a positive integer such as 36"
        )
    return int(text)


def genotype_info(argv: list[str]) -> None:
    """``freedarts genotype-info "Genotype(...)" [--draw DIR]``: the sizes the papers report for a
    DARTS genotype, one per line with its unit; ``--draw`` also writes its cell pictures."""
    parser = argparse.ArgumentParser(
        prog="freedarts genotype-info",
        description="Sizes of a DARTS genotype's evaluation networks (CIFAR-10: C=36, 20 cells, "
        "auxiliary head excluded; ImageNet: C=48, 14 cells, 224x224).",
    )
    parser.add_argument(
        "genotype",
        help="Genotype(normal=[('sep_conv_3x3', 0), ...], "
        "normal_concat=range(2, 6), reduce=[...], "
        "reduce_concat=range(2, 6))",
    )
    parser.add_argument("--draw", metavar="DIR", help="write normal/reduce cell pictures there")
    parser.add_argument(
        "--cifar-channels",
        type=_channels,
        default=36,
        metavar="C",
        help="initial channels of the CIFAR-10 network (default 36)",
    )
    parser.add_argument(
        "--imagenet-channels",
        type=_channels,
        default=48,
        metavar="C",
        help="initial channels of the ImageNet network (default 48)",
    )
    args = parser.parse_args(argv)
    from .genotype import parse_genotype
    from .spaces.darts import OPS, draw_genotype, genotype_size

    try:
        genotype = parse_genotype(args.genotype, OPS)
        size = genotype_size(genotype, args.cifar_channels, args.imagenet_channels)
    except ValueError as err:
        print(f"error: genotype {args.genotype[:60]!r}: {err}", file=sys.stderr)
        sys.exit(2)
    print(f"genotype: {genotype}")
    print(
        f"cifar_params_m: {size['cifar_params_m']:.3f} M parameters (CIFAR-10 network, "
        f"C={args.cifar_channels}, 20 cells, auxiliary head excluded)"
    )
    print(
        f"imagenet_params_m: {size['imagenet_params_m']:.3f} M parameters (ImageNet network, "
        f"C={args.imagenet_channels}, 14 cells, 1000 classes)"
    )
    print(
        f"imagenet_flops_m: {size['imagenet_flops_m']:.1f} M multiply-adds (ImageNet, 224x224; "
        "convolutions and the classifier)"
    )
    if args.draw:
        for path in draw_genotype(genotype, Path(args.draw)):
            print(f"picture: {path}")


COMMANDS = {
    "search": (
        search_app,
        "search one architecture: freedarts search space=nb201 scorer=synflow"
        " [pruning=iterative seed=0 a=1e-3 ...]; sweeps with -m",
    ),
    "correlate": (
        correlate_app,
        "the proxy study: freedarts correlate proxy=synflow,nwot "
        "n_archs=1000|all seed=0,1 [shard=i/k] -> per-architecture "
        "scores, Kendall tau / Spearman rho with NB201 accuracies",
    ),
    "tables": (
        tables_app,
        "aggregate result.csv files: freedarts tables PATH... "
        "-> mean ± std and best run per group (Markdown + CSV + LaTeX); "
        "table=<id>: a published table, ours beside the paper's",
    ),
    "figures": (
        figures_app,
        "draw result.csv files: freedarts figures PATH... figure=<a_study|"
        "trajectory|sample_size|cost_accuracy|op_selection> (PNG + PDF)",
    ),
    "genotype-info": (
        genotype_info,
        "sizes of a DARTS genotype: freedarts genotype-info "
        '"Genotype(normal=[...], ...)" [--draw DIR]',
    ),
}


def _usage() -> str:
    lines = ["usage: freedarts <command> [Hydra overrides]", "", "commands:"]
    lines += [f"  {name:13s} {text}" for name, (_, text) in COMMANDS.items()]
    lines += [
        "",
        "Each command takes Hydra overrides; 'freedarts <command> --help' lists its "
        "config groups, '--cfg job' prints the composed config.",
    ]
    return "\n".join(lines)


def _quote(path: str) -> str:
    return "'" + path.replace("\\", "\\\\").replace("'", "\\'") + "'"


# Hydra flags that take a value (so the value is not mistaken for a folder).
_VALUE_FLAGS = {
    "--cfg",
    "-c",
    "--package",
    "-p",
    "--config-path",
    "-cp",
    "--config-name",
    "-cn",
    "--config-dir",
    "-cd",
    "--info",
    "-i",
    "--experimental-rerun",
}


def _paths_to_override(args: list[str]) -> list[str]:
    """``tables`` takes folders positionally; Hydra wants them as the ``paths=[...]`` override."""
    hydra_args, paths, takes_value = [], [], False
    for arg in args:
        if takes_value or arg.startswith("-") or "=" in arg:
            hydra_args.append(arg)
            takes_value = arg in _VALUE_FLAGS
        else:
            paths.append(arg)
    if paths:
        hydra_args.append("paths=[" + ",".join(_quote(p) for p in paths) + "]")
    return hydra_args


# correlate options that take several values in one run (a sweep over them needs -m and [...]).
_LIST_OPTIONS = ("proxy", "seed")


def _lists_to_override(args: list[str]) -> list[str]:
    """Without ``-m``, ``proxy=a,b`` means one run scoring both: Hydra's ``proxy=[a,b]``."""
    if any(a in ("-m", "--multirun") for a in args):
        return args
    out = []
    for arg in args:
        key, eq, value = arg.partition("=")
        if eq and key in _LIST_OPTIONS and "," in value and not value.startswith("["):
            arg = f"{key}=[{value}]"
        out.append(arg)
    return out


def _register_sweeper() -> None:
    """Hydra finds plugins by walking ``hydra_plugins`` on ``sys.path``, which an editable
    install's import hook hides: register ``hydra/sweeper=freedarts`` by hand."""
    from hydra.core.plugins import Plugins

    plugins = Plugins.instance()  # scans first: a plugin it found is not registered twice
    if "hydra_plugins.freedarts_sweeper.FreedartsSweeper" not in plugins.class_name_to_class:
        from hydra_plugins.freedarts_sweeper import FreedartsSweeper

        plugins.register(FreedartsSweeper)


def main(argv: list[str] | None = None) -> None:
    """Exit status: 0 done, 1 a failed sweep job (or a crash: a bug), 2 bad input (our checks
    and Hydra's: an unknown option or config group), 130 interrupted."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(
            f"error: unknown command {command!r}: use one of {', '.join(COMMANDS)} "
            "(freedarts --help)",
            file=sys.stderr,
        )
        sys.exit(2)
    if command in ("tables", "figures"):
        rest = _paths_to_override(rest)
    if command == "correlate":
        rest = _lists_to_override(rest)
    # experiment= is in the defaults list (conf/search.yaml); the older +experiment= still works
    rest = [a[1:] if a.startswith("+experiment=") else a for a in rest]
    saved = {key: os.environ.get(key) for key in (_PARENT, "HYDRA_FULL_ERROR")}
    os.environ.setdefault(_PARENT, f"{os.getpid()}@{socket.gethostname()}")
    full_error = bool(saved["HYDRA_FULL_ERROR"])
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra raises its errors to us instead of printing them
    try:
        _command(command, rest)
    except KeyboardInterrupt:
        print(
            f"interrupted: freedarts {command} stopped; a run that had not finished wrote no "
            "result.csv (rerun the same command to resume a sweep)",
            file=sys.stderr,
        )
        sys.exit(130)
    except Exception as err:
        from hydra.errors import HydraException
        from omegaconf.errors import OmegaConfBaseException

        from . import sweep

        if full_error:
            raise
        if isinstance(err, sweep.SweepFailed):
            print(err, file=sys.stderr)
            sys.exit(1)
        if sweep.was_started():
            raise  # a crash: the traceback is for a bug report
        if isinstance(err, (HydraException, OmegaConfBaseException)):
            print(f"error: {_one_line(err, command)}", file=sys.stderr)
            sys.exit(2)
        if isinstance(err, OSError):  # Hydra creating the run folder or its log file
            print(
                f"error: cannot write {err.filename or 'the run folder'}: "
                f"{err.strerror or err}: choose a writable folder (hydra.run.dir=... or "
                "hydra.sweep.dir=...)",
                file=sys.stderr,
            )
            sys.exit(2)
        raise
    finally:  # a caller in the same process (a test, a notebook) gets its environment back
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _command(command: str, rest: list[str]) -> None:
    if command == "genotype-info":  # plain arguments, not a Hydra app
        genotype_info(rest)
        return
    sys.argv = [f"freedarts {command}"] + rest
    _register_sweeper()
    COMMANDS[command][0]()


def _one_line(err: Exception, command: str) -> str:
    """Hydra's composition errors (an unknown option or config group, a malformed override)
    in one line that keeps the bad value and Hydra's fix."""
    from hydra.errors import MissingConfigException

    if isinstance(err, MissingConfigException) and err.missing_cfg_file and err.options:
        group, _, name = err.missing_cfg_file.rpartition("/")
        return (
            f"{group}={name} is not known: use one of {', '.join(err.options)} "
            f"(freedarts {command} --help lists every group)"
        )
    noise = (
        "full_key:",
        "object_type=",
        "reference_type=",
        "Config search path",
        "provider=",
        "Set the environment",
    )
    lines = [line.strip() for line in str(err).splitlines()]
    lines = [line for line in lines if line and not line.startswith(noise)]
    if getattr(err, "override", None):  # OverrideParseException
        return f"cannot parse the override {err.override!r}: {lines[0]}"
    cause = err.__cause__
    if cause is not None and str(cause).splitlines() and str(cause).splitlines()[0] not in lines:
        lines.append(f"({str(cause).splitlines()[0]})")
    return " ".join(lines[:4]) or type(err).__name__
