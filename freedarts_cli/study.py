"""The proxy study behind ``freedarts correlate``: proxies × architectures × seeds.

Every (architecture, seed) gets one freshly initialised network (``torch.manual_seed(seed)``
before it is built, and again before each proxy, so a value never depends on what was scored
before it: a resumed or sharded run gives the same numbers). Each value is appended to
``proxy_scores.csv`` as soon as it exists, one ``write`` + ``fsync`` per architecture, so a
killed run loses at most the architecture it was scoring; rerunning into the same folder
(``hydra.run.dir``) skips every (arch, proxy, seed) already there. ``correlation.csv`` (mean ±
std over seeds of Kendall τ, Spearman ρ and top-10 % ρ per proxy and dataset) is rewritten,
atomically, at the end.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from omegaconf import DictConfig, ListConfig
from tqdm import tqdm

from . import correlation
from .errors import UserError
from .proxies import PROXIES, Proxy, names, resolve
from .proxies.shared import score_all
from .results import write_csv
from .runner import DTYPES, build, check_seed, resolve_device, seed_everything

log = logging.getLogger("freedarts.correlate")


def parse_shard(text) -> tuple[int, int]:
    """``"i/k"`` (1 ≤ i ≤ k) -> (i, k)."""
    parts = str(text).split("/")
    if len(parts) == 2 and all(p.strip().isdigit() for p in parts):
        i, k = int(parts[0]), int(parts[1])
        if 1 <= i <= k:
            return i, k
    raise UserError(
        f"shard={text} is not i/k with 1 <= i <= k: use e.g. shard=1/4 "
        "(shard=1/1 scores the whole sample)"
    )


def as_list(value, what: str) -> list:
    items = list(value) if isinstance(value, (list, tuple, ListConfig)) else [value]
    if not items:
        raise UserError(f"{what}=[] is empty: give at least one, e.g. {what}=synflow")
    return items


def parse_seeds(value) -> list[int]:
    return list(dict.fromkeys(check_seed(item) for item in as_list(value, "seed")))


def parse_proxies(value) -> tuple[list[str], list[Proxy]]:
    """The requested names (checked) and the network proxies to score for them, each once."""
    requested = [str(p) for p in as_list(value, "proxy")]
    if "all" in requested:  # every network proxy, then every aggregate of them
        requested = [*requested[: requested.index("all")], *names()]
    needed: dict[str, Proxy] = {}
    for name in requested:
        for part in resolve(name)[0]:
            needed.setdefault(part.name, part)
    return list(dict.fromkeys(requested)), list(needed.values())


def sample_archs(space, n_archs, sample_seed: int, archs: Sequence | None = None) -> list:
    """A seeded uniform sample without replacement of ``n_archs`` of ``archs`` (default: every
    architecture of the space, ``space.architectures()``); ``n_archs=all`` is the whole seeded
    permutation. Every sample is a prefix of it (n_archs=200 is the first 200 of n_archs=1000),
    so a full run stopped early has scored a uniform sample."""
    everything = list(space.architectures() if archs is None else archs)
    if str(n_archs).lower() == "all":
        n_archs = len(everything)
    elif isinstance(n_archs, bool) or not isinstance(n_archs, int) or n_archs < 1:
        raise UserError(
            f"n_archs={n_archs} is not a positive integer: use e.g. n_archs=1000 or n_archs=all"
        )
    if n_archs > len(everything):
        where = f"space={space.name}" if archs is None else "the benchmark's list"
        raise UserError(
            f"n_archs={n_archs} exceeds the {len(everything):,} architectures of "
            f"{where}: use n_archs=all"
        )
    order = torch.randperm(len(everything), generator=torch.Generator().manual_seed(sample_seed))
    return [everything[i] for i in order[:n_archs].tolist()]


def candidates(space, benchmark) -> tuple[list | None, str]:
    """The architectures a study samples from, and where they come from: the benchmark's list
    when it is one (``benchmark=arch_table``), else every architecture of the space (NB201);
    a space that cannot be enumerated (DARTS, NB101) needs the list."""
    listed = benchmark.architectures()
    if listed is not None:
        return [space.parse(a) for a in listed], f"the {len(listed):,} of {benchmark.source}"
    if hasattr(space, "architectures"):
        return None, f"space={space.name}"
    raise UserError(
        f"space={space.name} cannot be enumerated: give the architectures and their "
        "accuracies with benchmark=arch_table benchmark.path=<csv>"
    )


def parse_dedup(value, n_archs, space, resumed_dedup: bool = False) -> bool:
    """``dedup``: true, false, or auto (true on a space with isomorphism classes,
    ``space.canonical``, for n_archs=all or when resuming a folder that holds dedup copies: a
    study continued with a larger ``n_archs`` goes on the way it began)."""
    text = str(value).lower()
    if text not in ("true", "false", "auto"):
        raise UserError(f"dedup={value} is not true, false or auto: use e.g. dedup=auto")
    can = hasattr(space, "canonical")
    if text == "true" and not can:
        raise UserError(
            f"dedup=true: space={space.name} has no isomorphism key to group architectures by; "
            "use dedup=false"
        )
    if text == "auto":
        return can and (str(n_archs).lower() == "all" or resumed_dedup)
    return text == "true"


def isomorphism_classes(
    space, archs: Sequence, sample_seed: int | None = None
) -> tuple[list, dict[str, list[str]]]:
    """One representative per isomorphism class (``space.canonical``), the first of the class
    in ``archs``' order, and per representative's arch string the strings of the other
    members (whose rows copy the representative's values).

    The representatives come in order of first appearance, or, given ``sample_seed``, in a
    seeded permutation: first appearance puts large classes first (NB201: the first 200 of
    6,466 classes hold 3,783 strings, 19 each against 2.4 on average), so only a permutation
    makes every prefix, i.e. a study stopped early, a uniform sample of the classes."""
    first: dict[str, object] = {}
    members: dict[str, list[str]] = {}
    for choice in archs:
        key = space.canonical(choice)
        if key not in first:
            first[key] = choice
            members[space.decode(choice)] = []
        else:
            members[space.decode(first[key])].append(space.decode(choice))
    reps = list(first.values())
    if sample_seed is not None:
        order = torch.randperm(len(reps), generator=torch.Generator().manual_seed(sample_seed))
        reps = [reps[i] for i in order.tolist()]
    return reps, members


class ScoreTable:
    """``proxy_scores.csv``, append-only. Opening it drops a torn last line (a kill mid-write)
    and remembers which (arch, proxy, seed) are done."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.done: set[tuple[str, str, int]] = set()
        # dedup: an arch -> the isomorphic archs whose rows copy its values (seconds NaN)
        self.aliases: dict[str, list[str]] = {}
        self.has_copies = False  # rows copied from a class representative (seconds NaN)
        if self.path.exists():
            self._repair()
            table = correlation.read_scores([self.path])
            self.done = {
                (a, p, int(s))
                for a, p, s in zip(table["arch"], table["proxy"], table["seed"], strict=True)
            }
            self.has_copies = bool(table["seconds"].isna().any())
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._write(",".join(correlation.SCORE_COLUMNS) + "\n")

    def _repair(self) -> None:
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            log.warning(
                "%s: dropped a torn last line (%d bytes) from an interrupted run",
                self.path,
                len(data) - keep,
            )
            with open(self.path, "r+b") as fh:
                fh.truncate(keep)
        if not data.strip():
            self.path.write_text(",".join(correlation.SCORE_COLUMNS) + "\n")

    def _write(self, text: str) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, text.encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def append(self, rows: Sequence[tuple[str, str, int, float, float]]) -> None:
        """Write ``rows`` (arch, proxy, seed, value, seconds) and, in the same write, a copy of
        each for every alias of its arch not yet in the table. Arch strings are CSV-quoted
        where they need it (a DARTS genotype holds commas and quotes)."""
        rows = list(rows)
        rows += [
            (alias, p, s, v, math.nan)
            for a, p, s, v, _ in rows
            for alias in self.aliases.get(a, ())
            if (alias, p, s) not in self.done
        ]
        if rows:
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerows((a, p, s, repr(float(v)), f"{t:.6f}") for a, p, s, v, t in rows)
            self._write(out.getvalue())
            self.done.update((a, p, s) for a, p, s, _, _ in rows)

    def copy_to_aliases(self) -> int:
        """Give every alias the rows its representative already has (a run resumed with
        dedup, or stopped between scoring and copying); the number of rows written."""
        if not self.aliases or not self.path.exists():
            return 0
        scores = correlation.read_scores([self.path])
        scores = scores[scores["arch"].isin(list(self.aliases))]
        rows = [
            (alias, p, int(s), float(v), math.nan)
            for a, p, s, v in zip(
                scores["arch"], scores["proxy"], scores["seed"], scores["value"], strict=True
            )
            for alias in self.aliases[a]
            if (alias, p, int(s)) not in self.done
        ]
        if rows:
            aliases, self.aliases = self.aliases, {}  # rows already name their aliases
            try:
                self.append(rows)
            finally:
                self.aliases = aliases
        return len(rows)


@dataclass
class Study:
    """What one ``correlate`` run scores: the requested names, their network proxies, the
    architectures of this shard and the seeds."""

    requested: list[str]
    proxies: list[Proxy]
    archs: list[list[int]]
    seeds: list[int]


def run(cfg: DictConfig, out_dir: Path, threads: int | None = None) -> pd.DataFrame:
    """Score the shard into ``out_dir/proxy_scores.csv`` (resuming), then write and return the
    correlation summary of everything that table holds."""
    space = build(cfg.space)
    if not hasattr(space, "network"):
        raise UserError(
            f"freedarts correlate scores the discrete networks of a space: space={space.name} "
            "builds none; use space=nb201, darts or nb101"
        )
    requested, proxies = parse_proxies(cfg.proxy)
    seeds = parse_seeds(cfg.seed)
    i, k = parse_shard(cfg.shard)
    if str(cfg.dtype) not in DTYPES:
        raise UserError(f"dtype={cfg.dtype} is not supported: use dtype=float32 or float64")
    device = resolve_device(cfg.device)
    if threads:
        torch.set_num_threads(int(threads))
    benchmark = build(cfg.benchmark)
    if not benchmark.covers(space.name) or benchmark.name == "none":
        # a space that can be enumerated (NB201) also takes a whole-space source
        hint = (
            "benchmark.path=<NATS-tss dir, NAS-Bench-201 .pth or table .csv>, or "
            if hasattr(space, "architectures")
            else ""
        )
        raise UserError(
            f"freedarts correlate needs the accuracies of space={space.name}'s architectures: "
            f"set {hint}benchmark=arch_table benchmark.path=<csv of architectures and accuracies>"
        )
    pool, source = candidates(space, benchmark)
    sample = sample_archs(space, cfg.n_archs, int(cfg.sample_seed), pool)
    table = ScoreTable(out_dir / correlation.SCORE_TABLE)
    aliases: dict[str, list[str]] = {}
    if parse_dedup(cfg.get("dedup", "false"), cfg.n_archs, space, table.has_copies):
        reps, aliases = isomorphism_classes(space, sample, int(cfg.sample_seed))
        log.info(
            "dedup: the %d sampled architectures are %d isomorphism classes; scoring %d, the "
            "other %d get their class representative's values",
            len(sample),
            len(reps),
            len(reps),
            len(sample) - len(reps),
        )
        sample = reps
    archs = sample[i - 1 :: k]
    log.info("architectures from %s", source)
    data = build(cfg.data) if any(p.needs_data for p in proxies) else None
    if data is not None:
        log.info(
            "data=%s: %d training images, %d per batch",
            data.name,
            data.images_available(),
            cfg.data.batch_size,
        )
    log.info(
        "proxies %s on %d architectures (shard %d/%d) x seeds %s, device %s, %d threads",
        ",".join(p.name for p in proxies),
        len(archs),
        i,
        k,
        seeds,
        device.type,
        torch.get_num_threads(),
    )

    table.aliases = {a: aliases[a] for a in map(space.decode, archs) if aliases.get(a)}
    copied = table.copy_to_aliases()
    if copied:
        log.info("dedup: copied %d scored rows to their isomorphic architectures", copied)
    write_csv(
        out_dir / "proxies.csv",
        [
            {
                "proxy": p.name,
                "needs_data": p.needs_data,
                "needs_labels": p.needs_labels,
                "dtype": str(p.dtype or DTYPES[str(cfg.dtype)]).replace("torch.", ""),
                "images": _images(p, data, cfg),
            }
            for p in proxies
        ],
    )
    decoded = {space.decode(c) for c in archs} | {m for ms in table.aliases.values() for m in ms}

    def write_accuracies(scored: set[str]) -> pd.DataFrame:
        accuracy = correlation.accuracy_table(benchmark, sorted(scored | decoded))
        write_csv(out_dir / correlation.ACCURACY_TABLE, accuracy.reset_index())
        return accuracy

    # before scoring too: a study still running (or archived half-way) already reads as a table
    write_accuracies({arch for arch, _, _ in table.done})
    _score(
        Study(requested, proxies, archs, seeds), space, data, device, DTYPES[str(cfg.dtype)], table
    )

    scores = correlation.read_scores([table.path])
    accuracy = write_accuracies(set(scores["arch"]))
    summary = correlation.summarise(
        correlation.correlations(
            scores,
            accuracy,
            [p for p in correlation.study_proxies(scores) if p in requested or p in PROXIES],
        )
    )
    write_csv(out_dir / "correlation.csv", summary)
    return summary


def _images(proxy: Proxy, data, cfg) -> str:
    if not proxy.needs_data:
        return "none (data-agnostic)"
    return (
        f"{data.name} ({data.images_available()} images available, {cfg.data.batch_size} per batch)"
    )


def _score(study: Study, space, data, device, default_dtype, table: ScoreTable) -> None:
    batches: dict = {}
    todo = [
        (c, s)
        for c in study.archs
        for s in study.seeds
        if any((space.decode(c), p.name, s) not in table.done for p in study.proxies)
    ]
    skipped = len(study.archs) * len(study.seeds) - len(todo)
    if skipped:
        log.info(
            "resuming: %d of %d (architecture, seed) pairs already scored",
            skipped,
            len(study.archs) * len(study.seeds),
        )
    for choice, seed in tqdm(todo, desc="correlate", unit="arch", mininterval=2.0):
        arch = space.decode(choice)
        by_dtype: dict = {}
        for proxy in study.proxies:
            if (arch, proxy.name, seed) not in table.done:
                by_dtype.setdefault(proxy.dtype or default_dtype, []).append(proxy)
        rows = []
        for dtype, group in by_dtype.items():
            seed_everything(seed)
            net = space.network(choice, dtype, device)
            batch = None
            if any(p.needs_data for p in group):
                if (seed, dtype) not in batches:
                    batches[(seed, dtype)] = data.batch(seed, dtype, device)
                batch = batches[(seed, dtype)]
            # one network per dtype, each shared pass once (values as the proxies alone)
            torch.manual_seed(seed)
            for name, scored in score_all(group, net, batch).items():
                if scored.error is not None:  # one degenerate architecture must not end a study
                    log.warning(
                        "%s on %s, seed %d: %s (recorded as NaN, left out of the correlations)",
                        name,
                        arch,
                        seed,
                        scored.error,
                    )
                rows.append((arch, name, seed, scored.value, scored.seconds))
        order = {p.name: i for i, p in enumerate(study.proxies)}
        rows.sort(key=lambda row: order[row[1]])
        table.append(rows)
