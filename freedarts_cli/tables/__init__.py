"""``freedarts tables``: result CSVs aggregated into per-group tables (mean ± population std, best
run), and the published tables with our numbers beside the paper's (``table=<id>``, see
:mod:`freedarts_cli.published`).

* :mod:`.runs`: reading runs (``result.csv``, the ``selections.csv`` beside it, junk files
  named and left out, a run collected twice counted once) and the per-group statistics;
* :mod:`.layouts`: the published tables' layouts: which runs fill each (row, column), the row
  labels and the footnotes;
* :mod:`.writers`: Markdown, CSV and LaTeX output, files written atomically.

Here: the command itself (:func:`make_tables`, :func:`make_paper_table`), and the names other
modules import from ``freedarts_cli.tables``."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from ..errors import UserError
from ..results import write_csv, write_text
from .layouts import _prefer_setting, _select, paper_table
from .runs import aggregate, collect, drop_duplicate_runs, has_results, unfinished_runs
from .writers import write_groups, write_paper

__all__ = [
    "_prefer_setting",
    "_select",
    "aggregate",
    "collect",
    "correlation_report",
    "drop_duplicate_runs",
    "make_paper_table",
    "make_tables",
    "paper_table",
]

log = logging.getLogger(__name__)


def make_tables(cfg: DictConfig) -> str:
    """``freedarts tables``: with ``table=<id>`` the paper's table with ours beside the published
    numbers (:func:`make_paper_table`); without it, print Markdown of every group and write
    ``tables.md``, ``tables.csv`` and ``tables.tex``."""
    paths = list(cfg.paths)
    if not paths:
        raise UserError("no folders given: freedarts tables outputs/multirun/<date> [...]")
    if cfg.get("table"):
        return make_paper_table(cfg)
    study = correlation_report(cfg, paths)
    if study is not None and not has_results(paths):
        return study
    df, dropped = drop_duplicate_runs(collect(paths))
    for source, kept in dropped.items():
        log.warning("dropped duplicate %s: the same config and seed as %s", source, kept)
    unfinished = unfinished_runs(paths)
    for folder in unfinished:
        log.warning(
            "unfinished: %s holds no result.csv (killed, running or failed: see its "
            "search.log; rerun its sweep into the same folder to resume)",
            folder,
        )
    table = aggregate(df, cfg.group_by, cfg.metrics, cfg.best_by)
    markdown, (csv_file, md_file, tex_file) = write_groups(
        _out_dir(cfg, paths), table, cfg.metrics, cfg.best_by
    )
    return (
        (study + "\n\n" if study else "")
        + f"{markdown}\n\n{len(df)} runs in {len(table)} groups"
        + "".join(
            f"; {n} {what} (named above)"
            for n, what in (
                (len(dropped), "duplicate run(s) dropped"),
                (len(unfinished), "unfinished run folder(s)"),
            )
            if n
        )
        + f"; wrote {csv_file}, {md_file} and {tex_file}"
    )


def correlation_report(cfg: DictConfig, paths) -> str | None:
    """The proxy studies (``freedarts correlate`` folders) under ``paths``, shards merged, with
    the published correlations beside; writes ``correlation_study.md`` / ``.csv``."""
    from .. import correlation

    per = str(cfg.get("per", "arch"))
    found = correlation.report(paths, per=per)
    if found is None:
        return None
    text, summary = found
    out = _out_dir(cfg, paths)
    stem = "correlation_study" + ("_per_class" if per == "class" else "")
    write_csv(out / f"{stem}.csv", summary)
    write_text(out / f"{stem}.md", text + "\n")
    return f"{text}\n\nwrote {out / f'{stem}.md'} and {out / f'{stem}.csv'}"


def make_paper_table(cfg: DictConfig, df: pd.DataFrame | None = None) -> str:
    """``freedarts tables PATH... table=<id>``: write ``<id>.md``, ``<id>.csv``, ``<id>.tex``
    (``df``: the runs, if already collected from ``cfg.paths``)."""
    paths = list(cfg.paths)
    table_id = str(cfg.table)
    from .. import published

    published.spec(table_id)  # an unknown id fails before the results are read
    t = paper_table(collect(paths) if df is None else df, table_id)
    markdown, written = write_paper(_out_dir(cfg, paths), table_id, t)
    return f"{markdown}\n\nwrote {', '.join(map(str, written))}"


def _out_dir(cfg: DictConfig, paths) -> Path:
    return (
        Path(cfg.out)
        if cfg.out
        else Path(paths[0] if os.path.isdir(paths[0]) else os.path.dirname(paths[0]) or ".")
    )
