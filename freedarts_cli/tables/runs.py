"""Reading runs and aggregating them: every run's ``result.csv`` under the given folders (and the
``selections.csv`` beside it), junk files named and left out, a run collected twice counted once,
and per group the mean ± population std and the best run."""

from __future__ import annotations

import csv
import glob
import logging
import os

import pandas as pd

from ..benchmark import ACCURACY_COLUMNS
from ..errors import UserError

log = logging.getLogger(__name__)

#: Columns every run's ``result.csv`` holds (``runner.search`` writes them first).
RESULT_COLUMNS = ("space", "method", "seed", "arch")

#: The accuracy columns a benchmark look-up writes into ``result.csv``.
ACCURACY_METRICS = ACCURACY_COLUMNS
# what a run *is* (its configuration); everything else in result.csv is measured or provenance
_MEASURED = {
    "arch",
    "benchmark",
    "benchmark_source",
    "benchmark_index",
    *ACCURACY_METRICS,
    "search_seconds",
    "peak_memory_mb",
    "rounds",
    "freedarts_version",
    "torch_version",
    "git_commit",
    "source",
}


def result_problem(path: str) -> str | None:
    """Why ``path`` is not one run's ``result.csv`` (a header and one row of the same width,
    holding :data:`RESULT_COLUMNS` and an integer seed), or ``None`` when it is one. Cheap
    checks first, so a binary or huge file is never parsed whole."""
    try:
        if os.path.getsize(path) == 0:
            return "empty"
        if os.path.getsize(path) > 1 << 20:
            return "over 1 MB: a run writes one row"
        with open(path, newline="", encoding="utf-8") as f:
            text = f.read()
        if "\0" in text:
            return "binary"
        rows = list(csv.reader(text.splitlines()))
    except UnicodeDecodeError:
        return "binary (not UTF-8 text)"
    except (OSError, csv.Error) as err:
        return f"unreadable ({err})"
    if len(rows) != 2:
        return f"{max(len(rows) - 1, 0)} data rows, a run writes 1"
    header, row = rows
    missing = [c for c in RESULT_COLUMNS if c not in header]
    if missing:
        return f"no {', '.join(missing)} column"
    if len(row) != len(header):
        return f"truncated ({len(row)} of {len(header)} fields)"
    seed = row[header.index("seed")]
    if not seed.lstrip("-").isdigit():
        return f"seed {seed!r} is not an integer"
    return None


def collect(paths) -> pd.DataFrame:
    """Every ``result.csv`` under the given folders (or the files themselves), one row each,
    and the rows of the ``selections.csv`` beside it (more architectures the same search
    selected, e.g. BaLeNAS-TF's: :func:`selection_rows`)."""
    files: list[str] = []
    for p in paths:
        if os.path.isfile(p):
            files.append(p)
        elif os.path.isdir(p):
            files += sorted(glob.glob(os.path.join(p, "**", "result.csv"), recursive=True))
        else:
            raise UserError(
                f"{p} does not exist: pass folders that hold result.csv files "
                "(e.g. outputs/multirun/<date>)"
            )
    seen: set[str] = set()  # overlapping folders (a sweep and its parent) count a run once
    files = [f for f in files if not (os.path.realpath(f) in seen or seen.add(os.path.realpath(f)))]
    if not files:
        raise UserError(
            f"no result.csv under {', '.join(map(str, paths))}: run "
            "'freedarts search -m ...' first, or pass its sweep folder"
        )
    bad = {f: why for f in files if (why := result_problem(f)) is not None}
    for f, why in bad.items():
        log.warning("left out %s: %s", f, why)
    good = [f for f in files if f not in bad]
    if bad:
        log.warning(
            "left out %d of %d result.csv files (named above); %d runs counted",
            len(bad),
            len(files),
            len(good),
        )
    if not good:
        raise UserError(
            f"no readable result.csv under {', '.join(map(str, paths))} "
            f"({len(bad)} left out, named above)"
        )
    frames = [pd.read_csv(f).assign(source=f) for f in good]
    frames += [rows for f in good if (rows := selection_rows(f)) is not None]
    return pd.concat(frames, ignore_index=True)


