"""Search methods: FreeDARTS and its training-free rivals, each selected with ``method=``.

A method is an object with ``name``, ``needs_data``, ``dtype`` (its numerics when the run
says ``dtype=null``, the default), ``spaces`` (the spaces it works on, ``None``: all) and
``search(ctx) -> Found``; its config in
``conf/method/`` names the class (``_target_``) and its options. The runner times ``search`` (that
is ``search_seconds``), looks up ``Found.choice`` in the benchmark and writes the CSVs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..data import Batch


@dataclass
class Context:
    """What every method may use: the space unit, the run's seed and numerics, one batch.

    A method that trains also reads ``data`` (the data unit: ``data.search_split()``) and keeps
    its checkpoints in ``out_dir`` (``None``: no checkpoints), tagged with ``run_id`` (the
    config's fingerprint: a checkpoint of another config is never resumed)."""

    space: Any
    seed: int
    a: float
    dtype: torch.dtype
    device: torch.device
    batch: Batch | None = None
    data: Any = None
    out_dir: Path | None = None
    run_id: str = ""


@dataclass
class Found:
    """What a search returns to the runner.

    ``scorer`` and ``pruning`` fill the result columns of the same names (for a rival: its proxy
    and its selection rule), so every method's rows share one schema. ``rounds`` (α-score
    rounds, see :mod:`freedarts_cli.pruner`) become ``scores.csv`` and ``trajectory.csv``;
    ``samples`` (``(choice, score)`` for every architecture a sampling method scored, higher is
    better) become ``samples.csv``; ``extra`` adds method-specific result columns.

    ``selections``: further architectures the same search selects by other rules (BaLeNAS-TF:
    one per proxy and sample size), each a :class:`Found`; they become the rows of
    ``selections.csv``, with the result row's columns. ``tables``: further files
    (``name -> rows``); the runner replaces a row's ``choice`` by its ``arch`` and benchmark
    accuracies, so a method never looks anything up itself.
    """

    choice: list[int]
    scorer: str
    pruning: str
    rounds: list = field(default_factory=list)
    samples: list[tuple[list[int], float]] = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    selections: list[Found] = field(default_factory=list)
    tables: dict[str, list[dict]] = field(default_factory=dict)
