#!/usr/bin/env python
"""Our proxy values against NAS-Bench-Suite-Zero's own, architecture by architecture.

Suite-Zero's per-architecture values ship in NASLib's tree (commit 0b116007,
``naslib/data/zc_nasbench301.json`` and ``zc_nasbench101.json``; not in this repository: give
the path). Their rows are in the order of the shared CSVs (checked: the accuracies must agree
row by row), so each of our architectures meets its own Suite-Zero row. For every proxy both
hold it prints, on the architectures our archive scored: Spearman ρ of ours with accuracy, of
theirs with accuracy on the same rows, and of ours with theirs (≈ 1 when the two compute the
same thing on the same network: how docs/proxy_study.md tells a network difference from a
data difference).

    python scripts/suite_zero_agreement.py --space darts \\
        --table ../shared/benchmarks/nb301/suite_zero_darts_cifar10.csv \\
        --suite-zero NASLib/naslib/data/zc_nasbench301.json --archive results/proxy_study/darts
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from freedarts_cli.benchmark.arch_table import ArchTableBenchmark
from freedarts_cli.correlation import ARCHIVE_TABLE, read_scores, spearman, study_units
from freedarts_cli.errors import UserError

SPACES = {"darts": "nasbench301", "nb101": "nasbench101"}  # our space -> their JSON's key
NAMES = {"jacob_cov": "jacov"}  # ours -> Suite-Zero's, where they differ


def theirs(space: str, table: Path, suite_zero: Path) -> pd.DataFrame:
    """Suite-Zero's values, one row per architecture of ``table`` (indexed by our strings)."""
    key = SPACES[space]
    bench = ArchTableBenchmark(table, space=study_units()[space]())
    archs = bench.architectures()
    try:
        data = json.loads(Path(suite_zero).read_text())[key]["cifar10"]
    except (OSError, ValueError, KeyError) as e:
        raise UserError(
            f"suite_zero={suite_zero} is not NASLib's zc_{key}.json "
            f"({type(e).__name__}: {e}); give naslib/data/zc_{key}.json"
        ) from e
    df = pd.DataFrame(list(data.values()))
    if len(df) != len(archs):
        raise UserError(f"{suite_zero} has {len(df)} rows, {table} {len(archs)}: not the same set")
    ours_acc = np.array([bench.query(a)["cifar10_valid"] for a in archs])
    if not np.allclose(df["val_accuracy"].to_numpy(float), ours_acc, atol=1e-4):
        raise UserError(f"{suite_zero}'s accuracies are not {table}'s, row by row: another order")
    df.index = archs
    return df


def agreement(ours: pd.DataFrame, suite: pd.DataFrame) -> pd.DataFrame:
    """Per proxy: n, ρ(ours, acc), ρ(theirs, acc) on the same rows, ρ(ours, theirs)."""
    rows = []
    for proxy in sorted(ours.columns):
        name = NAMES.get(proxy, proxy)
        if name not in suite.columns:
            continue
        both = pd.concat(
            [ours[proxy].rename("ours"), suite[name].rename("theirs"), suite["val_accuracy"]],
            axis=1,
            join="inner",
        ).dropna()
        both = both[np.isfinite(both["ours"])]
        ours_v, theirs_v, acc = (both[c].to_numpy() for c in ("ours", "theirs", "val_accuracy"))
        rows.append(
            {
                "proxy": proxy,
                "n": len(both),
                "ours~acc": spearman(ours_v, acc),
                "theirs~acc": spearman(theirs_v, acc),
                "ours~theirs": spearman(ours_v, theirs_v),
            }
        )
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", required=True, choices=sorted(SPACES))
    parser.add_argument("--table", required=True, help="the shared CSV the study scored")
    parser.add_argument("--suite-zero", required=True, help="NASLib's zc_nasbench*.json")
    parser.add_argument("--archive", required=True, help="the study's archive folder")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        path = Path(args.archive) / ARCHIVE_TABLE
        if not path.is_dir():
            raise UserError(f"--archive {args.archive} has no {path.name}/: pack a study")
        scores = read_scores([path])
        scores = scores[scores["seed"] == args.seed]
        ours = scores.pivot_table(index="arch", columns="proxy", values="value", aggfunc="first")
        table = agreement(ours, theirs(args.space, Path(args.table), args.suite_zero))
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print("| " + " | ".join(table.columns) + " |")
    print("|---" * len(table.columns) + "|")
    for row in table.itertuples(index=False):
        print(f"| {row[0]} | {row[1]} | " + " | ".join(f"{v:.3f}" for v in row[2:]) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
