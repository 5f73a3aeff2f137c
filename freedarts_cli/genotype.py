"""Genotypes: the discrete architecture a pruned supernet stands for.

A choice is one op index per α row; each space turns it into its own genotype: NB201's string
``|op~0|+|op~0|op~1|+…``, or DARTS' :class:`Genotype` (``str()`` of it is what the DARTS code base
prints, :func:`parse_genotype` reads it back).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Sequence
from typing import NamedTuple

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


# The shape of an NB201 string (any op names): how a table's architecture column is recognised.
NB201_RE = re.compile(r"\|\w+~0\|\+\|\w+~0\|\w+~1\|\+\|\w+~0\|\w+~1\|\w+~2\|")


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
        return (
            f"Genotype(normal={list(self.normal)!r}, normal_concat={_concat(self.normal_concat)}, "
            f"reduce={list(self.reduce)!r}, reduce_concat={_concat(self.reduce_concat)})"
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "normal": [list(p) for p in self.normal],
                "normal_concat": list(self.normal_concat),
                "reduce": [list(p) for p in self.reduce],
                "reduce_concat": list(self.reduce_concat),
            }
        )


def _concat(nodes: Sequence[int]) -> str:
    nodes = list(nodes)
    if nodes and nodes == list(range(nodes[0], nodes[-1] + 1)):
        return f"range({nodes[0]}, {nodes[-1] + 1})"
    return repr(nodes)


#: Intermediate nodes of a DARTS cell (nodes 2..5; 0 and 1 are the two previous cells' outputs).
DARTS_STEPS = 4


def _shown(node: ast.AST) -> str:
    """A field's value as the user wrote it, cut to a readable length."""
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."


def _literal(node: ast.AST, name: str):
    """``ast.literal_eval`` of one field (never evaluates code), a ValueError naming the field."""
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        example = (
            "range(2, 6)"
            if name.endswith("_concat")
            else "[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ...]"
        )
        raise ValueError(
            f"{name}={_shown(node)} is not a literal: write plain values, e.g. use {name}={example}"
        ) from None


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _pairs(name: str, node: ast.AST, ops: Sequence[str], steps: int) -> list[tuple[str, int]]:
    """``normal`` / ``reduce``: two ``(op, input)`` pairs per intermediate node, node ``i``
    (2, 3, ...) reading an input below ``i``."""
    want = f"{2 * steps} (op, input) pairs, two per intermediate node 2..{steps + 1}"
    pairs = _literal(node, name)
    if not isinstance(pairs, (list, tuple)):
        raise ValueError(f"{name}={_shown(node)} is not a list of (op, input) pairs: list {want}")
    for k, pair in enumerate(pairs):
        if not (
            isinstance(pair, (list, tuple))
            and len(pair) == 2
            and isinstance(pair[0], str)
            and _is_int(pair[1])
        ):
            raise ValueError(
                f"{name}[{k}]={pair!r} is not an (op, input) pair: write it as "
                f"('sep_conv_3x3', 0), an op name and an input node number"
            )
        if pair[0] not in ops:
            raise ValueError(
                f"{name}[{k}]={pair!r}: op {pair[0]!r} is not known: use one of {', '.join(ops)}"
            )
        node_index, src = 2 + k // 2, pair[1]
        if not 0 <= src < node_index:
            raise ValueError(
                f"{name}[{k}]={pair!r}: node {node_index} cannot read input {src}: "
                f"its inputs are 0..{node_index - 1} (0, 1 the previous cells, "
                f"2.. the earlier nodes)"
            )
    if len(pairs) != 2 * steps:
        nodes = f"{len(pairs) / 2:g} node" + ("" if len(pairs) == 2 else "s")
        raise ValueError(
            f"{name} has {len(pairs)} (op, input) pairs ({nodes}), but the DARTS cell "
            f"has {steps} intermediate nodes: list {want}"
        )
    return [tuple(p) for p in pairs]


