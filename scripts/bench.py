#!/usr/bin/env python
"""Speed and memory of FreeDARTS searches on this machine (not a unit test).

Runs the real search path (``runner.search``: supernet construction + scoring + pruning) for
each case several times in this process and reports the median ``search_seconds`` and the peak
resident memory, next to the targets of the issue that set them. All cases run in one process,
interleaved, so ratios between them hold even on a noisy machine.

    python scripts/bench.py                     # every space, SynFlow one-shot and iterative
    python scripts/bench.py --only nb201 --reps 9 --threads 1

Targets (issues 2 and 4, this 2-core CPU): NB201 one-shot 0.3 s, iterative 4 s; darts one-shot
2 s, darts_20cells 5 s, darts_imagenet 30 s, mobilenet 30 s; iterative within 10x of one-shot;
every case under 8 GB peak memory. The large spaces run fewer repetitions (``--reps`` caps them).
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

MEMORY_TARGET_MB = 8192


def _pair(space: str, oneshot_s: float, reps: int) -> list[tuple]:
    """SynFlow one-shot and iterative on ``space``; iterative's target is 10x one-shot's."""
    over = [f"space={space}", "scorer=synflow"]
    return [(f"{space} synflow oneshot", over + ["pruning=oneshot"], oneshot_s, reps),
            (f"{space} synflow iterative", over + ["pruning=iterative"], 10 * oneshot_s, reps)]


# (name, overrides, target seconds, repetitions)
CASES = [
    ("nb201 synflow oneshot", ["space=nb201", "scorer=synflow", "pruning=oneshot"], 0.3, 5),
    ("nb201 synflow iterative", ["space=nb201", "scorer=synflow", "pruning=iterative"], 4.0, 5),
    *_pair("nb1shot1", 2.0, 5),  # no published target: the NB201 one-shot order of magnitude
    *_pair("darts", 2.0, 5),
    *_pair("darts_20cells", 5.0, 3),
    *_pair("darts_imagenet", 30.0, 3),
    *_pair("mobilenet", 30.0, 3),
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
    seconds: dict[str, list[float]] = {name: [] for name, *_ in cases}
    memory: dict[str, float] = {name: 0.0 for name, *_ in cases}
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        configs = {name: compose("search", overrides=ov + ["benchmark=none"])
                   for name, ov, *_ in cases}
        for rep in range(args.reps):
            for name, _, _, reps in cases:
                if rep >= reps:
                    continue
                cfg = configs[name].copy()
                cfg.seed = rep
                row = runner.search(cfg).row
                seconds[name].append(row["search_seconds"])
                memory[name] = max(memory[name], row["peak_memory_mb"])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {args.reps} reps, "
          "seeds 0..reps-1; search_seconds = construction + scoring + pruning")
    print("| case | runs | median s | min s | max s | target s | peak RSS MB |")
    print("|---|---|---|---|---|---|---|")
    ok = True
    for name, _, target, _ in cases:
        s = seconds[name]
        med = statistics.median(s)
        ok &= med <= target and memory[name] <= MEMORY_TARGET_MB
        print(f"| {name} | {len(s)} | {med:.3f} | {min(s):.3f} | {max(s):.3f} | {target} | "
              f"{memory[name]:.0f} |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
