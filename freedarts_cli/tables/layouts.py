"""The published tables' layouts (``table=<id>``; specs and values in
:mod:`freedarts_cli.published`): which of our runs fill each (row, column) of the paper's table,
how a row is labelled ("[ours on synthetic data]", "[ours on real CIFAR-10, subset: N training
images]", ...) and the table's footnotes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .runs import ACCURACY_METRICS, drop_duplicate_runs

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
