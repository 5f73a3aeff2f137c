#!/usr/bin/env python
"""float32 against float64 for the label-dependent FreeDARTS scores (issue 9, point 3).

For each seed, the same supernet (weights and α drawn in float64, then rounded for float32) and
the same batch of real CIFAR-10 images are scored in both precisions; the script prints whether
one-shot discretisation picks the same architecture, and the largest relative difference of any
op's score. ``docs/numerics.md`` quotes its output.

    python scripts/numerics_study.py --scorer snip --seeds 10
    python scripts/numerics_study.py --scorer grasp --data-root /data/cifar
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from freedarts_cli.data import CIFAR  # noqa: E402
from freedarts_cli.scorer import GraSP, Snip  # noqa: E402
from freedarts_cli.spaces.nb201 import NB201Space  # noqa: E402

SCORERS = {"snip": Snip, "snip_random_labels": lambda: Snip(random_labels=True), "grasp": GraSP}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scorer", choices=sorted(SCORERS), default="snip")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--a", type=float, default=1e-3)
    parser.add_argument(
        "--data-root", default=str(REPO.parent / "shared" / "data" / "cifar10_subset")
    )
    args = parser.parse_args()
    data, scorer, space = CIFAR("cifar10", args.data_root, 64), SCORERS[args.scorer](), NB201Space()
    cpu, same = torch.device("cpu"), 0
    for seed in range(args.seeds):
        archs, scores = [], []
        for dtype in (torch.float64, torch.float32):
            torch.manual_seed(seed)
            net = space.build_supernet(args.a, dtype, cpu)
            s = scorer(net, data.batch(seed, dtype, cpu))
            archs.append(space.decode(space.discretise(s, net.mask)))
            scores.append(s)
        rel = ((scores[1] - scores[0]).abs() / scores[0].abs()).nan_to_num(0).max().item()
        same += archs[0] == archs[1]
        print(
            f"{args.scorer} seed {seed}: {'same' if archs[0] == archs[1] else 'DIFFERENT'} "
            f"architecture, largest relative score difference {rel:.1e}  {archs[0]}"
            + ("" if archs[0] == archs[1] else f" vs {archs[1]}"),
            flush=True,
        )
    print(f"{args.scorer}: float32 picks float64's architecture on {same}/{args.seeds} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
