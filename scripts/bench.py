#!/usr/bin/env python
"""Speed and memory of FreeDARTS searches on this machine (not a unit test).

Runs the real search path (``runner.search``: supernet construction + scoring + pruning) for
each case several times in this process and reports the median ``search_seconds`` and the peak
resident memory, next to the targets of the issue that set them. All cases run in one process,
interleaved, so ratios between them hold even on a noisy machine.

    python scripts/bench.py                     # NB201 SynFlow one-shot and iterative, 5 reps
    python scripts/bench.py --reps 9 --threads 1
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from freedarts_cli import runner  # noqa: E402
from freedarts_cli.cli import config_dir  # noqa: E402

# (name, overrides, target seconds)
CASES = [
    ("nb201 synflow oneshot", ["space=nb201", "scorer=synflow", "pruning=oneshot"], 0.3),
    ("nb201 synflow iterative", ["space=nb201", "scorer=synflow", "pruning=iterative"], 4.0),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--only", default="", help="run only cases whose name contains this")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cases = [c for c in CASES if args.only in c[0]]
    seconds: dict[str, list[float]] = {name: [] for name, _, _ in cases}
    memory: dict[str, float] = {name: 0.0 for name, _, _ in cases}
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        configs = {name: compose("search", overrides=ov + ["benchmark=none"])
                   for name, ov, _ in cases}
        for rep in range(args.reps):
            for name, _, _ in cases:
                cfg = configs[name].copy()
                cfg.seed = rep
                row = runner.search(cfg).row
                seconds[name].append(row["search_seconds"])
                memory[name] = max(memory[name], row["peak_memory_mb"])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {args.reps} reps, "
          "seeds 0..reps-1; search_seconds = construction + scoring + pruning")
    print("| case | median s | min s | max s | target s | peak RSS MB |")
    print("|---|---|---|---|---|---|")
    ok = True
    for name, _, target in cases:
        s = seconds[name]
        med = statistics.median(s)
        ok &= med <= target
        print(f"| {name} | {med:.3f} | {min(s):.3f} | {max(s):.3f} | {target} | {memory[name]:.0f} |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
