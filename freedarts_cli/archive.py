"""A proxy study kept in the repository: the per-architecture values of ``freedarts correlate``
runs as one small compressed folder, merged across shards and sessions.

A whole-space study (every NB201 architecture × every proxy) takes longer than one session, a
background job ends with its session, and run folders under ``outputs/`` are not committed. So:

* :func:`pack` merges the ``proxy_scores.csv`` of run folders (and what the archive already
  holds) into ``<archive>/proxy_scores/<proxy>.csv.xz``, one ``arch, seed, value, seconds``
  table per proxy, with the ``accuracies.csv`` and ``proxies.csv`` beside it, each written
  atomically; a ``dedup`` study's copied rows become one line each of ``copies.csv.gz``
  (:func:`split_copies`), which reading expands. One file per proxy keeps each file small and
  the history short: a pack rewrites only the proxies that gained rows;
* :func:`unpack` writes the archive's rows into a run folder's ``proxy_scores.csv`` (those not
  there yet), so that ``freedarts correlate`` into that folder resumes where the archive stops;
* ``freedarts tables <archive>`` reads the archive as it reads a run folder: the correlation
  tables regenerate from it without rescoring.

Values are written with Python's shortest round-trip float repr, so a packed and unpacked value
is bit-identical to the scored one. Seconds keep 3 significant digits: the timings of a shared
2-core machine vary far more than that between runs.
"""

from __future__ import annotations

import gzip
import io
import logging
import lzma
import math
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from .correlation import (
    ACCURACY_TABLE,
    ARCHIVE_SUFFIX,
    ARCHIVE_TABLE,
    COPY_TABLE,
    PROXY_TABLE,
    SCORE_COLUMNS,
    SCORE_TABLE,
    find,
    read_scores,
    score_tables,
    study_space,
    study_units,
)
from .errors import UserError
from .results import atomic

log = logging.getLogger("freedarts.archive")

GZ = ".gz"


def _frames(folders: Iterable, name: str) -> list[pd.DataFrame]:
    files = find(folders, name) + find(folders, name + GZ)
    return [pd.read_csv(f, dtype={"arch": str}) for f in files]


def _replace(path: Path, data: bytes) -> None:
    # an unchanged table is not rewritten: a pack touches only the proxies that gained rows
    if not (path.is_file() and path.read_bytes() == data):
        with atomic(path, "wb") as fh:
            fh.write(data)


def _write_gz(path: Path, df: pd.DataFrame) -> None:
    # mtime=0: the same rows give the same bytes, so an unchanged archive is no git change;
    # GzipFile, not gzip.compress, whose header names the OS (03 on Linux, not ff) and so
    # would differ by platform and rewrite every archived .gz
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz:
        gz.write(df.to_csv(index=False).encode())
    _replace(path, buffer.getvalue())


def _write_xz(path: Path, df: pd.DataFrame) -> None:
    # xz: a quarter smaller than gzip on these tables
    _replace(path, lzma.compress(df.to_csv(index=False).encode(), preset=9 | lzma.PRESET_EXTREME))


