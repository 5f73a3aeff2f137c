#!/usr/bin/env python
"""Which NB201 operations the found cells use: per (method, scorer, pruning) group of runs, how
many of the 6 × n edges hold each op, and every seed's cell with its CIFAR-10 test accuracy.
The evidence behind a "where we differ" line (docs/reproduction.md).

    python scripts/op_counts.py outputs/experiments/journal_table3 outputs/experiments/conf_table2
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from freedarts_cli.tables import collect

OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
SHORT = {
    "none": "0",
    "skip_connect": "s",
    "nor_conv_1x1": "1",
    "nor_conv_3x3": "3",
    "avg_pool_3x3": "p",
}


def edge_ops(arch: str) -> list[str]:
    """The six ops of an NB201 string ``|op~0|+|op~0|op~1|+|...|``, edge order 1<-0 ... 3<-2."""
    return [tok.split("~")[0] for tok in arch.replace("+", "").split("|") if tok]


def main(paths: list[str]) -> int:
    if not any(Path(p).rglob("result.csv") for p in paths):
        print(f"no result.csv under {' '.join(paths)}", file=sys.stderr)
        return 2
    df = collect(paths)  # result.csv files and the selections.csv rows beside them
    # BaLeNAS runs: one group per M (mc_samples) and per BaLeNAS-TF sample size
    extra = [c for c in ("mc_samples", "n_samples") if c in df.columns]
    df = df[df["space"] == "nb201"].drop_duplicates(
        ["method", "scorer", "pruning", "seed", "a", "data", "dtype", *extra]
    )
    group = ["method", "scorer", "pruning", "data", *extra]
    print(
        f"| {' | '.join(group)} | n | " + " | ".join(OPS) + " | cells (seed: ops, CIFAR-10 test) |"
    )
    print("|" + "---|" * (len(group) + 1 + len(OPS) + 1))
    for key, g in df.sort_values("seed").groupby(group, dropna=False):
        counts = Counter(op for arch in g["arch"] for op in edge_ops(arch))
        cells = ", ".join(
            f"{s}: {''.join(SHORT[o] for o in edge_ops(a))} {t:.2f}"
            for s, a, t in zip(g["seed"], g["arch"], g["cifar10_test"], strict=True)
        )
        key = ["–" if k != k else (f"{k:g}" if isinstance(k, float) else k) for k in key]
        print(
            f"| {' | '.join(map(str, key))} | {len(g)} | "
            + " | ".join(str(counts[o]) for o in OPS)
            + f" | {cells} |"
        )
    print(
        "\ncells: one letter per edge (1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2): 0 none, s skip, "
        "1 conv 1x1, 3 conv 3x3, p avg pool"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["outputs"]))
