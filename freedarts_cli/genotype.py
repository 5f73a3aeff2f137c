"""Genotypes: the discrete architecture a pruned supernet stands for.

A choice is one op index per α row; each space turns it into its own genotype: NB201's string
``|op~0|+|op~0|op~1|+…``, or DARTS' :class:`Genotype` (``str()`` of it is what the DARTS code base
prints, :func:`parse_genotype` reads it back).
"""
from __future__ import annotations

import ast
import json
from typing import NamedTuple, Sequence

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


# --- DARTS genotypes ------------------------------------------------------------------------

class Genotype(NamedTuple):
    """DARTS' genotype: per cell type, two ``(op, input)`` pairs per intermediate node (inputs
    0, 1 are the two previous cells' outputs, 2.. the earlier nodes) and the nodes concatenated."""

    normal: list
    normal_concat: Sequence[int]
    reduce: list
    reduce_concat: Sequence[int]

    def __str__(self) -> str:
        """The DARTS code base's own ``repr``: paste it into any DARTS-style training script."""
        return (f"Genotype(normal={list(self.normal)!r}, normal_concat={_concat(self.normal_concat)}, "
                f"reduce={list(self.reduce)!r}, reduce_concat={_concat(self.reduce_concat)})")

    def to_json(self) -> str:
        return json.dumps({"normal": [list(p) for p in self.normal],
                           "normal_concat": list(self.normal_concat),
                           "reduce": [list(p) for p in self.reduce],
                           "reduce_concat": list(self.reduce_concat)})


def _concat(nodes: Sequence[int]) -> str:
    nodes = list(nodes)
    if nodes and nodes == list(range(nodes[0], nodes[-1] + 1)):
        return f"range({nodes[0]}, {nodes[-1] + 1})"
    return repr(nodes)


def parse_genotype(text: str, ops: Sequence[str]) -> Genotype:
    """Read ``Genotype(normal=[('sep_conv_3x3', 0), …], normal_concat=range(2, 6), …)`` without
    evaluating it (only literals and ``range`` are accepted); a ValueError names what is wrong."""
    try:
        call = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as e:
        raise ValueError(f"not a Genotype(...) expression: {e.msg}") from None
    if not (isinstance(call, ast.Call) and getattr(call.func, "id", None) == "Genotype"):
        raise ValueError("expected Genotype(normal=[...], normal_concat=..., reduce=[...], "
                         "reduce_concat=...)")
    fields = {k.arg: k.value for k in call.keywords}
    missing = [f for f in Genotype._fields if f not in fields]
    if call.args or missing:
        raise ValueError(f"Genotype needs the keyword fields {', '.join(Genotype._fields)}"
                         + (f" (missing: {', '.join(missing)})" if missing else ""))
    values = {}
    for name in ("normal", "reduce"):
        pairs = ast.literal_eval(fields[name])
        if not isinstance(pairs, (list, tuple)) or not pairs or len(pairs) % 2:
            raise ValueError(f"{name} must list two (op, input) pairs per node")
        for pair in pairs:
            if (not isinstance(pair, (list, tuple)) or len(pair) != 2 or pair[0] not in ops
                    or not isinstance(pair[1], int)):
                raise ValueError(f"bad {name} entry {pair!r}: expected (op, input) with op one "
                                 f"of {', '.join(ops)}")
        for i, (_, src) in enumerate(pairs):
            if not 0 <= src < 2 + i // 2:
                raise ValueError(f"{name} node {2 + i // 2} cannot read input {src}")
        values[name] = [tuple(p) for p in pairs]
    for name in ("normal_concat", "reduce_concat"):
        node = fields[name]
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "range":
            nodes = list(range(*[ast.literal_eval(a) for a in node.args]))
        else:
            nodes = list(ast.literal_eval(node))
        if not nodes or not all(isinstance(n, int) for n in nodes):
            raise ValueError(f"{name} must be range(2, 6) or a list of node numbers")
        values[name] = nodes
    return Genotype(**values)