def _seconds(value: float) -> float:
    return float(f"{value:.3g}")


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def split_copies(scores: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows to store, and the lines (``arch, seed, source, proxies``) that stand for the
    rest: the ``dedup`` copies (rows without seconds) of one architecture and seed that repeat,
    proxy by proxy, the values of one scored architecture of its isomorphism class (the space's
    ``canonical``) are stored as one line naming that architecture and the proxies (space
    separated). NB201's whole space: 6,466 scored networks, so the table keeps 41 % of its
    rows."""
    none = pd.DataFrame(columns=["arch", "seed", "source", "proxies"])
    unit = study_units().get(study_space(scores) or "")
    copied = scores["seconds"].isna()
    if unit is None or not hasattr(unit, "canonical") or not copied.any():
        return scores, none
    space = unit()
    key = {a: space.canonical(space.parse(a)) for a in scores["arch"].unique()}
    scored: dict[tuple, dict[str, float]] = {}
    for a, p, seed, v in scores.loc[~copied, ["arch", "proxy", "seed", "value"]].itertuples(
        index=False
    ):
        scored.setdefault((key[a], p, int(seed)), {})[a] = v
    lines, covered = [], []
    for (arch, seed), rows in scores[copied].groupby(["arch", "seed"], sort=True):
        sources: set[str] | None = None
        for p, v in rows[["proxy", "value"]].itertuples(index=False):
            same = scored.get((key[arch], p, int(seed)), {})
            match = {a for a, w in same.items() if _same(v, w)}
            sources = match if sources is None else sources & match
            if not sources:
                break
        if sources:
            lines.append((arch, int(seed), min(sources), " ".join(sorted(rows["proxy"]))))
            covered.append(rows.index)
    copies = pd.DataFrame(lines, columns=none.columns)
    drop = pd.Index([]).append(covered) if covered else pd.Index([])
    return scores.drop(index=drop), copies


def pack(folders: Iterable, archive: Path) -> int:
    """Merge the score tables under ``folders`` into ``archive`` (created if absent); returns the
    number of (arch, proxy, seed) rows it holds. Rows already in the archive win over new copies
    of the same key (a value never changes once scored)."""
    archive = Path(archive)
    sources = [archive, *map(Path, folders)] if archive.is_dir() else list(map(Path, folders))
    # the archive's own tables first: of two scored rows of a key read_scores keeps the first
    # table's (a dedup copy loses to a scored row anyway), and score_tables lists run folders first
    score_files = sorted(score_tables(sources), key=lambda path: path.name != ARCHIVE_TABLE)
    if not score_files:
        raise UserError(
            f"no {SCORE_TABLE} under {', '.join(map(str, folders))}: give the folders of "
            "freedarts correlate runs"
        )
    scores = read_scores(score_files)
    scores = scores.sort_values(["arch", "proxy", "seed"], kind="stable")
    kept, copies = split_copies(scores)
    tables = archive / ARCHIVE_TABLE
    tables.mkdir(parents=True, exist_ok=True)
    # copies first: a pack killed between the two leaves the old tables, whose own rows win
    if len(copies):
        _write_gz(archive / COPY_TABLE, copies)
    for proxy, rows in kept.groupby("proxy", sort=True):
        rows = rows.drop(columns="proxy").assign(seconds=rows["seconds"].map(_seconds))
        _write_xz(tables / f"{proxy}{ARCHIVE_SUFFIX}", rows)
    if not len(copies):
        (archive / COPY_TABLE).unlink(missing_ok=True)
    accuracy = _frames(sources, ACCURACY_TABLE)
    if accuracy:
        merged = pd.concat(accuracy).drop_duplicates("arch").sort_values("arch", kind="stable")
        _write_gz(archive / (ACCURACY_TABLE + GZ), merged)
    proxies = _frames(sources, PROXY_TABLE)
    if proxies:
        merged = pd.concat(proxies).drop_duplicates("proxy").sort_values("proxy", kind="stable")
        with atomic(archive / PROXY_TABLE) as fh:
            merged.to_csv(fh, index=False)
    log.info("%s: %d rows, %d architectures", archive, len(scores), scores["arch"].nunique())
    return len(scores)


def unpack(archive: Path, folder: Path) -> int:
    """Append to ``folder/proxy_scores.csv`` every archived row it does not hold yet; returns how
    many were added. ``freedarts correlate`` into ``folder`` then skips them."""
    source = Path(archive) / ARCHIVE_TABLE
    if not source.is_dir():
        raise UserError(f"{source} does not exist: give a folder written by pack")
    archived = read_scores([source])
    target = Path(folder) / SCORE_TABLE
    have = read_scores([target]) if target.is_file() else archived.iloc[:0]
    done = set(zip(have["arch"], have["proxy"], have["seed"].astype(int), strict=True))
    keys = zip(archived["arch"], archived["proxy"], archived["seed"].astype(int), strict=True)
    new = archived[[k not in done for k in keys]]
    merged = pd.concat([have, new], ignore_index=True)
    Path(folder).mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    merged[list(SCORE_COLUMNS)].to_csv(buffer, index=False)
    with atomic(target) as fh:
        fh.write(buffer.getvalue())
    return len(new)
