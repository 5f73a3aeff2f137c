#!/usr/bin/env python
"""The README's per-run tables of the large spaces: one row per result.csv under the given folders
(DARTS cells in short notation, MobileNet blocks as kernel_expansion), sorted by space and seed.

    python scripts/genotype_table.py outputs/experiments/large_spaces
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from freedarts_cli.tables import collect  # noqa: E402

SHORT = {
    "max_pool_3x3": "max3",
    "avg_pool_3x3": "avg3",
    "skip_connect": "skip",
    "sep_conv_3x3": "sep3",
    "sep_conv_5x5": "sep5",
    "dil_conv_3x3": "dil3",
    "dil_conv_5x5": "dil5",
}
#: MobileNet stage sizes (blocks per stage) for the "/" separators.
MOBILENET_STAGES = [4, 4, 4, 4, 4, 1]


def cell(pairs: list) -> str:
    """DARTS pairs as ``op(input), op(input) / ...``, two per node."""
    nodes = [
        ", ".join(f"{SHORT[op]}({j})" for op, j in pairs[i : i + 2])
        for i in range(0, len(pairs), 2)
    ]
    return " / ".join(nodes)


def blocks(ops: list) -> str:
    """MobileNet ops (``mb7_e3`` -> ``7_e3``) per stage, stages separated by ``/``."""
    names, out, start = [op.removeprefix("mb") for op in ops], [], 0
    for size in MOBILENET_STAGES:
        out.append(" ".join(names[start : start + size]))
        start += size
    return " / ".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+")
    df = collect(parser.parse_args().paths).sort_values(["space", "seed"])
    darts = df[df["space"].str.startswith("darts")]
    if len(darts):
        print(
            "| space | seed | normal cell (node 2 / 3 / 4 / 5) | reduction cell | params M (CIFAR)"
            " | mult-adds M (ImageNet) | search s |"
        )
        print("|---|---|---|---|---|---|---|")
        for _, r in darts.iterrows():
            g = json.loads(r["genotype_json"])
            print(
                f"| {r['space']} | {r['seed']} | {cell(g['normal'])} | {cell(g['reduce'])} | "
                f"{float(r['params_m']):.2f} | {float(r['flops_m']):.0f} | "
                f"{float(r['search_seconds']):.2f} |"
            )
    mobile = df[df["space"] == "mobilenet"]
    if len(mobile):
        print(
            "\n| seed | blocks (kernel_expansion per block, stages separated by /) | params M | "
            "mult-adds M | search s |"
        )
        print("|---|---|---|---|---|")
        for _, r in mobile.iterrows():
            print(
                f"| {r['seed']} | {blocks(json.loads(r['genotype_json']))} | "
                f"{float(r['params_m']):.2f} | {float(r['flops_m']):.0f} | "
                f"{float(r['search_seconds']):.2f} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
