"""The output formats: Markdown (printed and ``.md``), CSV and LaTeX (``.tex``, booktabs), of the
per-group table and of a published table laid out by :mod:`.layouts`; files are written
atomically (:func:`freedarts_cli.results.atomic`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ..results import write_csv, write_text

if TYPE_CHECKING:
    from .layouts import Cell, PaperTable

UNIT_TEXT = {"accuracy": "accuracy (%)", "error": "error (%)"}


def write_groups(out: Path, table: pd.DataFrame, metrics, best_by: str) -> tuple[str, list[Path]]:
    """Write the per-group table (:func:`.aggregate.aggregate`) as ``tables.csv``, ``tables.md``
    and ``tables.tex`` into ``out``; returns its Markdown and the files written."""
    markdown = to_markdown(table, metrics, best_by)
    written = [write_csv(out / "tables.csv", table), write_text(out / "tables.md", markdown + "\n")]
    header, rows = _cells(table, metrics, best_by)
    tex = latex_tabular(
        header,
        rows,
        "l" * len(header),
        caption="Mean ± population std and best run per group",
        label="freedarts_groups",
    )
    return markdown, [*written, write_text(out / "tables.tex", tex)]


def write_paper(out: Path, name: str, t: PaperTable) -> tuple[str, list[Path]]:
    """Write the published table ``t`` as ``<name>.md``, ``<name>.csv`` (:func:`paper_long`) and
    ``<name>.tex`` into ``out``; returns its Markdown and the files written."""
    markdown = paper_markdown(t)
    return markdown, [
        write_text(out / f"{name}.md", markdown + "\n"),
        write_csv(out / f"{name}.csv", paper_long(t)),
        write_text(out / f"{name}.tex", paper_latex(t)),
    ]


def to_markdown(table: pd.DataFrame, metrics, best_by: str) -> str:
    """Markdown with ``mean ± std`` cells; NaN shows as ``–`` (the source has no such value)."""
    key_cols, metric_cols, best_cols = _columns(table, metrics, best_by)
    header = key_cols + metric_cols + best_cols
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, r in table.iterrows():
        cells = _key_cells(r, key_cols)
        for m in metric_cols:
            digits = _digits(m)
            mean, std = r[f"{m}_mean"], r[f"{m}_std"]
            cells.append("–" if pd.isna(mean) else f"{mean:.{digits}f} ± {std:.{digits}f}")
        # arch strings are full of '|': escape them so the Markdown table keeps its columns
        cells += [
            f"`{r[c]}`".replace("|", "\\|")
            if c == "best_arch" and isinstance(r[c], str)
            else _plain(r[c])
            for c in best_cols
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cells(table: pd.DataFrame, metrics, best_by: str) -> tuple[list[str], list[list[str]]]:
    """The header and plain-text cells of the aggregate table (as in :func:`to_markdown`)."""
    key_cols, metric_cols, best_cols = _columns(table, metrics, best_by)
    rows = []
    for _, r in table.iterrows():
        cells = _key_cells(r, key_cols)
        for m in metric_cols:
            cells.append(_mean_std(r[f"{m}_mean"], r[f"{m}_std"], _digits(m)))
        cells += [_plain(r[c]) for c in best_cols]
        rows.append(cells)
    return key_cols + metric_cols + best_cols, rows


def _columns(table: pd.DataFrame, metrics, best_by: str) -> tuple[list[str], list[str], list[str]]:
    """The aggregate table's group keys, metrics and best-run columns, as shown."""
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
    return key_cols, metric_cols, best_cols


def _key_cells(r: pd.Series, key_cols: list[str]) -> list[str]:
    # FreeDARTS's ``a`` (1e-3 by default) would read 0.00 at two decimals
    return [f"{r[c]:g}" if c == "a" and isinstance(r[c], float) else _plain(r[c]) for c in key_cols]


def _plain(x, digits=2) -> str:
    return "–" if pd.isna(x) else (f"{x:.{digits}f}" if isinstance(x, float) else str(x))


def _digits(metric: str) -> int:
    return 3 if metric == "search_seconds" else (0 if metric == "peak_memory_mb" else 2)


def _mean_std(mean, std, digits: int) -> str:
    if pd.isna(mean):
        return "–"
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if not pd.isna(std) else f"{mean:.{digits}f}"


def _fmt(x: float, kind: str) -> int:
    """Digits: accuracies/errors 2; seconds by size (0.257, 3.34, 115.2)."""
    if kind != "cost":
        return 2
    x = abs(x) if not pd.isna(x) else 0.0
    return 3 if x < 1 else (2 if x < 100 else 1)


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
