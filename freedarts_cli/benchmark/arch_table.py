"""``benchmark=arch_table``: a list of architectures with their trained accuracies.

A CSV (or Parquet) file with the search space's own architecture strings and one or more accuracy
columns, e.g. NAS-Bench-Suite-Zero's two sets in ``../shared/benchmarks/`` (a ``genotype`` column
for ``space=darts``; ``matrix`` and ``ops`` columns for ``space=nb101``) or a set you trained
yourself. ``freedarts correlate`` takes its architectures from this list when the space cannot be
enumerated (``n_archs=all`` means every row).

Every architecture is parsed by the space (``space.parse``) when the file is read and keyed by
``space.decode`` of the result, the one canonical string the space gives that architecture, so
a look-up of what the space decodes always matches however the file spells it (a DARTS node's
two pairs in either order, ``normal_concat=[2, 3, 4, 5]``...). A malformed file is one error
line naming the row, the bad value and the fix.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..errors import UserError
from . import KINDS, empty_row, file_kind, log, require_path
from .table import ALIASES as TABLE_ALIASES
from .table import RowTable, accuracy_columns, shown

#: Accuracy columns found without ``benchmark.columns``: our name -> the names a file may use
#: (compared ignoring case and punctuation), the flat NB201 table's names included. A bare
#: ``val_accuracy`` / ``test_accuracy`` is taken as CIFAR-10's, as in NAS-Bench-Suite-Zero's
#: CIFAR-10 sets; map other datasets explicitly.
ALIASES = {
    ours: (*names, *TABLE_ALIASES[ours])
    for ours, names in {
        "cifar10_valid": ("val_accuracy", "valid_accuracy", "validation_accuracy", "val_acc"),
        "cifar10_test": ("test_accuracy", "test_acc"),
        "cifar100_valid": (),
        "cifar100_test": (),
        "imagenet16_120_valid": (),
        "imagenet16_120_test": (),
    }.items()
}
TEXT_KINDS = ("csv", "text", "gzip", "bz2", "zip")
JOIN = "|"  # several architecture columns (NB101: matrix, ops) are joined by this


class ArchTableBenchmark(RowTable):
    """Reads ``path``: one row per architecture of ``space`` (the space unit itself; the yaml
    passes ``${space}``).

    ``arch_column``: the column holding the architecture string, or a list of columns whose
    values are joined by ``|`` (NB101: ``[matrix, ops]``); default: the space's
    ``table_columns`` when the file has them all, else the one column whose first value the
    space parses. ``columns``: ``{our_name: their_column}`` (our names: ``ACCURACY_COLUMNS``);
    the other accuracy columns are found by name, ours or an alias (``val_accuracy`` ->
    ``cifar10_valid``, ``test_accuracy`` -> ``cifar10_test``; :func:`.table.accuracy_columns`).
    """

    name = "arch_table"

    def __init__(self, path=None, space=None, arch_column=None, columns=None):
        if space is None or not hasattr(space, "parse"):
            raise UserError(
                "benchmark=arch_table needs the search space whose architectures it lists "
                "(benchmark.space=${space}, as conf/benchmark/arch_table.yaml sets it)"
            )
        self.space = space
        self.spaces = (str(space.name),)
        path = require_path(path, "arch_table", "csv or parquet file of architectures")
        self.source = str(path)
        where = f"benchmark table {path.name}"
        df = _read(path, where)
        if df.empty:
            raise UserError(f"{where} has no rows: list one architecture per row")

        arch_cols = self._arch_columns(df, arch_column, where)
        mapping = accuracy_columns(df, columns, where, ALIASES)
        self._rows: dict[str, dict] = {}
        first_line: dict[str, int] = {}
        for line, (_, record) in enumerate(df.iterrows(), start=2):  # line 1 is the header
            parts = [record[c] for c in arch_cols]
            if any(pd.isna(p) or not str(p).strip() for p in parts):
                raise UserError(
                    f"{where}, line {line}: no architecture in {JOIN.join(arch_cols)}; "
                    "fill it or delete the row"
                )
            text = JOIN.join(str(p).strip() for p in parts)
            try:
                key = space.decode(space.parse(text))
            except (ValueError, KeyError, IndexError) as e:
                raise UserError(
                    f"{where}, line {line}: {shown(text)} is not a space={space.name} "
                    f"architecture ({e}); fix the row or benchmark.arch_column"
                ) from None
            if key in first_line:
                raise UserError(
                    f"{where}, lines {first_line[key]} and {line} hold the same architecture "
                    f"{shown(key, 50)}; keep one row per architecture"
                )
            first_line[key] = line
            row = empty_row()
            for ours, theirs in mapping.items():
                row[ours] = _number(record[theirs], where, line, theirs)
            self._rows[key] = row
        values = [r[c] for r in self._rows.values() for c in mapping if not math.isnan(r[c])]
        # accuracies are in percent everywhere else; a table of fractions would pass silently
        if values and max(values) <= 1.0:
            log.warning("%s: every accuracy is <= 1; expected percent, not fractions", where)
        log.info(
            "%s: %d space=%s architectures (column %s), accuracies %s",
            where,
            len(self._rows),
            space.name,
            JOIN.join(arch_cols),
            mapping,
        )

    @staticmethod
    def _named(value) -> list[str]:
        if isinstance(value, str):
            return [value]
        if isinstance(value, Sequence) or hasattr(value, "__iter__"):
            return [str(v) for v in value]
        return [str(value)]

    def _arch_columns(self, df: pd.DataFrame, arch_column, where: str) -> list[str]:
        if arch_column is not None:
            names = self._named(arch_column)
            missing = [c for c in names if c not in df.columns]
            if missing or not names:
                raise UserError(
                    f"{where} has no column {missing[0] if missing else ''!r}; fix "
                    f"benchmark.arch_column (columns: {list(df.columns)})"
                )
            return names
        preferred = list(getattr(self.space, "table_columns", ()))
        if preferred and all(c in df.columns for c in preferred):
            return preferred
        hits = []
        for c in df.columns:
            value = df[c].iloc[0]
            if pd.isna(value):
                continue
            try:
                self.space.parse(str(value).strip())
            except (ValueError, KeyError, IndexError, TypeError):
                continue
            hits.append(c)
        if len(hits) == 1:
            return hits
        if not hits:
            want = JOIN.join(preferred) if preferred else "an architecture string"
            raise UserError(
                f"{where} has no column of space={self.space.name} architectures (looked for "
                f"{want}); name it with benchmark.arch_column=<column>"
            )
        raise UserError(
            f"{where} has several architecture columns {hits}; pick one with benchmark.arch_column="
        )

    def architectures(self) -> list[str]:
        """The file's architectures (canonical strings), in file order."""
        return list(self._rows)


