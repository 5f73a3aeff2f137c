"""One run: config -> method (supernet -> scores -> pruned genotype) -> look-up -> result row.

This is the only module that knows every unit; each unit only sees what it is handed. Units are
built from the config by Hydra's ``instantiate`` (their ``_target_``), so adding a scorer, a
pruning rule, a method, a space or a benchmark never touches this file.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig

from . import __version__
from .alpha import check_scale
from .benchmark import ACCURACY_COLUMNS, Benchmark
from .benchmark.none import NoBenchmark
from .errors import UserError
from .methods import Context, Found
from .options import check_unit_options
from .results import PeakMemory, git_commit, write_csv
from .rundir import config_id

log = logging.getLogger("freedarts")

DTYPES = {"float64": torch.float64, "float32": torch.float32}
#: Model-size columns a space may add (``space.describe``), as the summary names them.
SIZE_COLUMNS = (
    ("params_m", "M params"),
    ("imagenet_params_m", "M params on ImageNet"),
    ("flops_m", "M mult-adds"),
)


@dataclass
class Outcome:
    row: dict
    trajectory: list[dict]
    scores: list[dict]
    samples: list[dict]
    selections: list[dict] = field(default_factory=list)  # more rows of the same search
    tables: dict[str, list[dict]] = field(default_factory=dict)  # method-specific files


def build(node: DictConfig) -> Any:
    """Instantiate a unit from its config (``_target_``); a UserError raised by its constructor
    reaches the user as itself, not wrapped in Hydra's InstantiationException. Its options are
    checked first (:func:`.options.check_unit_options`)."""
    check_unit_options(node)
    try:
        return instantiate(node)
    except InstantiationException as err:
        if isinstance(err.__cause__, UserError):
            raise err.__cause__ from None
        raise


def resolve_dtype(name: str | None, method: Any) -> tuple[str, torch.dtype]:
    """``dtype=null`` means the method's own (``method.dtype``): FreeDARTS takes its scorer's
    (float64 for SynFlow-α, METHOD.md §1; float32 for SNIP-α and GraSP-α), the rivals float32 as
    in their published code (their synflow is float64 anyway)."""
    name = str(getattr(method, "dtype", "float64") if name is None else name)
    if name not in DTYPES:
        raise UserError(
            f"dtype={name} is not supported: use dtype=float64, float32 or null (the method's own)"
        )
    return name, DTYPES[name]


def resolve_device(name: str) -> torch.device:
    name = str(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise UserError(f"device={name} is not known: use device=auto, cpu or cuda")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device={name} but torch sees no CUDA device: use device=cpu")
    return torch.device(name)


def check_seed(value: object) -> int:
    """A seed is a non-negative integer below 2**63 (torch's limit): ``seed=1.5``, ``seed=true``
    and ``seed=abc`` are errors, never coerced."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise UserError(
            f"seed={value} is not a non-negative integer below 2**63: use e.g. "
            "seed=0 (a sweep: -m seed=0,1,2)"
        )
    return value


