"""Aggregation of result CSVs: per-group tables (mean ± population std, best run), and the
published tables with our numbers beside the paper's (``table=<id>``, see :mod:`.published`).

Output formats: Markdown (printed and ``.md``), CSV and LaTeX (``.tex``, booktabs)."""

from __future__ import annotations

import csv
import glob
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from ..errors import UserError
from ..results import write_csv, write_text

log = logging.getLogger(__name__)

#: Columns every run's ``result.csv`` holds (``runner.search`` writes them first).
RESULT_COLUMNS = ("space", "method", "seed", "arch")


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


def to_markdown(table: pd.DataFrame, metrics, best_by: str) -> str:
    """Markdown with ``mean ± std`` cells; NaN shows as ``–`` (the source has no such value)."""
    # a metric no run has (e.g. validation accuracies from a test-only table) gets no column
    metric_cols = [
        m for m in metrics if f"{m}_mean" in table.columns and table[f"{m}_mean"].notna().any()
    ]
    key_cols = [
        c
        for c in table.columns
        if not any(c.startswith(m) for m in metrics) and not c.startswith("best_")
    ]
    best_cols = [c for c in ("best_seed", f"best_{best_by}", "best_arch") if c in table.columns]
    header = key_cols + metric_cols + best_cols
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]

    def fmt(x, digits=2):
        return "–" if pd.isna(x) else (f"{x:.{digits}f}" if isinstance(x, float) else str(x))

    for _, r in table.iterrows():
        cells = [
            f"{r[c]:g}" if c == "a" and isinstance(r[c], float) else fmt(r[c]) for c in key_cols
        ]
        for m in metric_cols:
            digits = 3 if m == "search_seconds" else (0 if m == "peak_memory_mb" else 2)
            mean, std = r[f"{m}_mean"], r[f"{m}_std"]
            cells.append("–" if pd.isna(mean) else f"{mean:.{digits}f} ± {std:.{digits}f}")
        # arch strings are full of '|': escape them so the Markdown table keeps its columns
        cells += [
            f"`{r[c]}`".replace("|", "\\|")
            if c == "best_arch" and isinstance(r[c], str)
            else fmt(r[c])
            for c in best_cols
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


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
    if study is not None and not _has_results(paths):
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
    markdown = to_markdown(table, cfg.metrics, cfg.best_by)
    out = _out_dir(cfg, paths)
    write_csv(out / "tables.csv", table)
    write_text(out / "tables.md", markdown + "\n")
    header, rows = _cells(table, cfg.metrics, cfg.best_by)
    write_text(
        out / "tables.tex",
        latex_tabular(
            header,
            rows,
            "l" * len(header),
            caption="Mean ± population std and best run per group",
            label="freedarts_groups",
        ),
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
        + f"; wrote {out / 'tables.csv'}, {out / 'tables.md'} and {out / 'tables.tex'}"
    )


def _has_results(paths) -> bool:
    return any(
        (os.path.isfile(p) and os.path.basename(p) == "result.csv")
        or (os.path.isdir(p) and glob.glob(os.path.join(p, "**", "result.csv"), recursive=True))
        for p in paths
    )


def correlation_report(cfg: DictConfig, paths) -> str | None:
    """The proxy studies (``freedarts correlate`` folders) under ``paths``, shards merged, with
    the published correlations beside; writes ``correlation_study.md`` / ``.csv``."""
    from .. import correlation

    found = correlation.report(paths)
    if found is None:
        return None
    text, summary = found
    out = _out_dir(cfg, paths)
    write_csv(out / "correlation_study.csv", summary)
    write_text(out / "correlation_study.md", text + "\n")
    return f"{text}\n\nwrote {out / 'correlation_study.md'} and {out / 'correlation_study.csv'}"


# --------------------------------------------------------------------------------------------
# LaTeX
# --------------------------------------------------------------------------------------------

_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "|": r"\textbar{}",
    "±": r"$\pm$",
    "–": "--",
    "—": "---",
    "†": r"$^\dagger$",
    "‡": r"$^\ddagger$",
    "α": r"$\alpha$",
    "½": r"$\frac{1}{2}$",
    "−": "$-$",
    "×": r"$\times$",
    "¹": r"\textsuperscript{1}",
    "²": r"\textsuperscript{2}",
    "³": r"\textsuperscript{3}",
    "˒": ",",
    "·": r"$\cdot$",
}


