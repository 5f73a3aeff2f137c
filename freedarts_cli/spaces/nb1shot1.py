"""NAS-Bench-1Shot1, search space 3: a NAS-Bench-101 cell with 5 intermediate nodes.

The space (Zela et al. 2020, ``SearchSpace3`` of the NAS-Bench-1Shot1 code)
---------------------------------------------------------------------------
A cell is a DAG on 7 vertices: 0 = the cell input, 1..5 = intermediate nodes, 6 = the output.
Every intermediate node carries one op out of ``conv3x3-bn-relu``, ``conv1x1-bn-relu``,
``maxpool3x3``, sums its inputs, and every vertex has a **fixed number of parents**, each parent a
lower-numbered vertex:

========  =======  ==================  =========================
vertex    parents  candidates          choices
========  =======  ==================  =========================
1         1        {0} (fixed)         1
2         1        {0, 1}              2
3         1        {0, 1, 2}           3
4         2        {0, 1, 2, 3}        C(4, 2) = 6
5         2        {0, .., 4}          C(5, 2) = 10
6 output  2        {0, .., 5}          C(6, 2) = 15
========  =======  ==================  =========================

That is always 9 edges, 5,400 graphs and 5,400 · 3^5 = 1,312,200 (graph, ops) configurations.
The paper's **363,648** is what this module counts as ``sum over the 5,400 graphs of 3^k``, k = the
number of intermediate nodes with at least one outgoing edge (the op of a node that feeds nothing
is not counted; the same formula gives the paper's 6,240 for 1Shot1 space 1, whose 29,160 for
space 2 is instead the plain product 360 · 3^4). As in
NAS-Bench-101's ``ModelSpec``, vertices that do not lie on an input -> output path (here: nodes
that are not ancestors of the output, "loose ends") are dropped and isomorphic graphs are the same
architecture: by this module's NAS-Bench-101 hash the 1,312,200 configurations are **55,854
distinct NAS-Bench-101 architectures** (876 distinct pruned 7×7 matrices, 317 distinct unlabelled
graphs). ``count_architectures()`` recomputes all of these (about 90 s with the hashes).

Valid-architecture rule (what :meth:`NB1Shot1Space.discretise` returns, and what every
``choice`` of this module describes): every intermediate node has exactly one op; vertex 1 reads
the cell input; vertices 2..6 have exactly their parent count of inputs (1, 1, 2, 2, 2), each a
lower-numbered vertex; on the scores this means the argmax op per node and **the strongest
parents per vertex** (highest score among its candidate edges still present; ties: the lower
source vertex). Loose ends are allowed in a choice (the 1Shot1 search space allows them) and are
dropped when the architecture is named (:func:`module_hash`, ``describe``).

The supernet (``optimizers/darts/model_search.py`` of the 1Shot1 code, its search settings)
-------------------------------------------------------------------------------------------------
Stem ``conv3x3-BN-ReLU`` (3 -> C, C=16), three stacks of ``cells_per_stack`` = 3 cells (9 cells,
the ``--layers 9`` default), ``MaxPool2d(2, 2, padding=1)`` before the first cell of stacks 2 and 3
and the channels doubled there (C, 2C, 4C), then ``ReLU-conv1x1-BN`` (5·4C -> 4C, BN affine off),
global average pooling and a linear classifier. In every cell, node i (i = 1..5) gets its own
``conv1x1-BN-ReLU`` projection of the cell input (C_in -> C), sums the weighted candidate inputs
``β[i<-0]·proj_i(x) + Σ_j β[i<-j]·node_j`` (node 1 reads ``proj_1(x)`` unweighted, as in the
1Shot1 code) and applies the mixed op ``Σ_k α[i, k]·op_k``; the cell outputs
``β[6<-0]·proj_out(x) + concat_j(β[6<-j]·node_j)`` (``proj_out``: C_in -> 5C). The 1Shot1 convs
are ``conv-BN(affine)-ReLU``; ``maxpool3x3`` is ``MaxPool2d(3, 1, 1)``. All cells share α and β.
As everywhere in FreeDARTS, α and β are **raw** (no softmax, METHOD.md §1).

The architecture tensor (one α for the scorers: rows = "edges", columns = "ops")
---------------------------------------------------------------------------------
Columns: ``conv3x3-bn-relu, conv1x1-bn-relu, maxpool3x3, off, on``. Rows (25):

* ``node1`` .. ``node5``: the op of each node; columns 0-2 present, ``off``/``on`` masked.
* ``2<-0, 2<-1, 3<-0, .., 6<-5`` (20 rows, vertex 6 = output): one row per candidate input edge.
  Its ``on`` entry is the edge weight β used in the forward above; ``off`` (the edge's absence)
  carries no weight and is masked, like the op columns. The fixed edge ``1<-0`` has no weight in
  the 1Shot1 model and no row.

A choice is one column index per row: the op for a node row, ``on`` (4) or ``off`` (3) for an
edge row. SynFlow-α, SNIP-α and GraSP-α score op entries and edge entries in the same pass
(``|α ⊙ ∂R/∂α|``, with ``|α|`` and ``|W|`` for SynFlow).

Iterative pruning (``removals = "op"``, journal Algorithm 1): each round removes the weakest op of
the whole supernet among nodes that still hold more than one op; the edge rows hold one entry
(``on``) and are never pruned, so the loop ends after 5 · 2 = 10 rounds, when every node holds one
op. The inputs of every vertex are then the strongest ones by the last round's scores (the
supernet at that point holds the final ops and every candidate edge). This mirrors METHOD.md §2
for the DARTS space (prune ops, then apply the input rule). Pruning the candidate edges one by one
as well would need the pruner to keep p > 1 entries of a row (the 2-parent vertices), which it
cannot express.

The architecture's name (the ``arch`` column) is its NAS-Bench-101 module hash
(``graph_util.hash_module`` of the pruned matrix, labels input = -1, output = -2, ops by
NAS-Bench-101's ``available_ops`` order conv3x3 = 0, conv1x1 = 1, maxpool3x3 = 2): the key of the
NAS-Bench-101 tables, so ``benchmark=nb101_table`` looks accuracies up by it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..alpha import active_ops
from ..edge import MixedEdge
from ..op import ReLUConvBN
from ..results import save_figure
from ..size import params_m
from ..supernet import Supernet
from .nb101 import (  # the NAS-Bench-101 parts this space shares with space=nb101
    OPS,
    ConvBnRelu,
    NB101Network,
    label_index,
    module_hash,
    on_path,
    pruned_spec,
)

OFF, ON = 3, 4
COLUMNS = OPS + ["off", "on"]
NODES = 5  # intermediate vertices 1..5
VERTICES = NODES + 2  # + input (0) and output (6)
OUTPUT = VERTICES - 1
PARENTS = {1: 1, 2: 1, 3: 1, 4: 2, 5: 2, 6: 2}  # 1Shot1 SearchSpace3.num_parents_per_node

#: candidate input edges that carry a weight: (dst, src) for dst = 2..6, src < dst
EDGE_PAIRS = [(dst, src) for dst in range(2, VERTICES) for src in range(dst)]
EDGE_ROW = {pair: NODES + i for i, pair in enumerate(EDGE_PAIRS)}
EDGES = [f"node{i}" for i in range(1, NODES + 1)] + [f"{d}<-{s}" for d, s in EDGE_PAIRS]


# --------------------------------------------------------------------------- the architecture


def parents_of(choice: Sequence[int]) -> dict[int, list[int]]:
    """Vertex -> its parent vertices (sorted) for a choice of one column per row."""
    _check_choice(choice)
    parents = {1: [0]}
    for dst in range(2, VERTICES):
        parents[dst] = [src for src in range(dst) if choice[EDGE_ROW[dst, src]] == ON]
    return parents


def ops_of(choice: Sequence[int]) -> list[str]:
    """The op labels of vertices 1..5."""
    _check_choice(choice)
    return [OPS[k] for k in choice[:NODES]]


def _check_choice(choice: Sequence[int]) -> None:
    if len(choice) != len(EDGES):
        raise ValueError(f"a choice has {len(EDGES)} entries (one per α row), got {len(choice)}")
    if any(not 0 <= int(k) < len(OPS) for k in choice[:NODES]):
        raise ValueError(f"node rows take an op index 0..2, got {list(choice[:NODES])}")
    if any(int(k) not in (OFF, ON) for k in choice[NODES:]):
        raise ValueError("edge rows take 3 (off) or 4 (on)")


def is_valid(choice: Sequence[int]) -> bool:
    """Every vertex has exactly its parent count of inputs (space 3), every node one op."""
    try:
        parents = parents_of(choice)
    except ValueError:
        return False
    return all(len(parents[v]) == PARENTS[v] for v in PARENTS)


def adjacency(choice: Sequence[int]) -> np.ndarray:
    """The 7×7 adjacency matrix of the choice, loose ends included."""
    matrix = np.zeros((VERTICES, VERTICES), dtype=np.int64)
    for dst, srcs in parents_of(choice).items():
        matrix[srcs, dst] = 1
    return matrix


def spec(choice: Sequence[int]) -> tuple[np.ndarray, list[str]]:
    """The pruned NAS-Bench-101 spec: matrix (≤ 7×7) and labels ``[input, ops.., output]``."""
    return pruned_spec(adjacency(choice), ["input", *ops_of(choice), "output"])


def hash_of(choice: Sequence[int]) -> str:
    matrix, labels = spec(choice)
    return module_hash(matrix, [label_index(x) for x in labels])


def choice_from(parents: dict[int, Sequence[int]], ops: Sequence[str]) -> list[int]:
    """Build a choice from parent lists (vertices 2..6) and the 5 op names."""
    choice = [OPS.index(op) for op in ops]
    choice += [ON if src in parents[dst] else OFF for dst, src in EDGE_PAIRS]
    return choice


def count_architectures(hashes: bool = True) -> dict[str, int]:
    """Enumerate the space (module docstring): graphs, configurations, the paper's count and,
    with ``hashes``, the distinct NAS-Bench-101 architectures (about 90 s: 1.3 M hashes)."""
    counts = {"graphs": 0, "configurations": 0, "paper_count": 0, "pruned_matrices": 0}
    matrices, graphs, archs = set(), set(), set()
    for parents in _all_parent_sets():
        matrix = np.zeros((VERTICES, VERTICES), dtype=np.int64)
        for dst, srcs in parents.items():
            matrix[list(srcs), dst] = 1
        counts["graphs"] += 1
        counts["configurations"] += len(OPS) ** NODES
        counts["paper_count"] += len(OPS) ** int((matrix[1:-1].sum(axis=1) > 0).sum())
        kept = on_path(matrix)
        matrices.add((matrix * np.outer(kept, kept)).tobytes())
        if not hashes:
            continue
        graphs.add(module_hash(*pruned_spec(matrix, [-1] + [0] * NODES + [-2])))
        live = [v for v in range(1, VERTICES - 1) if kept[v]]
        for ops in itertools.product(range(len(OPS)), repeat=len(live)):
            labels = [-1] + [0] * NODES + [-2]
            for v, k in zip(live, ops, strict=True):
                labels[v] = k
            archs.add(module_hash(*pruned_spec(matrix, labels)))
    counts["pruned_matrices"] = len(matrices)
    if hashes:
        counts["distinct_graphs"], counts["architectures"] = len(graphs), len(archs)
    return counts


def _all_parent_sets():
    options = [list(itertools.combinations(range(v), PARENTS[v])) for v in range(2, VERTICES)]
    for combo in itertools.product(*options):
        parents = {1: (0,)}
        parents.update({v: c for v, c in zip(range(2, VERTICES), combo, strict=True)})
        yield parents


# --------------------------------------------------------------------------- the supernet


def _node_ops(c: int) -> list[nn.Module]:
    return [ConvBnRelu(c, c, 3), ConvBnRelu(c, c, 1), nn.MaxPool2d(3, stride=1, padding=1)]


class SearchCell(nn.Module):
    """The 1Shot1 one-shot cell of space 3 (see the module docstring)."""

    def __init__(self, c_in: int, c: int):
        super().__init__()
        self.proj = nn.ModuleList(ConvBnRelu(c_in, c, 1) for _ in range(NODES))
        self.proj_out = ConvBnRelu(c_in, c * NODES, 1)
        self.nodes = nn.ModuleList(MixedEdge(_node_ops(c)) for _ in range(NODES))

    def forward(self, x, alpha, active):
        states: list[torch.Tensor] = []
        for i in range(NODES):  # vertex i + 1
            v = i + 1
            inputs = [self.proj[i](x)] + states
            if v == 1:
                total = inputs[0]  # 1Shot1: node 1 reads the projected input, no weight
            else:
                total = _weighted_sum(inputs, [EDGE_ROW[v, s] for s in range(v)], alpha, active)
            states.append(self.nodes[i](total, alpha[i], active[i]))
        parts = []
        for s, t in enumerate(states, start=1):
            row = EDGE_ROW[OUTPUT, s]
            parts.append(alpha[row][ON] * t if ON in active[row] else torch.zeros_like(t))
        out = torch.cat(parts, dim=1)
        row = EDGE_ROW[OUTPUT, 0]
        if ON in active[row]:
            out = out + alpha[row][ON] * self.proj_out(x)
        return out


def _weighted_sum(inputs, rows, alpha, active):
    total = None
    for t, row in zip(inputs, rows, strict=True):
        if ON in active[row]:
            term = alpha[row][ON] * t
            total = term if total is None else total + term
    if total is None:
        raise RuntimeError("a node has no input edge left")
    return total


class NB1Shot1Supernet(Supernet):
    """The 1Shot1 one-shot model of space 3 with one α of shape 25 × 5 (module docstring)."""

    def __init__(
        self,
        a: float,
        C: int = 16,
        cells_per_stack: int = 3,
        num_classes: int = 10,
        input_size: int = 32,
    ):
        super().__init__(EDGES, COLUMNS, a, (3, input_size, input_size))
        self.mask[:NODES, OFF:] = False
        self.mask[NODES:, :ON] = False
        self.active = active_ops(self.mask)
        self.stem = ConvBnRelu(3, C, 3)
        self.reductions = (cells_per_stack, 2 * cells_per_stack)
        self.pool = nn.MaxPool2d(2, stride=2, padding=1)  # 1Shot1's down-sampling
        cells, c_prev, c = [], C, C
        for i in range(3 * cells_per_stack):
            if i in self.reductions:
                c *= 2
            cells.append(SearchCell(c_prev if i == 0 else c_prev * NODES, c))
            c_prev = c
        self.cells = nn.ModuleList(cells)
        self.postprocess = ReLUConvBN(c * NODES, c, 1, 1, 0, affine=False)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        alpha, active = self.alpha_weights(), self.active
        s = self.stem(x)
        for i, cell in enumerate(self.cells):
            if i in self.reductions:
                s = self.pool(s)
            s = cell(s, alpha, active)
        s = self.postprocess(s).mean(dim=(2, 3))
        return self.classifier(s)


# --------------------------------------------------------------------------- the space unit


class NB1Shot1Space:
    """The ``space=nb1shot1`` unit: NAS-Bench-1Shot1 search space 3 (module docstring)."""

    name = "nb1shot1"
    edges = EDGES
    ops = COLUMNS
    removals = "op"  # journal Algorithm 1 over the node ops (10 rounds); inputs by the last scores

    def __init__(
        self, C: int = 16, cells_per_stack: int = 3, num_classes: int = 10, input_size: int = 32
    ):
        self.C, self.cells_per_stack = C, cells_per_stack
        self.num_classes, self.input_size = num_classes, input_size

    def build_supernet(
        self, a: float, dtype: torch.dtype, device: torch.device
    ) -> NB1Shot1Supernet:
        """Construct, move to ``dtype``/``device``, then draw fresh weights and α."""
        net = NB1Shot1Supernet(a, self.C, self.cells_per_stack, self.num_classes, self.input_size)
        return net.materialise(dtype, device)

    def discretise(self, scores: torch.Tensor, mask: torch.Tensor) -> list[int]:
        """The valid-architecture rule: argmax op per node; per vertex 2..6 the ``PARENTS[v]``
        candidate edges with the largest ``on`` score among those still present (ties: lower
        source vertex), the others ``off``."""
        scores = scores.detach().to("cpu", torch.float64)
        mask = mask.cpu()
        choice = []
        for r in range(NODES):
            row = torch.where(
                mask[r, :OFF], scores[r, :OFF], torch.full((OFF,), -torch.inf, dtype=torch.float64)
            )
            if not bool(mask[r, :OFF].any()):
                raise ValueError(f"node {r + 1} has no op left")
            choice.append(int(row.argmax()))
        keep: set[int] = set()
        for dst in range(2, VERTICES):
            rows = [EDGE_ROW[dst, s] for s in range(dst) if bool(mask[EDGE_ROW[dst, s], ON])]
            if len(rows) < PARENTS[dst]:
                raise ValueError(
                    f"vertex {dst} has {len(rows)} candidate inputs left, needs {PARENTS[dst]}"
                )
            ranked = sorted(rows, key=lambda r: -float(scores[r, ON]))  # stable: lower src first
            keep.update(ranked[: PARENTS[dst]])
        choice += [ON if r in keep else OFF for r in range(NODES, len(EDGES))]
        return choice

    def is_discrete(self, mask: torch.Tensor) -> bool:
        """Iterative pruning stops when every node holds one op (edge rows hold one entry from
        the start; the inputs are then chosen by :meth:`discretise`)."""
        return bool((mask.cpu()[:NODES, :OFF].sum(dim=1) == 1).all())

    def decode(self, choice: list[int]) -> str:
        """The NAS-Bench-101 module hash of the architecture (pruned, isomorphism-invariant)."""
        return hash_of(choice)

    def describe(self, choice: list[int]) -> dict:
        """Extra result columns: ``adjacency``, the 7×7 matrix with the edges of loose-end
        vertices removed (rows joined by ``|``, vertex numbering kept), ``ops``, the labels of
        the 7 vertices (a loose-end vertex keeps its chosen op; NAS-Bench-101's ``ModelSpec``
        drops it, so the pair can be passed to it as is), ``module_hash`` and ``params_m``, the
        parameters (M) of the NAS-Bench-101 evaluation network of this cell."""
        matrix = adjacency(choice)
        kept = on_path(matrix)
        matrix = matrix * np.outer(kept, kept)
        labels = ["input", *ops_of(choice), "output"]
        with torch.device("meta"):  # shapes only: counting needs no memory nor init
            net = NB101Network(*spec(choice))
        return {
            "adjacency": "|".join("".join(str(int(x)) for x in row) for row in matrix),
            "ops": ",".join(labels),
            "module_hash": hash_of(choice),
            "params_m": round(params_m(net), 6),
        }

    def draw(self, choice: list[int], out_dir: Path) -> list[Path]:
        """The cell DAG (loose ends dropped), vertices labelled with their ops, in vertex order
        from left to right; edges that skip vertices are drawn as arcs so that none crosses a
        vertex. Writes ``out_dir/cell.png`` and ``out_dir/cell.pdf``."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from ..picture import INPUT_COLOUR, NODE_COLOUR, OUTPUT_COLOUR

        matrix, labels = spec(choice)
        n = len(matrix)
        fig, ax = plt.subplots(figsize=(1.9 * n, 4.4))
        boxes = []
        for v, label in enumerate(labels):
            colour = INPUT_COLOUR if v == 0 else OUTPUT_COLOUR if v == n - 1 else NODE_COLOUR
            boxes.append(
                ax.text(
                    v,
                    0,
                    label.replace("-bn-relu", ""),
                    ha="center",
                    va="center",
                    fontsize=9,
                    bbox=dict(boxstyle="round,pad=0.4", fc=colour, ec="0.3"),
                )
            )
        for u in range(n):
            for v in range(u + 1, n):
                if matrix[u, v]:
                    rad = 0.0 if v - u == 1 else (0.3 if u % 2 else -0.3)  # display-space bow
                    ax.annotate(
                        "",
                        xy=(v, 0),
                        xytext=(u, 0),
                        arrowprops=dict(
                            arrowstyle="-|>",
                            color="0.35",
                            lw=1.1,
                            patchA=boxes[u].get_bbox_patch(),
                            patchB=boxes[v].get_bbox_patch(),
                            shrinkA=2,
                            shrinkB=2,
                            connectionstyle=f"arc3,rad={rad}",
                        ),
                    )
        ax.set_xlim(-0.6, n - 0.4)
        ax.set_ylim(-1, 1)
        ax.axis("off")
        ax.set_title(f"NAS-Bench-1Shot1 space 3, NB101 hash {hash_of(choice)}", fontsize=9)
        fig.tight_layout()
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = [out_dir / "cell.png", out_dir / "cell.pdf"]
        try:
            for path in paths:
                save_figure(fig, path, dpi=150)
        finally:
            plt.close(fig)
        return paths
