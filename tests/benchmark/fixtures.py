"""Builders of tiny benchmark sources in the official on-disk formats (METHOD.md §4).

Both official formats hold, per architecture and training schedule, an ``ArchResults`` state::

    {'arch_index', 'arch_str', 'clear_net_done',
     'all_results': {(dataset, seed): ResultsCount state}, 'dataset_seed': {dataset: [seeds]}}

which the packages turn back into objects with ``ArchResults.create_from_state_dict`` (it only
sets attributes from the dicts), so plain dicts written here are read by the real APIs.
"""

from __future__ import annotations

import bz2
import math
import pickle
from pathlib import Path

import numpy as np
import torch

ARCHS = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "|skip_connect~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|",
)
MISSING_ARCH = (
    "|nor_conv_1x1~0|+"
    "|nor_conv_1x1~0|nor_conv_1x1~1|+"
    "|nor_conv_1x1~0|nor_conv_1x1~1|nor_conv_1x1~2|"
)

# The sets each dataset is evaluated on in the official files.
EVAL_SETS = {
    "cifar10-valid": ("x-valid", "ori-test"),
    "cifar10": ("ori-test",),
    "cifar100": ("x-valid", "x-test", "ori-test"),
    "ImageNet16-120": ("x-valid", "x-test", "ori-test"),
}
DATASETS = tuple(EVAL_SETS)
BASE = {"cifar10-valid": 84.0, "cifar10": 88.0, "cifar100": 60.0, "ImageNet16-120": 30.0}
CLASSES = {"cifar10-valid": 10, "cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}
# Unequal shifts, so the mean of two seeds differs from each seed's value and from their max.
SEED_SHIFT = {777: 0.5, 888: -1.5}
NATS_DIR = "NATS-tss-v1_0-3ffb9-simple"
NB201_FILE = "NAS-Bench-201-v1_1-096897.pth"


def seeds_of(index: int) -> tuple:
    """Even archs were trained twice, odd ones once (the real files mix both)."""
    return (777, 888) if index % 2 == 0 else (777,)


def accuracy(index: int, dataset: str, eval_set: str, seed: int, epochs: int = 200) -> float:
    """The accuracy (%) written for one trial at its last epoch; all values are exact floats."""
    acc = BASE[dataset] + 2.0 * index + {"x-valid": 0.0, "x-test": 1.0, "ori-test": 3.0}[eval_set]
    if epochs != 200:
        acc -= 20.0  # the 12-epoch records must never leak into a hp='200' query
    return acc + SEED_SHIFT[seed]


def expected_row(index: int, datasets=DATASETS) -> dict:
    """What query(ARCHS[index]) must return: 200-epoch means over seeds, NaN where absent."""

    def mean(dataset, eval_set):
        if dataset not in datasets:
            return math.nan
        seeds = seeds_of(index)
        return sum(accuracy(index, dataset, eval_set, s) for s in seeds) / len(seeds)

    return {
        "benchmark_index": index,
        "cifar10_valid": mean("cifar10-valid", "x-valid"),
        "cifar10_test": mean("cifar10", "ori-test"),
        "cifar100_valid": mean("cifar100", "x-valid"),
        "cifar100_test": mean("cifar100", "x-test"),
        "imagenet16_120_valid": mean("ImageNet16-120", "x-valid"),
        "imagenet16_120_test": mean("ImageNet16-120", "x-test"),
    }


def results_count_state(index: int, dataset: str, seed: int, epochs: int) -> dict:
    """One trial (a ``ResultsCount`` state): per-epoch training logs, evaluation at the end."""
    last = epochs - 1
    evals = {name: accuracy(index, dataset, name, seed, epochs) for name in EVAL_SETS[dataset]}
    return {
        "name": dataset,
        "net_state_dict": None,  # the "simple" archives carry no weights
        "train_acc1es": {e: 99.0 for e in range(epochs)},
        "train_acc5es": None,
        "train_losses": {e: 0.01 for e in range(epochs)},
        "train_times": {e: 10.0 for e in range(epochs)},
        "arch_config": {
            "name": "infer.tiny",
            "channel": 16,
            "num_cells": 5,
            "arch_str": ARCHS[index],
            "class_num": CLASSES[dataset],
        },
        "params": 0.5,
        "flop": 80.0,
        "latency": [0.01],
        "seed": seed,
        "epochs": epochs,
        "eval_names": list(evals),
        "eval_acc1es": {f"{name}@{last}": acc for name, acc in evals.items()},
        "eval_losses": {f"{name}@{last}": 0.5 for name in evals},
        # get_eval sums the evaluation times of every epoch up to the one asked for.
        "eval_times": {f"{name}@{e}": 1.0 for name in evals for e in range(epochs)},
    }


def arch_results_state(index: int, datasets, epochs: int) -> dict:
    """All trials of one architecture under one schedule (an ``ArchResults`` state)."""
    seeds = seeds_of(index)
    return {
        "arch_index": index,
        "arch_str": ARCHS[index],
        "all_results": {
            (d, s): results_count_state(index, d, s, epochs) for d in datasets for s in seeds
        },
        "dataset_seed": {d: list(seeds) for d in datasets},
        "clear_net_done": True,
    }


def with_numpy_scalars(state: dict) -> dict:
    """An ``ArchResults`` state whose trials' ``params``/``flop`` are numpy float64 scalars, as
    in the official files (counted with numpy; torch >= 2.6's weights_only load refuses them)."""
    for trial in state["all_results"].values():
        trial["params"], trial["flop"] = np.float64(trial["params"]), np.float64(trial["flop"])
    return state


def _save_pbz2(obj, path: Path) -> None:
    with bz2.BZ2File(path, "wb") as f:
        pickle.dump(obj, f, protocol=4)


def build_nats_dir(root, datasets=DATASETS) -> Path:
    """A NATS-Bench tss fast-mode directory: meta.pickle.pbz2 + {index:06d}.pickle.pbz2 files."""
    folder = Path(root) / NATS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    _save_pbz2(
        {
            "meta_archs": list(ARCHS),
            "total_archs": len(ARCHS),
            "arch2infos": None,
            "evaluated_indexes": set(),
        },
        folder / "meta.pickle.pbz2",
    )
    for i in range(len(ARCHS)):
        _save_pbz2(
            {
                "12": with_numpy_scalars(arch_results_state(i, datasets, 12)),
                "200": with_numpy_scalars(arch_results_state(i, datasets, 200)),
            },
            folder / f"{i:06d}.pickle.pbz2",
        )
    return folder


def build_nb201_pth(root, datasets=DATASETS, evaluated=None, name=NB201_FILE, legacy=True) -> Path:
    """A NAS-Bench-201 .pth file; ``evaluated`` limits which listed archs have results.

    Written as the official files were (2020, torch 1.x): the legacy, non-zip ``torch.save``
    format, protocol 2, numpy scalars inside; ``legacy=False``: today's zip format."""
    evaluated = range(len(ARCHS)) if evaluated is None else evaluated
    data = {
        "meta_archs": list(ARCHS),
        "arch2infos": {
            i: {
                "less": with_numpy_scalars(arch_results_state(i, datasets, 12)),
                "full": with_numpy_scalars(arch_results_state(i, datasets, 200)),
            }
            for i in evaluated
        },
        "evaluated_indexes": set(evaluated),
    }
    path = Path(root) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(data, path, _use_new_zipfile_serialization=not legacy)
    return path