def _number(value, where: str, line: int, column: str) -> float:
    """An accuracy cell: a number, or empty (NaN: left out of the correlations)."""
    if pd.isna(value) or not str(value).strip():
        return math.nan
    try:
        number = float(str(value).strip())
    except ValueError:
        raise UserError(
            f"{where}, line {line}: {column}={shown(value, 30)} is not a number; write the "
            "accuracy in percent (e.g. 93.5) or leave the cell empty"
        ) from None
    if not math.isfinite(number):
        raise UserError(
            f"{where}, line {line}: {column}={value} is not a finite number; write the "
            "accuracy in percent or leave the cell empty"
        )
    return number


def _read(path: Path, where: str) -> pd.DataFrame:
    """The table as text (architecture strings such as NB101 matrices must not become
    numbers), after checking by its first bytes that it is one."""
    parquet = path.suffix.lower() in (".parquet", ".pq")
    try:
        kind = file_kind(path)
    except OSError as e:
        raise UserError(f"cannot read {where} ({e.strerror or e}); fix benchmark.path") from e
    if kind == "empty":
        raise UserError(f"{where} is empty: give a CSV with a header and one row per architecture")
    if (kind == "parquet") != parquet or not (parquet or kind in TEXT_KINDS):
        raise UserError(
            f"{where} is {KINDS[kind]}, not a {'Parquet' if parquet else 'CSV'} table; give a "
            "CSV (or .parquet) file with an architecture column and accuracy columns"
        )
    try:
        if parquet:
            return pd.read_parquet(path).astype(object)
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except ImportError as e:  # pandas found no Parquet engine
        raise UserError(f"reading {path.name} needs a Parquet engine: pip install pyarrow") from e
    except (OSError, ValueError, UnicodeDecodeError) as e:  # ParserError is a ValueError
        first = str(e).splitlines()[0] if str(e) else ""
        raise UserError(
            f"cannot read {where} ({type(e).__name__}: {first}); give a CSV with a header and "
            "one row per architecture"
        ) from e
    if not isinstance(df.index, pd.RangeIndex):
        # pandas makes the leading fields of rows longer than the header an index, silently
        raise UserError(
            f"{where}: rows have more fields than the header ({list(df.columns)}); quote "
            'values that hold commas, e.g. "Genotype(normal=[...], ...)"'
        )
    return df