def _concat_nodes(name: str, node: ast.AST, steps: int) -> list[int]:
    """``normal_concat`` / ``reduce_concat``: ``range(...)`` or a list of distinct intermediate
    node numbers (2..steps+1); a ``range`` is checked before it is expanded (never a huge list)."""
    fix = f"use {name}=range(2, {2 + steps})"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
        try:
            args = [ast.literal_eval(a) for a in node.args]
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            args = None
        if (
            args is None
            or node.keywords
            or not 1 <= len(args) <= 3
            or not all(_is_int(a) for a in args)
        ):
            raise ValueError(
                f"{name}={_shown(node)} is not a range of node numbers: range takes "
                f"1 to 3 integer literals: {fix}"
            )
        if args[-1] == 0 and len(args) == 3:
            raise ValueError(f"{name}={_shown(node)} has step 0: {fix}")
        values = range(*args)
        if len(values) > steps:  # a lazy range: len() is cheap for any bounds
            raise ValueError(
                f"{name}={_shown(node)} lists {len(values)} nodes, but the cell has "
                f"{steps} intermediate nodes (2..{steps + 1}): {fix}"
            )
        values = list(values)
    else:
        values = _literal(node, name)
        if not (isinstance(values, (list, tuple)) and all(_is_int(v) for v in values)):
            raise ValueError(f"{name}={_shown(node)} is not a range or list of node indices: {fix}")
        values = list(values)
    if not values:
        raise ValueError(f"{name}={_shown(node)} lists no node: {fix}")
    for v in values:
        if not 2 <= v < 2 + steps:
            raise ValueError(
                f"{name}={_shown(node)} names node {v}, which is not an intermediate "
                f"node of the cell (2..{steps + 1}): {fix}"
            )
        if values.count(v) > 1:
            raise ValueError(f"{name}={_shown(node)} lists node {v} twice: {fix}")
    return values


def parse_genotype(text: str, ops: Sequence[str], steps: int = DARTS_STEPS) -> Genotype:
    """Read ``Genotype(normal=[('sep_conv_3x3', 0), …], normal_concat=range(2, 6), …)`` without
    evaluating it (only literals and ``range`` of integer literals are accepted) and check it is a
    cell of ``steps`` intermediate nodes (DARTS: 4): ``normal``/``reduce`` hold exactly two
    ``(op, input)`` pairs per node, node ``i`` reading inputs ``0..i-1``, ops from ``ops``; the
    concats list distinct intermediate nodes. A ValueError names the bad value and the fix."""
    try:
        call = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as e:
        raise ValueError(f"not a Genotype(...) expression: {e.msg}") from None
    except (ValueError, MemoryError, RecursionError) as e:
        raise ValueError(f"not a Genotype(...) expression: {type(e).__name__}") from None
    if not (isinstance(call, ast.Call) and getattr(call.func, "id", None) == "Genotype"):
        raise ValueError(
            "expected Genotype(normal=[...], normal_concat=..., reduce=[...], reduce_concat=...)"
        )
    fields: dict[str, ast.AST] = {}
    for keyword in call.keywords:
        if keyword.arg not in Genotype._fields:
            shown = f"**{_shown(keyword.value)}" if keyword.arg is None else keyword.arg
            raise ValueError(
                f"Genotype has no field {shown}: its fields are {', '.join(Genotype._fields)}"
            )
        if keyword.arg in fields:
            raise ValueError(f"Genotype field {keyword.arg} is given twice: give it once")
        fields[keyword.arg] = keyword.value
    missing = [f for f in Genotype._fields if f not in fields]
    if call.args or missing:
        raise ValueError(
            f"Genotype needs the keyword fields {', '.join(Genotype._fields)}"
            + (f" (missing: {', '.join(missing)})" if missing else "")
        )
    values = {}
    for name in ("normal", "reduce"):
        values[name] = _pairs(name, fields[name], ops, steps)
    for name in ("normal_concat", "reduce_concat"):
        values[name] = _concat_nodes(name, fields[name], steps)
    return Genotype(**values)