def check_threads(value: object) -> int | None:
    """``threads``: null (torch's default) or a positive integer, never coerced."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(
            f"threads={value} is not a positive integer: use e.g. threads=1, or "
            "threads=null for torch's default"
        )
    return value


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def search(cfg: DictConfig, out_dir: Path | None = None, threads: int | None = None) -> Outcome:
    """Run the configured method once; write ``result.csv``, ``trajectory.csv``, ``scores.csv``
    (and ``samples.csv`` for sampling methods) into ``out_dir``, atomically and only after
    everything succeeded."""
    a = check_scale(cfg.a)
    seed = check_seed(cfg.seed)
    device = resolve_device(cfg.device)
    space = build(cfg.space)
    method = build(cfg.method)
    if method.spaces is not None and space.name not in method.spaces:
        raise UserError(
            f"method={method.name} is implemented for space={'/'.join(method.spaces)}"
            f", not space={space.name}: use method=freedarts there"
        )
    dtype_name, dtype = resolve_dtype(cfg.dtype, method)
    if threads:
        torch.set_num_threads(int(threads))
    log.info(
        "seed=%d a=%g dtype=%s device=%s, torch threads: %d",
        seed,
        a,
        dtype_name,
        device.type,
        torch.get_num_threads(),
    )

    benchmark = for_space(build(cfg.benchmark), space)  # before the search: fail fast
    data = build(cfg.data) if method.needs_data else None
    batch = data.batch(seed, dtype, device) if data is not None else None
    if batch is not None and tuple(batch.images.shape[1:]) != (
        3,
        space.input_size,
        space.input_size,
    ):
        raise UserError(
            f"space={space.name} reads {space.input_size}x{space.input_size} images "
            f"but data={data.name} gives {batch.images.shape[-1]}x"
            f"{batch.images.shape[-2]}: use data=synthetic (sized to the space) or "
            "data.input_size to match"
        )

    run_id = config_id(cfg)
    seed_everything(seed)
    with PeakMemory() as memory:
        start = time.perf_counter()
        found = method.search(
            Context(
                space,
                seed,
                a,
                dtype,
                device,
                batch,
                data,
                Path(out_dir) if out_dir is not None else None,
                run_id,
            )
        )
        seconds = time.perf_counter() - start

    def result_row(f: Found) -> dict[str, Any]:
        arch = space.decode(f.choice)
        return {
            "space": space.name,
            "method": method.name,
            "scorer": f.scorer,
            "pruning": f.pruning,
            "seed": seed,
            "a": a,
            "dtype": dtype_name,
            "device": device.type,
            "data": data.name if data is not None else "none",
            "data_images": data.images_available() if data is not None else 0,
            "arch": arch,
            "benchmark": benchmark.name,
            "benchmark_source": benchmark.source,
            **benchmark.query(arch),
            **space.describe(f.choice),
            "search_seconds": round(seconds, 4),
            "peak_memory_mb": round(memory.mb, 1),
            "rounds": len(f.rounds),
            **f.extra,
            "config_id": run_id,
            "freedarts_version": __version__,
            "torch_version": torch.__version__,
            "git_commit": git_commit(),
        }

    row = result_row(found)
    outcome = Outcome(
        row,
        _trajectory(found, space, benchmark),
        _scores(found, space),
        [{"arch": space.decode(c), "score": s} for c, s in found.samples],
        [result_row(f) for f in found.selections],
        {name: _looked_up(rows, space, benchmark) for name, rows in found.tables.items()},
    )
    if out_dir is not None:
        space.draw(found.choice, Path(out_dir))
        if outcome.samples:
            write_csv(Path(out_dir) / "samples.csv", outcome.samples)
        for name, rows in outcome.tables.items():
            write_csv(Path(out_dir) / f"{name}.csv", rows)
        if outcome.selections:
            write_csv(Path(out_dir) / "selections.csv", outcome.selections)
        # A method without scoring rounds (BaLeNAS, random) still gets readable, header-only files.
        write_csv(Path(out_dir) / "scores.csv", outcome.scores, SCORE_COLUMNS)
        write_csv(Path(out_dir) / "trajectory.csv", outcome.trajectory, TRAJECTORY_COLUMNS)
        write_csv(Path(out_dir) / "result.csv", [row])  # last: its presence means "complete"
    return outcome


def for_space(benchmark: Benchmark, space) -> Benchmark:
    """The benchmark, if it knows the space's architectures; ``benchmark=auto`` found one for
    another space (the shared NB201 table, say): the run goes without accuracies."""
    if benchmark.covers(space.name):
        return benchmark
    if benchmark.fallback:
        log.info(
            "benchmark=auto: %s holds no %s architectures; no look-up", benchmark.name, space.name
        )
        return NoBenchmark()
    raise UserError(
        f"benchmark={benchmark.name} holds {', '.join(benchmark.spaces)} "
        f"architectures, not space={space.name}: use benchmark=none (or a benchmark "
        "of that space)"
    )


def _trajectory(found: Found, space, benchmark) -> list[dict]:
    """Per round: what was removed, and the argmax architecture after it with its accuracies."""
    rows = []
    for r in found.rounds:
        edge, op = r.removed if r.removed else (None, None)
        arch = space.decode(r.choice)
        rows.append(
            {
                "round": r.round,
                "removed_edge": space.edges[edge] if edge is not None else "",
                "removed_op": space.ops[op] if op is not None else "",
                "removed_score": r.removed_score,
                "arch": arch,
                **{k: v for k, v in benchmark.query(arch).items() if k in ACCURACY_COLUMNS},
            }
        )
    return rows


def _looked_up(rows: list[dict], space, benchmark) -> list[dict]:
    """A method's table rows, each ``choice`` replaced by its ``arch`` and accuracies."""
    out = []
    for row in rows:
        row = dict(row)
        if "choice" in row:
            arch = space.decode(row.pop("choice"))
            row["arch"] = arch
            row.update((k, v) for k, v in benchmark.query(arch).items() if k in ACCURACY_COLUMNS)
        out.append(row)
    return out


SCORE_COLUMNS = ["round", "edge", "op", "score"]
TRAJECTORY_COLUMNS = ["round", "removed_edge", "removed_op", "removed_score", "arch"]


def _scores(found: Found, space) -> list[dict]:
    """Every op's score in every scoring round (removals that share one round's scores are
    written once)."""
    rows, seen = [], set()
    for r in found.rounds:
        if id(r.scores) in seen:
            continue
        seen.add(id(r.scores))
        rows.extend(
            {"round": r.round, "edge": edge, "op": op, "score": float(r.scores[e, k])}
            for e, edge in enumerate(space.edges)
            for k, op in enumerate(space.ops)
        )
    return rows


def summary(outcome: Outcome, hint: str = "") -> str:
    """What a user reads at the end of a run."""
    row = outcome.row
    lines = [f"architecture: {row['arch']}"]
    tests = [
        (label, row[col])
        for label, col in (
            ("CIFAR-10", "cifar10_test"),
            ("CIFAR-100", "cifar100_test"),
            ("ImageNet16-120", "imagenet16_120_test"),
        )
    ]
    if all(np.isnan(v) for _, v in tests):
        if row["space"] != "nb201":  # the hint names NB201 sources
            hint = f"no benchmark look-up for space={row['space']}; test errors need retraining"
        lines.append(f"accuracies: none ({hint or 'no benchmark configured'})")
    else:
        lines.append(
            "test accuracy: "
            + ", ".join(f"{k} {v:.2f}" for k, v in tests)
            + f"  [{row['benchmark']}: {row['benchmark_source']}]"
        )
    sizes = [f"{row[key]:.2f} {label}" for key, label in SIZE_COLUMNS if key in row]
    if sizes:
        lines.append("size: " + ", ".join(sizes))
    lines.append(
        f"search: {row['search_seconds']:.3f} s, {row['rounds']} round(s), "
        f"peak memory {row['peak_memory_mb']:.0f} MB, {row['scorer']}/{row['pruning']}, "
        f"seed {row['seed']}, a={row['a']:g}, {row['dtype']} on {row['device']}"
    )
    return "\n".join(lines)
