"""NAS-Bench-101 (Ying et al., ICML 2019): the cell space of the proxy study (``space=nb101``).

A cell ("module") is a DAG on at most 7 vertices given by an upper-triangular adjacency matrix
and one label per vertex: ``input``, then ``conv3x3-bn-relu`` / ``conv1x1-bn-relu`` /
``maxpool3x3``, then ``output``. Vertices off every input -> output path are dropped and
isomorphic cells are the same architecture, named by NAS-Bench-101's module hash
(:func:`module_hash`). This module holds what every NAS-Bench-101 cell needs (the pruning, the
hash, the channel rule and the evaluation network) for both spaces that use it: ``space=nb101``
here and NAS-Bench-1Shot1's search space 3 (:mod:`.nb1shot1`).

The architecture string
-----------------------
``<matrix>|<ops>``: the n×n matrix row-major as n² characters ``0``/``1`` and the n labels joined
by commas, e.g. ``0111101000001100000010000110000001100000000000000|input,maxpool3x3,...,output``:
the ``matrix`` and ``ops`` columns of NAS-Bench-Suite-Zero's file side by side, so a table with
those columns is read as is (``benchmark=arch_table``) and :meth:`NB101Space.decode` gives back
exactly the file's two values.

The network (what ``freedarts correlate space=nb101`` scores)
-------------------------------------------------------------
NAS-Bench-101's evaluation network (its ``model_builder.build_module``, ported to PyTorch by
archai's ``algos/nasbench101/model.py``, which NASLib builds for NAS-Bench-Suite-Zero): a 3×3
``conv-BN-ReLU`` stem to ``stem_channels`` (128), ``stacks`` (3) stacks of ``cells_per_stack``
(3) cells, a 2×2 max-pool before every stack but the first with the channels doubled there,
global average pooling and a linear classifier. In a cell every interior vertex sums the 1×1
``conv-BN-ReLU`` projection of the cell input (if it reads it) and the outputs of the interior
vertices feeding it (cut to its channel count), then applies its op; the output concatenates
the vertices feeding it and adds the projected input if the input feeds it too; channels follow
:func:`vertex_channels`.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..errors import UserError
from ..supernet import Network

OPS = ["conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"]  # NAS-Bench-101's available_ops order
INPUT, OUTPUT_LABEL = "input", "output"
MAX_VERTICES = 7
# How a network's weights are drawn: PyTorch's defaults, or NAS-Bench-101's port's own
# (NB101Network.initialise).
INITS = ("torch", "archai")

# NAS-Bench-101 evaluation network (its config.py defaults): what the benchmark trained
NB101_STEM, NB101_STACKS, NB101_CELLS_PER_STACK, NB101_CLASSES = 128, 3, 3, 10


# --------------------------------------------------------------------------- pruning and hash


def on_path(matrix: np.ndarray) -> list[bool]:
    """Per vertex: does it lie on a path input -> output (NAS-Bench-101 ``ModelSpec._prune``)."""
    n = len(matrix)
    forward, backward = [False] * n, [False] * n
    forward[0], backward[n - 1] = True, True
    for v in range(1, n):
        forward[v] = any(forward[u] and matrix[u, v] for u in range(v))
    for v in range(n - 2, -1, -1):
        backward[v] = any(backward[w] and matrix[v, w] for w in range(v + 1, n))
    return [f and b for f, b in zip(forward, backward, strict=True)]


def pruned_spec(matrix: np.ndarray, labels: Sequence) -> tuple[np.ndarray, list]:
    """``ModelSpec``'s pruning: drop the vertices off every input -> output path (rows, columns
    and labels), keep the order of the others."""
    keep = [v for v, k in enumerate(on_path(matrix)) if k]
    if len(keep) < 2 or keep[0] != 0 or keep[-1] != len(matrix) - 1:
        raise ValueError("the input is not connected to the output")
    return matrix[np.ix_(keep, keep)], [labels[v] for v in keep]


def module_hash(matrix: np.ndarray, labels: Sequence[int]) -> str:
    """NAS-Bench-101's isomorphism-invariant graph hash (``graph_util.hash_module``).

    Each vertex starts from md5 of ``(out-degree, in-degree, label)``; then, as many times as there
    are vertices, it becomes md5 of its in-neighbours' hashes (sorted, concatenated), ``|``, its
    out-neighbours' hashes (likewise), ``|``, its own hash; the module's hash is md5 of the sorted
    list of vertex hashes. ``matrix`` must already be pruned, ``labels`` are ints (input -1,
    output -2, ops by NAS-Bench-101's order).
    """
    matrix = np.asarray(matrix)
    n = len(matrix)
    outs, ins = matrix.sum(axis=1).tolist(), matrix.sum(axis=0).tolist()
    labels = [int(x) for x in labels]
    hashes = [_md5(str((int(o), int(i), lab))) for o, i, lab in zip(outs, ins, labels, strict=True)]
    for _ in range(n):
        hashes = [
            _md5(
                "".join(sorted(hashes[u] for u in range(n) if matrix[u, v]))
                + "|"
                + "".join(sorted(hashes[w] for w in range(n) if matrix[v, w]))
                + "|"
                + hashes[v]
            )
            for v in range(n)
        ]
    return _md5(str(sorted(hashes)))


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def label_index(name: str) -> int:
    """NAS-Bench-101's integer vertex label for :func:`module_hash`: input -1, output -2, ops by
    their ``available_ops`` order."""
    return {INPUT: -1, OUTPUT_LABEL: -2}.get(name, OPS.index(name) if name in OPS else -3)


# --------------------------------------------------------------------------- the network


def checked_init(init: str) -> str:
    if init not in INITS:
        raise UserError(f"space.network_init={init} is not known: use one of {', '.join(INITS)}")
    return init


class ConvBnRelu(nn.Sequential):
    """NAS-Bench-101's ``conv_bn_relu``: conv (no bias, 'same' padding) -> BN (affine) -> ReLU."""

    def __init__(self, c_in: int, c_out: int, kernel: int):
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(),
        )