def latex_escape(text) -> str:
    """Plain text (with the few symbols the tables use) as LaTeX source."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def latex_tabular(
    header: list[str],
    rows: list[list[str]],
    align: str,
    caption: str = "",
    label: str = "",
    top: list[tuple[str, int]] | None = None,
    notes: list[str] | None = None,
) -> str:
    """A booktabs ``table``; ``top`` is an optional spanning header row of (text, width) pairs;
    a row of one cell is a section line spanning the table. Cells are plain text (escaped here)."""
    n = len(header)
    out = [
        "% generated by freedarts tables; needs \\usepackage{booktabs}",
        "\\begin{table}[t]",
        "\\centering",
        "\\small",
    ]
    if caption:
        out.append(f"\\caption{{{latex_escape(caption)}}}")
    if label:
        out.append(f"\\label{{tab:{label}}}")
    out += [f"\\begin{{tabular}}{{{align}}}", "\\toprule"]
    if top:
        cells, rules, col = [], [], 1
        for text, width in top:
            cells.append(
                f"\\multicolumn{{{width}}}{{c}}{{{latex_escape(text)}}}"
                if width > 1
                else latex_escape(text)
            )
            if text and width > 1:
                rules.append(f"\\cmidrule(lr){{{col}-{col + width - 1}}}")
            col += width
        out.append(" & ".join(cells) + " \\\\")
        out += rules
    out.append(" & ".join(latex_escape(h) for h in header) + " \\\\")
    out.append("\\midrule")
    for row in rows:
        if len(row) == 1:
            out.append(f"\\multicolumn{{{n}}}{{l}}{{\\textit{{{latex_escape(row[0])}}}}} \\\\")
        else:
            out.append(" & ".join(latex_escape(c) for c in row) + " \\\\")
    out += ["\\bottomrule", "\\end{tabular}"]
    for note in notes or []:
        out.append(f"\\par\\footnotesize {latex_escape(note)}")
    out += ["\\end{table}", ""]
    return "\n".join(out)


def _cells(table: pd.DataFrame, metrics, best_by: str) -> tuple[list[str], list[list[str]]]:
    """The header and plain-text cells of the aggregate table (as in :func:`to_markdown`)."""
    metric_cols = [
        m for m in metrics if f"{m}_mean" in table.columns and table[f"{m}_mean"].notna().any()
    ]
    key_cols = [
        c
        for c in table.columns
        if not any(c.startswith(m) for m in metrics) and not c.startswith("best_")
    ]
    best_cols = [c for c in ("best_seed", f"best_{best_by}", "best_arch") if c in table.columns]
    rows = []
    for _, r in table.iterrows():
        cells = [
            f"{r[c]:g}" if c == "a" and isinstance(r[c], float) else _plain(r[c]) for c in key_cols
        ]
        for m in metric_cols:
            cells.append(_mean_std(r[f"{m}_mean"], r[f"{m}_std"], _digits(m)))
        cells += [_plain(r[c]) for c in best_cols]
        rows.append(cells)
    return key_cols + metric_cols + best_cols, rows


def _plain(x, digits=2) -> str:
    return "–" if pd.isna(x) else (f"{x:.{digits}f}" if isinstance(x, float) else str(x))


def _digits(metric: str) -> int:
    return 3 if metric == "search_seconds" else (0 if metric == "peak_memory_mb" else 2)


def _mean_std(mean, std, digits: int) -> str:
    if pd.isna(mean):
        return "–"
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if not pd.isna(std) else f"{mean:.{digits}f}"


def _out_dir(cfg: DictConfig, paths) -> Path:
    return (
        Path(cfg.out)
        if cfg.out
        else Path(paths[0] if os.path.isdir(paths[0]) else os.path.dirname(paths[0]) or ".")
    )


# --------------------------------------------------------------------------------------------
# Published tables: the paper's rows and columns, ours beside the published numbers
# --------------------------------------------------------------------------------------------

ACCURACY_METRICS = (
    "cifar10_valid",
    "cifar10_test",
    "cifar100_valid",
    "cifar100_test",
    "imagenet16_120_valid",
    "imagenet16_120_test",
)
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
UNIT_TEXT = {"accuracy": "accuracy (%)", "error": "error (%)"}
REFERENCE = "benchmark optimum"  # a reference row (the space's best), not a method


CIFAR10_TRAIN_IMAGES = 50_000


@dataclass
class Cell:
    """One (row, column) of a published table: ours over the selected runs and the paper's."""

    ours_mean: float = float("nan")
    ours_std: float = float("nan")
    n: int = 0
    paper_value: float = float("nan")
    paper_std: float = float("nan")
    paper_text: str = "–"
    data: str = ""  # data of the runs used ("synthetic" is labelled)
    images: float = float("nan")  # fewest training images any of its real-data runs had
    differs: dict = field(default_factory=dict)  # published setting -> the setting we ran
    devices: tuple = ()
    used: bool = False  # a column we compute (not quoted, not text)


