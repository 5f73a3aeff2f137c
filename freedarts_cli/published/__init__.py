"""Published NAS-Bench-201 results, as data, and the groups of our runs that reproduce them.

``values.csv`` holds every number of the tables we reproduce, one record per
(paper table, row, column), copied from ``shared/docs/PAPER_TABLES.md`` (the transcription of the
papers; each record's ``source`` names the paper and its table number):

========  ===================================================================================
table     our table id (``conf_table1``, ``journal_table2``, ... = the YAML file of that name)
section   a block of rows inside the paper's table (Zero-Cost-PT Table 2; Tables III-V)
row       row id; ``label`` is the row's label as printed
column    column id (defined with its metric in the table's YAML)
printed   the cell exactly as printed (``-`` = not reported)
value     the number, as printed (empty where the paper prints ``-``)
std       the ``±`` value when one is printed, else empty
unit      ``accuracy`` (%), ``error`` (%), ``seconds``, ``gpu_seconds`` or ``text``
quoted    ``true`` for rows we do not run: training-based NAS quoted from the literature,
          training-free methods not implemented here, the benchmark's optimum
source    paper and table number
========  ===================================================================================

Each ``<table id>.yaml`` beside it gives the table's columns (which result column each one is) and,
for every row we reproduce, the filters that pick our runs (``match``: result columns that must
equal the values; ``setting``: the published setting, preferred when present; ``run``: the row of
``conf/experiment/row/`` whose runs these are). A row of ours that the paper does not print (e.g.
textbook GraSP-α beside the authors' variant in ``conf_table2``) says ``ours_only: true``: its
records in ``values.csv`` are printed ``-`` with no value, and their ``source`` says "not in".
Units are kept as published: the Zero-Cost-PT tables are test *error*, and ours are converted to
``100 - accuracy`` for them (the std is unchanged), so that every cell compares like with like.
"""

from __future__ import annotations

import functools
from importlib import resources

import pandas as pd
import yaml

from ..errors import UserError

UNITS = ("accuracy", "error", "seconds", "gpu_seconds", "size", "text")


def _files():
    return resources.files(__name__)


@functools.lru_cache(maxsize=1)
def _values() -> pd.DataFrame:
    with _files().joinpath("values.csv").open("r", encoding="utf-8") as fh:
        df = pd.read_csv(fh, dtype=str, keep_default_na=False)
    df["quoted"] = df["quoted"].str.lower() == "true"
    df["value_f"] = pd.to_numeric(df["value"].replace("", None), errors="coerce")
    df["std_f"] = pd.to_numeric(df["std"].replace("", None), errors="coerce")
    return df


def values(table: str | None = None) -> pd.DataFrame:
    """The published records (``value_f`` / ``std_f`` are the numbers as floats, NaN if none)."""
    df = _values()
    return (df if table is None else df[df.table == table]).copy()


def table_ids() -> list[str]:
    return sorted(p.name[:-5] for p in _files().iterdir() if p.name.endswith(".yaml"))


@functools.cache
def _spec(table: str) -> dict:
    with _files().joinpath(f"{table}.yaml").open("r", encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def spec(table: str) -> dict:
    """The table's columns and row mapping (see the module docstring)."""
    table = str(table)
    if table not in table_ids():
        raise UserError(
            f"table={table} is not a published table: use one of {', '.join(table_ids())}"
        )
    return _spec(table)


# The proxy-correlation tables (``correlations.csv``): one record per (table, proxy, dataset,
# metric); ``proxy`` is our proxy name, ``label`` the paper's. See CORRELATION_TABLES.
CORRELATION_TABLES = {
    "report_table1": "Student report Table I: Spearman ρ with test accuracy, all 15,625 archs",
    "report_table2": "Student report Table II: Spearman ρ over the top 10 % of archs",
    "vkdnw_table1": "VKDNW (Tybl & Neumann, CVPR 2025) Table 1: independent re-run of the "
    "proxies over all 15,625 NB201 archs, authors' code, 5 runs",
    "suite_zero_darts": "NAS-Bench-Suite-Zero's proxy values on the same 500 DARTS (NB301) "
    "architectures: Spearman ρ with CIFAR-10 validation accuracy",
    "suite_zero_nb101": "NAS-Bench-Suite-Zero's proxy values on the same 500 NAS-Bench-101 "
    "architectures: Spearman ρ with CIFAR-10 validation accuracy",
}
#: The search space each correlation table's architectures come from: a table is shown beside
#: studies of its space only.
CORRELATION_SPACES = {
    "report_table1": "nb201",
    "report_table2": "nb201",
    "vkdnw_table1": "nb201",
    "suite_zero_darts": "darts",
    "suite_zero_nb101": "nb101",
}


def correlation_tables(space: str | None) -> dict[str, str]:
    """The correlation tables (id -> title) published for ``space``'s architectures."""
    return {t: title for t, title in CORRELATION_TABLES.items() if CORRELATION_SPACES[t] == space}


@functools.lru_cache(maxsize=1)
def correlation_values() -> pd.DataFrame:
    """The published correlations: table, proxy, label, dataset, metric, value, std, source."""
    with _files().joinpath("correlations.csv").open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh)