def vertex_channels(c_in: int, c_out: int, matrix: np.ndarray) -> list[int]:
    """NAS-Bench-101's channel rule (``model_builder.compute_vertex_channels``): the output's
    channels are split evenly among the vertices feeding it (the first ones get the remainder),
    every other vertex takes the largest channel count among its successors."""
    n = len(matrix)
    channels = [0] * n
    channels[0], channels[-1] = c_in, c_out
    if n == 2:
        return channels
    fan_in = int(matrix[1:, n - 1].sum())
    base, extra = divmod(c_out, fan_in)
    for v in range(1, n - 1):
        if matrix[v, n - 1]:
            channels[v] = base + (1 if extra > 0 else 0)
            extra -= 1 if extra > 0 else 0
    for v in range(n - 3, 0, -1):
        if not matrix[v, n - 1]:
            channels[v] = max([channels[w] for w in range(v + 1, n - 1) if matrix[v, w]] + [0])
    return channels


class NB101Cell(nn.Module):
    """A NAS-Bench-101 module on a pruned ``matrix`` (module docstring): 1×1 projections of the
    input per consumer, ops ``conv-BN-ReLU`` or 3×3 max-pool, sum at every interior vertex,
    concatenation at the output."""

    def __init__(self, matrix: np.ndarray, labels: Sequence[str], c_in: int, c_out: int):
        super().__init__()
        n = len(matrix)
        self.matrix = np.asarray(matrix)
        self.channels = vertex_channels(c_in, c_out, self.matrix)
        ch = self.channels
        self.proj = nn.ModuleDict()
        self.ops = nn.ModuleDict()
        for v in range(1, n - 1):
            if matrix[0, v]:
                self.proj[str(v)] = ConvBnRelu(c_in, ch[v], 1)
            label = labels[v]
            if label == "maxpool3x3":
                self.ops[str(v)] = nn.MaxPool2d(3, 1, 1)
            else:
                self.ops[str(v)] = ConvBnRelu(ch[v], ch[v], 3 if label == "conv3x3-bn-relu" else 1)
        if matrix[0, n - 1]:
            self.proj[str(n - 1)] = ConvBnRelu(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m, n = self.matrix, len(self.matrix)
        states: list[torch.Tensor | None] = [x] + [None] * (n - 1)
        for v in range(1, n - 1):
            # interior inputs are cut to this vertex's channels: the channel rule makes them at
            # most one wider (NAS-Bench-101's truncate)
            terms = [states[u][:, : self.channels[v]] for u in range(1, v) if m[u, v]]
            if m[0, v]:
                terms.append(self.proj[str(v)](x))
            total = terms[0]
            for t in terms[1:]:
                total = total + t
            states[v] = self.ops[str(v)](total)
        feeding = [states[v] for v in range(1, n - 1) if m[v, n - 1]]
        if not feeding:
            return self.proj[str(n - 1)](x)
        out = feeding[0] if len(feeding) == 1 else torch.cat(feeding, dim=1)
        if m[0, n - 1]:
            out = out + self.proj[str(n - 1)](x)
        return out


class NB101Network(Network):
    """NAS-Bench-101's evaluation network for one cell (module docstring): stem conv3x3 to
    ``stem`` channels, ``stacks`` × ``cells`` cells (a 2×2 max-pool and twice the channels at
    each new stack), global average pooling, a linear layer to ``num_classes``. ``matrix`` and
    ``labels`` may hold vertices off every input -> output path: they are pruned here."""

    def __init__(
        self,
        matrix: np.ndarray,
        labels: Sequence[str],
        stem: int = NB101_STEM,
        stacks: int = NB101_STACKS,
        cells: int = NB101_CELLS_PER_STACK,
        num_classes: int = NB101_CLASSES,
        input_size: int = 32,
        init: str = "torch",
    ):
        super().__init__()
        self.init = checked_init(init)
        matrix, labels = pruned_spec(np.asarray(matrix), list(labels))
        self.input_shape = (3, input_size, input_size)
        self.stem = ConvBnRelu(3, stem, 3)
        self.pool = nn.MaxPool2d(2, 2)
        self.downsample = []  # indices of the cells a stack starts with (after the first)
        layers, c = [], stem
        for stack in range(stacks):
            c_out = c * 2 if stack else c
            if stack:
                self.downsample.append(len(layers))
            for _ in range(cells):
                layers.append(NB101Cell(matrix, labels, c, c_out))
                c = c_out
        self.cells = nn.ModuleList(layers)
        self.classifier = nn.Linear(c, num_classes)

    def initialise(self) -> None:
        """PyTorch's default draw (``init="torch"``, as every network here), or NAS-Bench-101's
        own (``init="archai"``: the ``_initialize_weights`` of the PyTorch port NASLib scores
        Suite-Zero's NB101 networks with): conv weights N(0, 2/(k²·C_out)), the classifier's
        N(0, 0.01²) with a zero bias, BN weight 1 and bias 0."""
        super().initialise()
        if self.init != "archai":
            return
        with torch.no_grad():  # in place: the weights are views of the flat tensor
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    fan_out = m.weight[0, 0].numel() * m.out_channels  # k·k·C_out
                    m.weight.normal_(0.0, math.sqrt(2.0 / fan_out))
                elif isinstance(m, nn.Linear):
                    m.weight.normal_(0.0, 0.01)
                    m.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for i, cell in enumerate(self.cells):
            if i in self.downsample:
                x = self.pool(x)
            x = cell(x)
        return self.classifier(x.mean(dim=(2, 3)))


# --------------------------------------------------------------------------- the space unit


def parse_arch(arch: str) -> tuple[str, tuple[str, ...]]:
    """``<matrix>|<ops>`` -> (the n² matrix characters, the n labels), checked: a square 0/1
    matrix of at most 7 vertices, upper triangular, labels ``input``, ops, ``output``, and the
    input connected to the output. A ValueError names the bad value and the fix."""
    text = str(arch).strip()
    bits, sep, ops = text.partition("|")
    fix = (
        "write <matrix>|<ops>, e.g. 0100000001000000000000000|input,conv3x3-bn-relu,"
        "maxpool3x3,conv1x1-bn-relu,output (n*n characters 0/1 row-major, n labels)"
    )
    if not sep:
        raise ValueError(f"{text[:60]!r} has no '|' between the matrix and the ops: {fix}")
    bits = bits.strip()
    labels = tuple(s.strip() for s in ops.split(","))
    n = len(labels)
    if not 2 <= n <= MAX_VERTICES:
        raise ValueError(f"{ops!r} lists {n} vertices; NAS-Bench-101 cells have 2..7: {fix}")
    if len(bits) != n * n or set(bits) - {"0", "1"}:
        raise ValueError(
            f"matrix {bits!r} is not {n}x{n} = {n * n} characters 0/1 for the {n} ops: {fix}"
        )
    matrix = np.array([int(b) for b in bits], dtype=np.int64).reshape(n, n)
    if np.tril(matrix).any():
        raise ValueError(f"matrix {bits!r} is not strictly upper triangular (a DAG): {fix}")
    if labels[0] != INPUT or labels[-1] != OUTPUT_LABEL:
        raise ValueError(f"ops {ops!r} must start with input and end with output: {fix}")
    bad = [op for op in labels[1:-1] if op not in OPS]
    if bad:
        raise ValueError(f"op {bad[0]!r} is not a NAS-Bench-101 op: use one of {', '.join(OPS)}")
    try:
        pruned_spec(matrix, list(labels))
    except ValueError:
        raise ValueError(f"matrix {bits!r}: no path from the input to the output") from None
    return bits, labels


def _matrix(choice) -> np.ndarray:
    bits, labels = choice
    n = len(labels)
    return np.array([int(b) for b in bits], dtype=np.int64).reshape(n, n)


class NB101Space:
    """The ``space=nb101`` unit for ``freedarts correlate``: NAS-Bench-101 cells as
    (matrix, ops) pairs, their network at the size the options give (module docstring)."""

    name = "nb101"
    ops = OPS
    table_columns = ("matrix", "ops")  # benchmark=arch_table joins them with "|"
    arch_pattern = re.compile(r"[01]{4,49}\|input,.*output")
    title = "NAS-Bench-101"  # how figures name the space

    def __init__(
        self,
        stem_channels: int = NB101_STEM,
        stacks: int = NB101_STACKS,
        cells_per_stack: int = NB101_CELLS_PER_STACK,
        num_classes: int = NB101_CLASSES,
        input_size: int = 32,
        network_init: str = "torch",
    ):
        self.network_init = checked_init(network_init)
        self.stem_channels, self.stacks = stem_channels, stacks
        self.cells_per_stack = cells_per_stack
        self.num_classes, self.input_size = num_classes, input_size

    def parse(self, arch: str) -> tuple[str, tuple[str, ...]]:
        """``<matrix>|<ops>`` -> a choice (the matrix characters, the labels); see
        :func:`parse_arch`."""
        return parse_arch(arch)

    def decode(self, choice) -> str:
        """Inverse of :meth:`parse`: the two table values joined by ``|``."""
        bits, labels = choice
        return f"{bits}|{','.join(labels)}"

    def canonical(self, choice) -> str:
        """The isomorphism class of the cell: NAS-Bench-101's module hash of the pruned cell."""
        matrix, labels = pruned_spec(_matrix(choice), list(choice[1]))
        return module_hash(matrix, [label_index(x) for x in labels])

    def network(self, choice, dtype: torch.dtype, device: torch.device) -> NB101Network:
        """The evaluation network of one cell, freshly initialised."""
        net = NB101Network(
            _matrix(choice),
            choice[1],
            self.stem_channels,
            self.stacks,
            self.cells_per_stack,
            self.num_classes,
            self.input_size,
            self.network_init,
        )
        return net.materialise(dtype, device)

    def build_supernet(self, *args, **kwargs):
        raise UserError(
            "space=nb101 has no supernet: it is a space for freedarts correlate; search "
            "NAS-Bench-101 cells with space=nb1shot1"
        )
