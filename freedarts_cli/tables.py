"""Aggregation of result CSVs into per-group tables: mean ± std (population) and best run."""
from __future__ import annotations

import glob
import os
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from .errors import UserError
from .results import write_csv


def collect(paths) -> pd.DataFrame:
    """Every ``result.csv`` under the given folders (or the files themselves), one row each."""
    files: list[str] = []
    for p in paths:
        if os.path.isfile(p):
            files.append(p)
        elif os.path.isdir(p):
            files += sorted(glob.glob(os.path.join(p, "**", "result.csv"), recursive=True))
        else:
            raise UserError(f"{p} does not exist: pass folders that hold result.csv files "
                            "(e.g. outputs/multirun/<date>)")
    if not files:
        raise UserError(f"no result.csv under {', '.join(map(str, paths))}: run "
                        "'freedarts search -m ...' first, or pass its sweep folder")
    df = pd.concat([pd.read_csv(f).assign(source=f) for f in files], ignore_index=True)
    return df


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
        row = dict(zip(keys, values), n=len(g))
        for m in metrics:
            row[f"{m}_mean"] = g[m].mean()
            row[f"{m}_std"] = g[m].std(ddof=0)
        if best_by in g.columns and g[best_by].notna().any():
            best = g.loc[g[best_by].idxmax()]
            row.update(best_seed=best.get("seed"), best_arch=best.get("arch"),
                       **{f"best_{best_by}": best[best_by]})
        rows.append(row)
    return pd.DataFrame(rows)


def to_markdown(table: pd.DataFrame, metrics, best_by: str) -> str:
    """Markdown with ``mean ± std`` cells; NaN shows as ``–`` (the source has no such value)."""
    # a metric no run has (e.g. validation accuracies from a test-only table) gets no column
    metric_cols = [m for m in metrics if f"{m}_mean" in table.columns
                   and table[f"{m}_mean"].notna().any()]
    key_cols = [c for c in table.columns if not any(c.startswith(m) for m in metrics)
                and not c.startswith("best_")]
    best_cols = [c for c in ("best_seed", f"best_{best_by}", "best_arch") if c in table.columns]
    header = key_cols + metric_cols + best_cols
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]

    def fmt(x, digits=2):
        return "–" if pd.isna(x) else (f"{x:.{digits}f}" if isinstance(x, float) else str(x))

    for _, r in table.iterrows():
        cells = [f"{r[c]:g}" if c == "a" and isinstance(r[c], float) else fmt(r[c])
                 for c in key_cols]
        for m in metric_cols:
            digits = 3 if m == "search_seconds" else (0 if m == "peak_memory_mb" else 2)
            mean, std = r[f"{m}_mean"], r[f"{m}_std"]
            cells.append("–" if pd.isna(mean) else f"{mean:.{digits}f} ± {std:.{digits}f}")
        # arch strings are full of '|': escape them so the Markdown table keeps its columns
        cells += [f"`{r[c]}`".replace("|", "\\|") if c == "best_arch" and isinstance(r[c], str)
                  else fmt(r[c]) for c in best_cols]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def make_tables(cfg: DictConfig) -> str:
    """``freedarts tables``: print Markdown, write ``tables.md`` and ``tables.csv``."""
    paths = list(cfg.paths)
    if not paths:
        raise UserError("no folders given: freedarts tables outputs/multirun/<date> [...]")
    df = collect(paths)
    table = aggregate(df, cfg.group_by, cfg.metrics, cfg.best_by)
    markdown = to_markdown(table, cfg.metrics, cfg.best_by)
    out = Path(cfg.out) if cfg.out else Path(paths[0] if os.path.isdir(paths[0]) else
                                             os.path.dirname(paths[0]) or ".")
    write_csv(out / "tables.csv", table)
    tmp = out / ".tables.md.tmp"
    tmp.write_text(markdown + "\n")
    os.replace(tmp, out / "tables.md")
    return f"{markdown}\n\n{len(df)} runs in {len(table)} groups; wrote {out / 'tables.csv'} and {out / 'tables.md'}"