def selection_rows(result: str) -> pd.DataFrame | None:
    """The rows of the ``selections.csv`` beside a finished run's ``result.csv`` (``None`` if
    it has none, or none that can be read: named on one line and left out)."""
    path = os.path.join(os.path.dirname(result), "selections.csv")
    if not os.path.isfile(path):
        return None
    try:
        rows = pd.read_csv(path)
    except (OSError, ValueError, UnicodeDecodeError) as err:
        log.warning("left out %s: unreadable (%s)", path, " ".join(str(err).split())[:200])
        return None
    missing = [c for c in RESULT_COLUMNS if c not in rows.columns]
    if missing or rows.empty:
        log.warning(
            "left out %s: %s", path, f"no {', '.join(missing)} column" if missing else "no rows"
        )
        return None
    return rows.assign(source=path)


def has_results(paths) -> bool:
    """Whether ``paths`` name a ``result.csv`` or a folder with one under it."""
    return any(
        (os.path.isfile(p) and os.path.basename(p) == "result.csv")
        or (os.path.isdir(p) and glob.glob(os.path.join(p, "**", "result.csv"), recursive=True))
        for p in paths
    )


def unfinished_runs(paths) -> list[str]:
    """Search folders under ``paths`` that started (``search.log``) but hold no ``result.csv``:
    killed, still running, or failed (their log says which)."""
    folders = set()
    for p in paths:
        if os.path.isdir(p):
            for log_file in glob.glob(os.path.join(p, "**", "search.log"), recursive=True):
                folder = os.path.dirname(log_file)
                if not os.path.exists(os.path.join(folder, "result.csv")):
                    folders.add(folder)
    return sorted(folders)


def drop_duplicate_runs(df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """One row per configuration and seed: the same run collected twice (a sweep rerun into a new
    folder, the random baseline of two tables) counts once. The copy with the most accuracies is
    kept, and among those the last one collected (sweep folders are dated: the newest). Returns
    the kept rows and, per dropped row, its ``source`` and the ``source`` of the copy kept."""
    if df.empty:
        return df, {}
    keys = [c for c in df.columns if c not in _MEASURED]
    acc = [c for c in ACCURACY_METRICS if c in df.columns]
    newest_first = df.iloc[::-1]
    order = newest_first[acc].notna().sum(axis=1).sort_values(ascending=False, kind="stable").index
    ranked = df.loc[order]
    key = pd.Series(
        [tuple(map(str, row)) for row in ranked[keys].itertuples(index=False)],
        index=ranked.index,
        dtype=object,
    )
    first = ~key.duplicated()
    source = ranked["source"].astype(str) if "source" in ranked else ranked.index.astype(str)
    kept_by_key = dict(zip(key[first], source[first], strict=True))
    dropped = {src: kept_by_key[k] for k, src in zip(key[~first], source[~first], strict=True)}
    return ranked[first].sort_index(), dropped


def aggregate(df: pd.DataFrame, group_by, metrics, best_by: str) -> pd.DataFrame:
    """One row per group: n, mean and population std (ddof=0) of each metric, and the best run
    (largest ``best_by``) with its architecture and value."""
    keys = [k for k in group_by if k in df.columns]
    metrics = [m for m in metrics if m in df.columns]
    if not keys:
        raise UserError(f"none of the group_by columns {list(group_by)} are in the results")
    rows = []
    for values, g in df.groupby(keys, sort=True, dropna=False):
        values = values if isinstance(values, tuple) else (values,)
        row = dict(zip(keys, values, strict=True), n=len(g))
        for m in metrics:
            row[f"{m}_mean"] = g[m].mean()
            row[f"{m}_std"] = g[m].std(ddof=0)
        if best_by in g.columns and g[best_by].notna().any():
            best = g.loc[g[best_by].idxmax()]
            row.update(
                best_seed=best.get("seed"),
                best_arch=best.get("arch"),
                **{f"best_{best_by}": best[best_by]},
            )
        rows.append(row)
    return pd.DataFrame(rows)
