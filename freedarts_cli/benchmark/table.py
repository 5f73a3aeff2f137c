"""A flat table of accuracies: any CSV (or Parquet) file with an NB201 arch-string column.

It reads the file once in ``__init__`` and keeps a dict arch -> row, so a query is a dict look-up.
``../shared/benchmarks/nb201/nats_tss_test_acc_200ep.csv`` works as is: its ``ArchitectureString``
column is found by content and its three ``*TestAccuracy200Epochs`` columns by the alias map; it has
no validation accuracies and no benchmark index, so those stay NaN.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ..errors import UserError
from ..genotype import NB201_RE
from . import ACCURACY_COLUMNS, KINDS, Benchmark, empty_row, file_kind, log, require_path

ARCH_RE = NB201_RE
INDEX_NAMES = ("benchmark_index", "arch_index", "index")

# Other tables' names for our columns. Names are compared after _norm, so our own names also
# match as "cifar10-test", "CIFAR10_Test", ...
ALIASES = {
    "cifar10_valid": ("CIFAR10ValidAccuracy200Epochs",),
    "cifar10_test": ("CIFAR10TestAccuracy200Epochs",),
    "cifar100_valid": ("CIFAR100ValidAccuracy200Epochs",),
    "cifar100_test": ("CIFAR100TestAccuracy200Epochs",),
    "imagenet16_120_valid": ("ImageNetValidAccuracy200Epochs", "ImageNet16-120_valid"),
    "imagenet16_120_test": ("ImageNetTestAccuracy200Epochs", "ImageNet16-120_test"),
}


def shown(value, width: int = 70) -> str:
    """``value`` quoted for an error line, cut to ``width`` characters (a DARTS genotype or an
    NB101 matrix would otherwise fill the terminal)."""
    text = str(value)
    return repr(text if len(text) <= width else text[: width - 3] + "...")


def _norm(name) -> str:
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


def accuracy_columns(df: pd.DataFrame, columns, where: str, aliases: Mapping) -> dict[str, str]:
    """Ours -> the table's column, for every accuracy column the table has: those ``columns``
    maps (``benchmark.columns``, checked), the others found by our name or one of ``aliases``
    (compared ignoring case and punctuation). One error line when there is none."""
    if columns is not None and not isinstance(columns, Mapping):
        raise UserError(
            f"benchmark.columns must map our names to {where}'s columns, "
            f"e.g. {{cifar10_test: acc}}, not {columns!r}"
        )
    given = dict(columns.items()) if columns is not None else {}
    for ours, theirs in given.items():
        if ours not in ACCURACY_COLUMNS:
            raise UserError(
                f"benchmark.columns key {ours!r} is not one of {', '.join(ACCURACY_COLUMNS)}"
            )
        if theirs not in df.columns:
            raise UserError(
                f"{where} has no column {theirs!r} (benchmark.columns.{ours}); "
                f"columns: {list(df.columns)}"
            )
    by_norm = {_norm(c): c for c in df.columns}
    mapping = {}
    for ours in ACCURACY_COLUMNS:
        if ours in given:
            mapping[ours] = given[ours]
            continue
        for name in (ours, *aliases[ours]):
            if _norm(name) in by_norm:
                mapping[ours] = by_norm[_norm(name)]
                break
    if not mapping:
        known = sorted({a for names in aliases.values() for a in names})[:4]
        raise UserError(
            f"{where} has no accuracy column (looked for {', '.join(ACCURACY_COLUMNS)} and "
            f"names like {', '.join(known)}); map yours with "
            "benchmark.columns='{cifar10_test: <column>}'"
        )
    return mapping


class RowTable(Benchmark):
    """A back-end that holds its whole source as ``self._rows``: arch string -> row."""

    _rows: dict[str, dict]

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self):
        """The architecture strings the table holds."""
        return iter(self._rows)

    def query(self, arch: str) -> dict:
        row = self._rows.get(arch.strip())
        if row is None:
            raise UserError(
                f"architecture {shown(arch, 100)} is not in benchmark table {self.source}; "
                "check the architecture or use a table that lists it"
            )
        return dict(row)  # a caller's edit must not reach the table


# What a table's first bytes may be: a CSV (pandas also reads one compressed by its suffix) or,
# for a .parquet / .pq name, Parquet. Anything else is refused before pandas reads it.
TEXT_KINDS = ("csv", "text", "empty", "gzip", "bz2", "zip")


def _check_kind(path: Path) -> None:
    kind = file_kind(path)
    parquet = path.suffix.lower() in (".parquet", ".pq")
    if (kind == "parquet") == parquet and (parquet or kind in TEXT_KINDS):
        return
    if kind.startswith("torch"):
        hint = "pass benchmark=nb201 for the NAS-Bench-201 .pth"
    elif kind == "parquet":
        hint = "name it .parquet"
    else:
        hint = "give a CSV or .parquet file with an NB201 architecture-string column"
    raise UserError(
        f"{path.name} is not a benchmark table: it is {KINDS[kind]}"
        f"{', not Parquet' if parquet else ''}; {hint}"
    )


def _read(path: Path) -> pd.DataFrame:
    try:
        _check_kind(path)
    except OSError as e:
        raise UserError(
            f"cannot read benchmark table {path.name} ({e.strerror or e}); give a "
            "CSV or .parquet file with an NB201 architecture-string column"
        ) from e
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        # As text: keys such as NAS-Bench-101 hashes must not be read as numbers; the
        # accuracy and index columns are converted below.
        return pd.read_csv(path, dtype=str)
    except ImportError as e:  # pandas found no Parquet engine
        raise UserError(f"reading {path.name} needs a Parquet engine: pip install pyarrow") from e
    except (OSError, ValueError, UnicodeDecodeError) as e:  # ParserError etc. are ValueErrors
        raise UserError(
            f"cannot read benchmark table {path.name} ({type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''}); give a CSV or .parquet file "
            "with an NB201 architecture-string column"
        ) from e


def _is_arch_column(values: pd.Series) -> bool:
    values = values.dropna()
    if values.empty or pd.api.types.is_numeric_dtype(values):
        return False
    return bool(values.astype(str).str.strip().str.fullmatch(ARCH_RE).all())


class TableBenchmark(RowTable):
    """Reads a CSV / Parquet table: one arch-string column plus any of our accuracy columns.

    ``space`` names the search space whose ``arch`` strings key the table (default nb201).
    ``arch_column`` names the arch-string column (default: the one column whose values all look
    like NB201 strings). ``columns`` maps our names to the table's (``{cifar10_test: acc}``);
    without it a column is taken when it carries our name or a known alias. ``index_column``
    (default: a column named benchmark_index, arch_index or index) gives ``benchmark_index``.
    """

    name = "table"

    def __init__(
        self, path=None, arch_column=None, columns=None, index_column=None, space: str = "nb201"
    ):
        self.spaces = (str(space),)  # e.g. nb1shot1 for a NAS-Bench-101 table keyed by hash
        path = require_path(path, "table", "csv or parquet file")
        self.source = str(path)
        df = _read(path)
        where = f"benchmark table {path.name}"

        arch_col = self._arch_column(df, arch_column, where)
        mapping = accuracy_columns(df, columns, where, ALIASES)
        index_col = self._index_column(df, index_column, where)

        df = df[df[arch_col].notna()]  # blank lines / footers
        archs = df[arch_col].astype(str).str.strip()
        dup = archs[archs.duplicated()]
        if len(dup):
            raise UserError(
                f"{where} lists architecture {dup.iloc[0]} more than once; "
                "keep one row per architecture"
            )
        out = pd.DataFrame({"benchmark_index": math.nan}, index=df.index)
        for ours, theirs in mapping.items():
            try:
                out[ours] = pd.to_numeric(df[theirs]).astype(float)
            except (ValueError, TypeError) as e:
                raise UserError(
                    f"{where}: column {theirs!r} (for {ours}) is not numeric; "
                    "fix the table or benchmark.columns"
                ) from e
        if index_col is not None:
            out["benchmark_index"] = pd.to_numeric(df[index_col], errors="coerce")
        # Accuracies are in percent everywhere else; a table of fractions would pass silently.
        acc = out[list(mapping)].to_numpy()
        acc = acc[~pd.isna(acc)]
        if acc.size and (acc <= 1.0).all():
            log.warning("%s: every accuracy is <= 1; expected percent, not fractions", where)

        self._rows = {}
        for arch, record in zip(archs, out.to_dict("records"), strict=True):
            row = empty_row()
            row.update(record)
            if not math.isnan(row["benchmark_index"]):
                row["benchmark_index"] = int(row["benchmark_index"])
            self._rows[arch] = row
        log.info("%s: %d architectures, columns %s", where, len(self._rows), mapping)

    @staticmethod
    def _arch_column(df, arch_column, where) -> str:
        if arch_column is not None:
            if arch_column not in df.columns:
                raise UserError(
                    f"{where} has no column {arch_column!r}; "
                    f"fix benchmark.arch_column (columns: {list(df.columns)})"
                )
            return arch_column
        hits = [c for c in df.columns if _is_arch_column(df[c])]
        if not hits:
            raise UserError(
                f"{where} has no architecture column (NB201 strings like "
                "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|); set benchmark.arch_column="
            )
        if len(hits) > 1:
            raise UserError(
                f"{where} has several architecture columns {hits}; "
                "pick one with benchmark.arch_column="
            )
        return hits[0]

    @staticmethod
    def _index_column(df, index_column, where):
        if index_column is not None:
            if index_column not in df.columns:
                raise UserError(
                    f"{where} has no column {index_column!r}; fix benchmark.index_column"
                )
            return index_column
        return next((c for c in INDEX_NAMES if c in df.columns), None)