@dataclass
class PaperRow:
    id: str
    label: str
    section: str
    quoted: str  # "" when we reproduce the row, else why not (training-based, ...)
    cells: dict  # column id -> Cell

    @property
    def synthetic(self) -> bool:
        return any(c.data == "synthetic" for c in self.cells.values())

    @property
    def subset_images(self) -> int:
        """Training images of a real-data row that ran on a subset of CIFAR-10 (0: the full
        50,000, or no real images)."""
        n = min((c.images for c in self.cells.values() if c.images == c.images), default=0)
        return int(n) if 0 < n < CIFAR10_TRAIN_IMAGES else 0

    @property
    def differs(self) -> dict:
        merged: dict = {}
        for c in self.cells.values():
            merged.update(c.differs)
        return merged

    def display_label(self) -> str:
        marks = []
        if self.quoted == REFERENCE:
            marks.append(REFERENCE)
        elif self.quoted:
            marks.append(f"quoted: {self.quoted}")
        if self.synthetic:
            marks.append("ours on synthetic data")
        elif self.subset_images:
            marks.append(f"ours on real CIFAR-10, subset: {self.subset_images:,} training images")
        if self.differs:
            marks.append(
                "ours at " + ", ".join(f"{k}={v} (paper {p})" for k, (v, p) in self.differs.items())
            )
        return self.label + "".join(f" [{m}]" for m in marks)

    def runs(self) -> str:
        """How many runs the row's cells average (several numbers when the columns differ)."""
        if self.quoted:
            return "–"
        ns = sorted({c.n for c in self.cells.values() if c.used})
        return "/".join(str(n) for n in ns) if ns else "0"


@dataclass
class PaperTable:
    spec: dict
    rows: list[PaperRow]
    columns: list[dict]
    notes: list[str]
    duplicates: int = 0


def _equals(col: pd.Series, value) -> pd.Series:
    """Column == value, numbers compared as numbers (1e-3 == 0.001), booleans as booleans."""
    if isinstance(value, bool):
        if pd.api.types.is_bool_dtype(col):
            return col == value
        return col.astype(str).str.lower() == str(value).lower()
    if isinstance(value, (int, float)):
        if pd.api.types.is_bool_dtype(col):
            num = col.astype(float)
        elif pd.api.types.is_numeric_dtype(col):
            num = col
        else:
            num = pd.to_numeric(
                col.astype(str).str.lower().replace({"true": "1", "false": "0"}), errors="coerce"
            )
        return (
            pd.Series(
                np.isclose(num.astype(float), float(value), rtol=1e-9, atol=0.0), index=col.index
            )
            & num.notna()
        )
    return col.astype(str) == str(value)


def _select(df: pd.DataFrame, match: dict) -> pd.DataFrame:
    """The rows whose columns equal ``match`` (none if a column is missing); a value
    ``{min: x}`` matches numbers ≥ x (e.g. any warm-up, while the setting names the paper's)."""
    keep = np.ones(len(df), dtype=bool)
    for key, value in match.items():
        if key not in df.columns:
            return df.iloc[0:0]
        if isinstance(value, dict) and set(value) == {"min"}:
            keep &= (pd.to_numeric(df[key], errors="coerce") >= value["min"]).to_numpy(dtype=bool)
            continue
        keep &= _equals(df[key], value).to_numpy(dtype=bool)
    return df[keep]


