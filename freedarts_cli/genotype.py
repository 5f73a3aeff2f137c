"""Genotypes: the discrete architecture a pruned supernet stands for.

A cell genotype here is one op index per edge (``choice``); :func:`argmax_choice` reads it off a
score tensor, and each space turns it into its own string (NB201: ``|op~0|+|op~0|op~1|+…``).
"""
from __future__ import annotations

import torch


def argmax_choice(scores: torch.Tensor, mask: torch.Tensor) -> list[int]:
    """Per edge, the op with the largest score among those still present (ties: first op)."""
    masked = torch.where(mask, scores, torch.full_like(scores, -torch.inf))
    return [int(row.argmax()) for row in masked]


def nb201_string(choice: list[int], ops: list[str], nodes: int = 4) -> str:
    """NAS-Bench-201's architecture string for edges ordered ``1<-0, 2<-0, 2<-1, 3<-0, …``."""
    parts, e = [], 0
    for i in range(1, nodes):
        parts.append("|" + "|".join(f"{ops[choice[e + j]]}~{j}" for j in range(i)) + "|")
        e += i
    return "+".join(parts)


def parse_nb201(arch: str, ops: list[str]) -> list[int]:
    """Inverse of :func:`nb201_string` (a ValueError on a malformed string)."""
    choice = []
    for i, node in enumerate(arch.split("+"), start=1):
        entries = [x for x in node.split("|") if x]
        if len(entries) != i:
            raise ValueError(f"node {i} of {arch!r} has {len(entries)} inputs, expected {i}")
        for j, entry in enumerate(entries):
            op, _, src = entry.partition("~")
            if op not in ops or src != str(j):
                raise ValueError(f"bad entry {entry!r} in {arch!r}")
            choice.append(ops.index(op))
    return choice