def _prefer_data(sel: pd.DataFrame, search_data) -> tuple[pd.DataFrame, str]:
    """Runs on the paper's real search data if there are any, else on synthetic images (to be
    labelled); runs that read no images (data=none) count either way."""
    if "data" not in sel.columns or sel.empty:
        return sel, ""
    data = sel["data"].fillna("none").astype(str)
    dataless = data == "none"
    real = data.isin([str(d) for d in search_data])
    if real.any():
        return sel[real | dataless], ",".join(sorted(set(data[real])))
    synthetic = data == "synthetic"
    if synthetic.any():
        return sel[synthetic | dataless], "synthetic"
    return sel[dataless], "none" if dataless.any() else ""


def _prefer_setting(sel: pd.DataFrame, setting: dict) -> tuple[pd.DataFrame, dict]:
    """The runs at the published setting (e.g. ``n_samples: 100``) if there are any; otherwise
    the largest group of runs at one other setting, reported as differing."""
    keys = [k for k in setting if k in sel.columns and sel[k].notna().any()]
    if not keys or sel.empty:
        return sel, {}
    # a run that did not record a key (NaN: an older version) is taken to be at the setting
    keep = np.ones(len(sel), dtype=bool)
    for k in keys:
        keep &= (_equals(sel[k], setting[k]) | sel[k].isna()).to_numpy(dtype=bool)
    exact = sel[keep]
    if not exact.empty:
        return exact, {}
    groups = sorted(sel.groupby(keys, dropna=False), key=lambda kv: -len(kv[1]))
    values, chosen = groups[0]
    values = values if isinstance(values, tuple) else (values,)
    differs = {
        k: (f"{v:g}" if isinstance(v, (int, float)) else str(v), setting[k])
        for k, v in zip(keys, values, strict=True)
        if not _equals(pd.Series([v]), setting[k]).iloc[0]
    }
    return chosen, differs


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


def _fmt(x: float, kind: str) -> int:
    """Digits: accuracies/errors 2; seconds by size (0.257, 3.34, 115.2)."""
    if kind != "cost":
        return 2
    x = abs(x) if not pd.isna(x) else 0.0
    return 3 if x < 1 else (2 if x < 100 else 1)


def paper_table(df: pd.DataFrame, table_id: str) -> PaperTable:
    """Our runs arranged as the published table ``table_id`` (cells: ours and the paper's)."""
    from .. import published

    spec = published.spec(table_id)
    values = published.values(table_id)
    df, dropped = drop_duplicate_runs(df)
    duplicates = len(dropped)
    # the columns a cell may filter on or average (fewer columns: faster selections)
    needed = {"data", "data_images", "device", "search_seconds", *ACCURACY_METRICS}
    for part in [spec, *spec["columns"], *spec["rows"].values()]:
        needed |= set(part.get("match") or {}) | set(part.get("setting") or {})
    needed |= {
        c["metric"].format(dataset=r.get("dataset", ""))
        for c in spec["columns"]
        if "metric" in c
        for r in spec["rows"].values()
    }
    df = df[[c for c in df.columns if c in needed]]
    base = dict(spec.get("match") or {})
    unit = spec.get("unit", "accuracy")
    columns = spec["columns"]
    rows: list[PaperRow] = []
    for row_id, records in values.groupby("row", sort=False):
        rspec = spec["rows"][row_id]
        quoted = str(rspec.get("quoted", "") or "")
        first = records.iloc[0]
        cells = {}
        for col in columns:
            rec = records[records.column == col["id"]]
            cell = Cell()
            if not rec.empty:
                r = rec.iloc[0]
                cell.paper_value, cell.paper_std = r.value_f, r.std_f
                if col.get("kind") == "text":
                    cell.paper_text = r.printed
                elif r.value:
                    cell.paper_text = r.value + (f" ± {r['std']}" if r["std"] else "")
            if not quoted and "metric" in col:
                _fill(
                    cell,
                    df,
                    {**base, **(col.get("match") or {}), **(rspec.get("match") or {})},
                    {
                        **(spec.get("setting") or {}),
                        **(col.get("setting") or {}),
                        **(rspec.get("setting") or {}),
                    },
                    rspec.get("search_data", spec.get("search_data", ["cifar10"])),
                    col["metric"].format(dataset=rspec.get("dataset", "")),
                    unit if col.get("kind") not in ("cost", "text") else "count",
                )
            cells[col["id"]] = cell
        rows.append(PaperRow(row_id, first.label, first.section, quoted, cells))
    notes = _notes(spec, rows, unit, duplicates)
    return PaperTable(spec, rows, columns, notes, duplicates)


def _fill(
    cell: Cell, df: pd.DataFrame, match: dict, setting: dict, search_data, metric: str, unit: str
) -> None:
    cell.used = True
    sel = _select(df, match)
    sel, cell.data = _prefer_data(sel, search_data)
    sel, cell.differs = _prefer_setting(sel, setting)
    cell.n = len(sel)
    if sel.empty or metric not in sel.columns:
        return
    if "data_images" in sel.columns and cell.data not in ("", "none", "synthetic"):
        images = pd.to_numeric(sel["data_images"], errors="coerce")
        cell.images = images[images > 0].min()
    x = pd.to_numeric(sel[metric], errors="coerce")
    if unit == "error":
        x = 100.0 - x  # the paper reports test error: compare in its unit
    cell.ours_mean, cell.ours_std = x.mean(), x.std(ddof=0)
    if "device" in sel.columns:
        cell.devices = tuple(sorted(set(sel["device"].dropna().astype(str))))


def _notes(spec: dict, rows: list[PaperRow], unit: str, duplicates: int) -> list[str]:
    notes = [
        (
            f"Source: {spec['source']} (as transcribed in shared/docs/PAPER_TABLES.md). "
            "Each metric column has two sub-columns: ours = mean ± population std (ddof=0) "
            "over our runs, paper = as printed; '–' = no value."
        )
    ]
    if unit == "error":
        notes.append(
            "The paper reports test ERROR (%): our accuracies are converted to "
            "error = 100 − accuracy (std unchanged) to compare in the paper's unit."
        )
    if any(c.get("kind") == "cost" for c in spec["columns"]):
        devices = sorted({d for r in rows for c in r.cells.values() for d in c.devices})
        notes.append(
            "Search cost: ours = measured search_seconds (search only, no data loading "
            f"or look-ups) on {', '.join(devices) or 'our device'}; the paper's as printed "
            "(its unit is in the column header)."
        )
    if any(r.quoted for r in rows):
        notes.append(
            "[quoted: ...] rows are not run here (training-based NAS, methods not "
            "implemented, the benchmark optimum): their numbers are the paper's only."
        )
    if any(r.synthetic for r in rows):
        notes.append(
            "[ours on synthetic data]: data-dependent scores ran on random images "
            "(data=synthetic), NOT the paper's setting; rerun the experiment with "
            "data=cifar10 data.root=... for the real numbers."
        )
    if any(r.subset_images for r in rows):
        notes.append(
            "[ours on real CIFAR-10, subset: N training images]: the image-reading "
            "scores read one batch drawn from N real CIFAR-10 training images (the "
            "workspace's 5,506-image subset: 4,660 training + 846 test images), not "
            "from all 50,000; the architectures are looked up in the full benchmark."
        )
    if any(r.differs for r in rows):
        notes.append(
            "[ours at k=v (paper p)]: no run at the published setting was found, so the "
            "row shows runs at a reduced setting (e.g. CPU-sized options)."
        )
    if duplicates:
        notes.append(
            f"{duplicates} duplicate run(s) (same configuration and seed, collected "
            "twice) were counted once."
        )
    return notes + [str(n) for n in spec.get("notes") or []]


def _ours_text(cell: Cell, kind: str) -> str:
    if kind == "text":  # a count beside the paper's formula (e.g. perturbations per iteration)
        if pd.isna(cell.ours_mean):
            return "–"
        return (
            f"{cell.ours_mean:g}"
            if not cell.ours_std
            else _mean_std(cell.ours_mean, cell.ours_std, 1)
        )
    return _mean_std(cell.ours_mean, cell.ours_std, _fmt(cell.ours_mean, kind))


def _paper_layout(t: PaperTable) -> tuple[list[tuple[str, int]], list[str], list[list[str]]]:
    """Top header (spanning labels), sub-header and the rows (a section line is one cell)."""
    top, header = [(t.spec.get("label_header", "Method"), 1), ("runs", 1)], ["", "n"]
    for col in t.columns:
        if col.get("kind") == "text" and "metric" not in col:
            top.append((col["label"], 1))
            header.append("paper")
        else:
            top.append((col["label"], 2))
            header += ["ours", "paper"]
    body, section = [], ""
    for row in t.rows:
        if row.section and row.section != section:
            section = row.section
            body.append([section])
        cells = [row.display_label(), row.runs()]
        for col in t.columns:
            cell = row.cells[col["id"]]
            if col.get("kind") == "text" and "metric" not in col:
                cells.append(cell.paper_text)
            else:
                cells += [
                    "–" if row.quoted else _ours_text(cell, col.get("kind", "")),
                    cell.paper_text,
                ]
        body.append(cells)
    return top, header, body


def paper_markdown(t: PaperTable) -> str:
    _, _, body = _paper_layout(t)
    names = [t.spec.get("label_header", "Method"), "n"]
    for col in t.columns:
        names += (
            [f"{col['label']} (paper)"]
            if col.get("kind") == "text" and "metric" not in col
            else [f"{col['label']} ours", f"{col['label']} paper"]
        )
    unit = UNIT_TEXT.get(t.spec.get("unit"), t.spec.get("unit"))
    lines = [
        f"**{t.spec['id']}**: {t.spec['title']} ({t.spec['source']}); unit: {unit}",
        "",
        "| " + " | ".join(names) + " |",
        "|" + "---|" * len(names),
    ]
    for cells in body:
        if len(cells) == 1:
            cells = [f"*{cells[0]}*"] + [""] * (len(names) - 1)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines.append("")
    lines += [f"* {note}" for note in t.notes]
    return "\n".join(lines)


def paper_latex(t: PaperTable) -> str:
    top, header, body = _paper_layout(t)
    header[0] = ""
    align = "ll" + "".join(
        "l" if c.get("kind") == "text" and "metric" not in c else "rr" for c in t.columns
    )
    caption = (
        f"{t.spec['title']}. Ours (mean $\\pm$ population std) beside the paper "
        f"({t.spec['source']})."
    )
    return latex_tabular(
        header,
        body,
        align,
        caption=caption.replace("$\\pm$", "±"),
        label=t.spec["id"],
        top=top,
        notes=t.notes,
    )


def paper_long(t: PaperTable) -> pd.DataFrame:
    """One record per (row, column): ours, the paper's and their difference, machine-readable."""
    records = []
    unit = t.spec.get("unit", "accuracy")
    for row in t.rows:
        for col in t.columns:
            cell = row.cells[col["id"]]
            kind = col.get("kind", "")
            records.append(
                {
                    "table": t.spec["id"],
                    "section": row.section,
                    "row": row.id,
                    "label": row.label,
                    "column": col["id"],
                    "column_label": col["label"],
                    "unit": {"text": "text", "cost": "seconds"}.get(kind, unit),
                    "quoted": bool(row.quoted),
                    "why_quoted": row.quoted,
                    "ours_mean": cell.ours_mean,
                    "ours_std": cell.ours_std,
                    "ours_n": cell.n,
                    "ours_data": cell.data,
                    "ours_setting": ";".join(f"{k}={v}" for k, (v, _) in cell.differs.items()),
                    "paper_value": cell.paper_value,
                    "paper_std": cell.paper_std,
                    "paper_printed": cell.paper_text,
                    "diff": cell.ours_mean - cell.paper_value,
                    "source": t.spec["source"],
                }
            )
    return pd.DataFrame(records)


def make_paper_table(cfg: DictConfig, df: pd.DataFrame | None = None) -> str:
    """``freedarts tables PATH... table=<id>``: write ``<id>.md``, ``<id>.csv``, ``<id>.tex``
    (``df``: the runs, if already collected from ``cfg.paths``)."""
    paths = list(cfg.paths)
    table_id = str(cfg.table)
    from .. import published

    published.spec(table_id)  # an unknown id fails before the results are read
    t = paper_table(collect(paths) if df is None else df, table_id)
    out = _out_dir(cfg, paths)
    markdown = paper_markdown(t)
    write_text(out / f"{table_id}.md", markdown + "\n")
    write_csv(out / f"{table_id}.csv", paper_long(t))
    write_text(out / f"{table_id}.tex", paper_latex(t))
    written = ", ".join(str(out / f"{table_id}.{ext}") for ext in ("md", "csv", "tex"))
    return f"{markdown}\n\nwrote {written}"
