"""The DARTS CNN space (Liu et al., ICLR 2019) as FreeDARTS scores it (METHOD.md §3).

A normal and a reduction cell, each with inputs c_{k-2}, c_{k-1} (nodes 0, 1), four intermediate
nodes 2..5 and 14 mixed edges (node i reads every earlier node); the cell outputs the concatenation
of nodes 2..5. α has 28 rows (the 14 normal edges, then the 14 reduction edges) × 8 ops, raw
(no softmax), shared by all cells of a type. Three supernets are scored (conference Table 4):

* ``space=darts``          C=16, 8 cells, 32×32, 10 classes (DARTS' ``model_search.Network``);
* ``space=darts_20cells``  the same with 20 cells (FreeDARTS†: no depth gap to the evaluation net);
* ``space=darts_imagenet`` C=48, 14 cells, the ImageNet stem, 224×224, 1000 classes (FreeDARTS‡).

Discretisation is DARTS' rule (METHOD.md §2): per intermediate node the two incoming edges whose
best non-``none`` op scores highest, and that op on each. ``none`` is masked from the start: its
output ``0 · x`` adds nothing to any score and the rule never picks it. Iterative pruning
(``removals = "edge"``) removes the weakest op of every edge each round, so after 6 rounds one op
per edge is left, each scored on a freshly initialised supernet; the two-input rule is then applied
with the last round's scores. (One op per round, as on NB201, would take 168 rounds.)

A found cell is reported as its :class:`~freedarts_cli.genotype.Genotype` and sized as the papers
do: the CIFAR evaluation network (C=36, 20 cells, auxiliary head excluded) and the ImageNet mobile
network (C=48, 14 cells, 224×224), parameters and multiply-adds via :mod:`freedarts_cli.size`.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn

from ..genotype import DARTS_STEPS, Genotype, parse_genotype
from ..op import DARTS_OPS, FactorizedReduce, ReLUConvBN
from ..picture import draw_dag
from ..size import macs_m, params_m
from ..supernet import Network, Supernet

OPS = list(DARTS_OPS)
STEPS = DARTS_STEPS
CONCAT = list(range(2, 2 + STEPS))
#: (node, input) of the 14 edges of one cell, in α's row order.
CELL_EDGES = [(i, j) for i in range(2, 2 + STEPS) for j in range(i)]
EDGES = [f"{kind}:{i}<-{j}" for kind in ("normal", "reduce") for i, j in CELL_EDGES]


def _preprocess(c_prev_prev: int, c_prev: int, c: int, reduction_prev: bool, affine: bool):
    """DARTS' 1×1 ReLU-conv-BN on both inputs; a factorized reduction on c_{k-2} when the previous
    cell halved the resolution."""
    pre0 = (
        FactorizedReduce(c_prev_prev, c, affine)
        if reduction_prev
        else ReLUConvBN(c_prev_prev, c, 1, 1, 0, affine)
    )
    return pre0, ReLUConvBN(c_prev, c, 1, 1, 0, affine)


class FanOut(nn.Module):
    """The mixed edges leaving node j of a search cell, computed together.

    Edge (i<-j) computes ``Σ_k α[(i,j), k] · o_k(node_j)`` over the ops still present (raw α, no
    softmax: METHOD.md §1). Every edge leaving j reads the same node, so each op runs once for all
    of them: the ops with weights hold every edge's weights side by side along the channels (see
    ``op.DARTS_OPS``), the parameter-free ones (pooling, identity) give one output that all edges
    share. Returns one tensor per destination node, in order. An op pruned on some of the edges
    but kept on others still runs for all of them, weighted 0 where it was pruned.
    """

    def __init__(self, c: int, edges: int, stride: int):
        super().__init__()
        self.c, self.edges, self.stride = c, edges, stride
        self.ops = nn.ModuleList(make(c, stride, False, True, edges) for make in DARTS_OPS.values())
        self.per_edge = [any(True for _ in op.parameters()) for op in self.ops]

    def forward(self, x, alpha, kept):
        """``alpha``: [edges, ops], the α rows of these edges (0 where pruned); ``kept``: per op,
        whether any of the edges still holds it."""
        repeated = (
            x.repeat(1, self.edges, 1, 1)
            if any(k and e for k, e in zip(kept, self.per_edge, strict=True))
            else None
        )
        out = None
        for k, op in enumerate(self.ops):
            if not kept[k]:
                continue
            y = op(repeated if self.per_edge[k] else x)
            b, _, h, w = y.shape
            term = alpha[:, k].view(1, -1, 1, 1, 1) * y.view(b, -1, self.c, h, w)
            out = term if out is None else out + term
        return out.unbind(1)


#: Node j's fan-out feeds nodes max(2, j+1) .. 5; ``FANOUT_ROWS`` lists α's rows (CELL_EDGES
#: order) fan-out by fan-out, so each fan-out reads a contiguous block of the reordered α.
FANOUT_DESTINATIONS = [list(range(max(2, j + 1), 2 + STEPS)) for j in range(1 + STEPS)]
FANOUT_ROWS = [
    CELL_EDGES.index((i, j)) for j, dests in enumerate(FANOUT_DESTINATIONS) for i in dests
]


class SearchCell(nn.Module):
    """A cell of the supernet: node i = Σ_j mixed_edge(i<-j)(node j) over all earlier nodes,
    the edges leaving each node run as one :class:`FanOut` (stride 2 from the two inputs of a
    reduction cell)."""

    def __init__(
        self, c_prev_prev: int, c_prev: int, c: int, reduction: bool, reduction_prev: bool
    ):
        super().__init__()
        self.reduction = reduction
        self.preprocess0, self.preprocess1 = _preprocess(
            c_prev_prev, c_prev, c, reduction_prev, affine=False
        )
        self.fanouts = nn.ModuleList(
            FanOut(c, len(dests), 2 if reduction and j < 2 else 1)
            for j, dests in enumerate(FANOUT_DESTINATIONS)
        )

    def forward(self, s0, s1, alpha, kept):
        """``alpha``: this cell type's 14 α rows in ``FANOUT_ROWS`` order (0 where pruned);
        ``kept``: per fan-out, per op, whether any of its edges still holds the op."""
        nodes = [self.preprocess0(s0), self.preprocess1(s1)]
        sums: list = [None] * (2 + STEPS)
        row = 0
        for j, (fanout, dests) in enumerate(zip(self.fanouts, FANOUT_DESTINATIONS, strict=True)):
            if j >= 2:
                nodes.append(sums[j])  # every edge into node j has been added
            outs = fanout(nodes[j], alpha[row : row + len(dests)], kept[j])
            row += len(dests)
            for i, y in zip(dests, outs, strict=True):
                sums[i] = y if sums[i] is None else sums[i] + y
        nodes.append(sums[-1])
        return torch.cat(nodes[2:], dim=1)


class EvalCell(nn.Module):
    """A cell of the evaluation network of one genotype (DARTS' ``model.Cell``, affine BNs, no
    drop-path: it changes no parameter and no multiply-add). ``affine=False, pool_bn=True``
    gives the cell ops their search-cell form (non-affine BNs, a BN after every pooling op), as
    NASLib builds the NAS-Bench-301 network (``DartsSpace`` docstring)."""

    def __init__(
        self,
        pairs: list,
        concat: list,
        c_prev_prev: int,
        c_prev: int,
        c: int,
        reduction: bool,
        reduction_prev: bool,
        affine: bool = True,
        pool_bn: bool = False,
    ):
        super().__init__()
        self.preprocess0, self.preprocess1 = _preprocess(
            c_prev_prev, c_prev, c, reduction_prev, affine=True
        )
        self.inputs = [j for _, j in pairs]
        self.concat = list(concat)
        self.ops = nn.ModuleList(
            DARTS_OPS[op](c, 2 if reduction and j < 2 else 1, affine, pool_bn) for op, j in pairs
        )
        self.multiplier = len(self.concat)

    def forward(self, s0, s1):
        nodes = [self.preprocess0(s0), self.preprocess1(s1)]
        for i in range(0, len(self.ops), 2):
            nodes.append(
                self.ops[i](nodes[self.inputs[i]]) + self.ops[i + 1](nodes[self.inputs[i + 1]])
            )
        return torch.cat([nodes[i] for i in self.concat], dim=1)


class _Skeleton(nn.Module):
    """DARTS' macro network: a stem, ``layers`` cells with reductions at 1/3 and 2/3 of the depth
    (channels doubled there), global average pooling, a linear classifier. ``stem='cifar'``: one
    3×3 conv to ``width`` channels; ``stem='imagenet'``: three stride-2 3×3 convs (to width/2,
    width, width), so the first cell already sees a reduced input. The search supernets use
    width 3C, the ImageNet evaluation network C (AUTHORS_CODE.md §2.3)."""

    def _build(
        self, C: int, layers: int, num_classes: int, stem: str, width: int, make_cell
    ) -> None:
        if stem == "imagenet":
            self.stem0 = nn.Sequential(
                nn.Conv2d(3, width // 2, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(width // 2),
                nn.ReLU(inplace=False),
                nn.Conv2d(width // 2, width, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(width),
            )
            self.stem1 = nn.Sequential(
                nn.ReLU(inplace=False),
                nn.Conv2d(width, width, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(width),
            )
            reduction_prev = True
        else:
            self.stem0 = nn.Sequential(
                nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width)
            )
            self.stem1 = None
            reduction_prev = False
        c_pp, c_p, c = width, width, C
        cells = []
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                c *= 2
            cells.append(make_cell(c_pp, c_p, c, reduction, reduction_prev))
            c_pp, c_p, reduction_prev = c_p, STEPS * c, reduction
        self.cells = nn.ModuleList(cells)
        self.classifier = nn.Linear(c_p, num_classes)

    def _stem(self, x: torch.Tensor):
        s0 = self.stem0(x)
        return (s0, s0) if self.stem1 is None else (s0, self.stem1(s0))


class DartsSupernet(Supernet, _Skeleton):
    """The scored supernet (DARTS' ``model_search.Network``, or its ImageNet-stem form)."""

    abs_alpha = False  # the authors' DARTS α is not in the state dict: SynFlow keeps it signed

    def __init__(self, a: float, C: int, layers: int, num_classes: int, input_size: int, stem: str):
        super().__init__(EDGES, OPS, a, (3, input_size, input_size))
        self._build(C, layers, num_classes, stem, 3 * C, SearchCell)

    def cell_inputs(self, reduction: bool):
        """α of one cell type (its 14 rows, fan-out order, 0 where pruned) and, per fan-out and
        op, whether any of the fan-out's edges still holds the op."""
        base = len(CELL_EDGES) if reduction else 0
        rows = [base + r for r in FANOUT_ROWS]
        mask = self.mask[rows]
        alpha = self.alpha[rows] * mask.to(self.alpha)  # exact: α·1 = α, and 0 where pruned
        kept, start = [], 0
        for dests in FANOUT_DESTINATIONS:
            kept.append(mask[start : start + len(dests)].any(dim=0).tolist())
            start += len(dests)
        return alpha, kept

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inputs = {r: self.cell_inputs(r) for r in (False, True)}
        s0, s1 = self._stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, *inputs[cell.reduction])
        return self.classifier(s1.mean(dim=(2, 3)))


class DartsNetwork(Network, _Skeleton):
    """The evaluation network of a genotype: ``NetworkCIFAR`` (auxiliary head left out) or
    ``NetworkImageNet`` of the DARTS code base."""

    def __init__(
        self,
        genotype: Genotype,
        C: int,
        layers: int,
        num_classes: int,
        input_size: int,
        stem: str,
        affine: bool = True,
        pool_bn: bool = False,
    ):
        super().__init__()
        for name in ("normal_concat", "reduce_concat"):
            if list(getattr(genotype, name)) != CONCAT:
                raise ValueError(
                    f"{name}={list(getattr(genotype, name))} is not supported: the "
                    f"evaluation network concatenates all intermediate nodes, use "
                    f"{name}=range(2, {2 + STEPS})"
                )
        self.input_shape = (3, input_size, input_size)

        def cell(c_pp, c_p, c, reduction, reduction_prev):
            pairs, concat = (
                (genotype.reduce, genotype.reduce_concat)
                if reduction
                else (genotype.normal, genotype.normal_concat)
            )
            return EvalCell(pairs, concat, c_pp, c_p, c, reduction, reduction_prev, affine, pool_bn)

        self._build(C, layers, num_classes, stem, 3 * C if stem == "cifar" else C, cell)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0, s1 = self._stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return self.classifier(s1.mean(dim=(2, 3)))


def genotype_size(
    genotype: Genotype, cifar_channels: int = 36, imagenet_channels: int = 48
) -> dict:
    """The sizes the papers report for a DARTS genotype: CIFAR-10 parameters (C=36, 20 cells,
    auxiliary head excluded) and ImageNet parameters and multiply-adds (C=48, 14 cells, 224×224,
    1000 classes; the mobile setting), all in millions. Other widths size a genotype as it is
    trained (the FreeDARTS† logs: C=38 on CIFAR-10, C=50 on ImageNet)."""
    cifar = DartsNetwork(genotype, cifar_channels, 20, 10, 32, "cifar")
    imagenet = DartsNetwork(genotype, imagenet_channels, 14, 1000, 224, "imagenet")
    return {
        "cifar_params_m": round(params_m(cifar), 6),
        "imagenet_params_m": round(params_m(imagenet), 6),
        "imagenet_flops_m": round(macs_m(imagenet, imagenet.input_shape), 2),
    }


class DartsSpace:
    """The ``space=darts`` / ``darts_20cells`` / ``darts_imagenet`` unit (see the module doc).

    ``C``, ``layers``: the supernet FreeDARTS scores. ``network_*``: the discrete network of one
    genotype that ``freedarts correlate`` scores (:meth:`network`). Their defaults are the
    network NAS-Bench-Suite-Zero scored its NAS-Bench-301 set on: NASLib's
    ``NasBench301SearchSpace`` at Suite-Zero's commit 0b116007 (``naslib/search_spaces/
    nasbench301/graph.py``): ``self.channels = [32, 64, 128]`` (C=32, stem 3C=96), eight cells
    (two normal, reduction, two normal, reduction, two normal), cell ops built by ``_set_ops``
    with ``affine=False`` and ``MaxPool/AvgPool(..., use_bn=True)`` (a non-affine BN after
    every pooling op, as in DARTS' search cell), affine ``ReLUConvBN``/``FactorizedReduce``
    between cells, global average pooling and one linear layer. Its auxiliary head
    (``prepare_evaluation``) hangs off the last cell beside the output and never reaches the
    logits, so it is left out.
    """

    edges = EDGES
    ops = OPS
    removals = "edge"
    table_columns = ("genotype",)  # the architecture column benchmark=arch_table looks for first
    arch_pattern = re.compile(r"Genotype\(.*\)")
    title = "DARTS (NB301)"  # how figures name the space

    def __init__(
        self,
        name: str = "darts",
        C: int = 16,
        layers: int = 8,
        num_classes: int = 10,
        input_size: int = 32,
        stem: str = "cifar",
        network_C: int = 32,
        network_layers: int = 8,
        network_affine: bool = False,
        network_pool_bn: bool = True,
    ):
        if stem not in ("cifar", "imagenet"):
            raise ValueError(f"space.stem={stem} is not known: use cifar or imagenet")
        self.name, self.C, self.layers = name, C, layers
        self.num_classes, self.input_size, self.stem = num_classes, input_size, stem
        self.network_C, self.network_layers = network_C, network_layers
        self.network_affine, self.network_pool_bn = network_affine, network_pool_bn

    def network(self, choice: list[int], dtype: torch.dtype, device: torch.device) -> DartsNetwork:
        """The discrete network of one genotype at the ``network_*`` size, freshly
        initialised (what ``freedarts correlate space=darts`` scores)."""
        net = DartsNetwork(
            self.genotype(choice),
            self.network_C,
            self.network_layers,
            self.num_classes,
            self.input_size,
            self.stem,
            affine=self.network_affine,
            pool_bn=self.network_pool_bn,
        )
        return net.materialise(dtype, device)

    def build_supernet(self, a: float, dtype: torch.dtype, device: torch.device) -> DartsSupernet:
        """Construct, mask ``none``, move to ``dtype``/``device``, draw weights and α."""
        net = DartsSupernet(a, self.C, self.layers, self.num_classes, self.input_size, self.stem)
        for e in range(len(EDGES)):
            net.remove(e, OPS.index("none"))
        return net.materialise(dtype, device)

    def discretise(self, scores: torch.Tensor, mask: torch.Tensor) -> list[int]:
        """DARTS' rule: per node, the 2 inputs whose best remaining op scores highest (ties: the
        lower input), that op on each; 0 (``none``) on every edge not kept."""
        masked = torch.where(mask, scores, torch.full_like(scores, -torch.inf))
        masked[:, OPS.index("none")] = -torch.inf
        best_score, best_op = masked.max(dim=1)
        choice = [0] * len(EDGES)
        for base in (0, len(CELL_EDGES)):
            for i in range(2, 2 + STEPS):
                rows = [base + e for e, (node, _) in enumerate(CELL_EDGES) if node == i]
                ranked = sorted(rows, key=lambda r: -float(best_score[r]))  # stable on ties
                for r in ranked[:2]:
                    choice[r] = int(best_op[r])
        return choice

    def is_discrete(self, mask: torch.Tensor) -> bool:
        """Iterative pruning stops with one op left on every edge (6 rounds)."""
        return bool((mask.sum(dim=1) == 1).all())

    def genotype(self, choice: list[int]) -> Genotype:
        """The kept edges of ``choice`` as DARTS pairs, per node in input order."""
        cells = []
        for base in (0, len(CELL_EDGES)):
            cells.append(
                [
                    (OPS[choice[base + e]], j)
                    for e, (_, j) in enumerate(CELL_EDGES)
                    if choice[base + e] != 0
                ]
            )
        return Genotype(cells[0], CONCAT, cells[1], CONCAT)

    def decode(self, choice: list[int]) -> str:
        return str(self.genotype(choice))

    def parse(self, arch: str) -> list[int]:
        """Inverse of :meth:`decode` for genotypes with two inputs per node (two distinct
        inputs: a choice holds one op per edge). Any order of a node's two pairs and any
        spelling of the concats (``[2, 3, 4, 5]``) parse: :meth:`decode` of the result is the
        one canonical string of the genotype (pairs by input, ``range(2, 6)``)."""
        g = parse_genotype(arch, OPS)
        for name in ("normal_concat", "reduce_concat"):
            if sorted(getattr(g, name)) != CONCAT:
                raise ValueError(
                    f"{name}={list(getattr(g, name))}: this space concatenates every "
                    f"intermediate node, use {name}=range(2, {2 + STEPS})"
                )
        choice = [0] * len(EDGES)
        for base, name, pairs in ((0, "normal", g.normal), (len(CELL_EDGES), "reduce", g.reduce)):
            for k, (op, j) in enumerate(pairs):
                row = base + CELL_EDGES.index((2 + k // 2, j))
                if choice[row] or op == "none":
                    raise ValueError(
                        f"{name}[{k}]=({op!r}, {j}): node {2 + k // 2} of this space "
                        f"takes two different inputs, each with one op other than "
                        f"none"
                    )
                choice[row] = OPS.index(op)
        return choice

    def describe(self, choice: list[int]) -> dict:
        """Result columns: the genotype as JSON, ``params_m`` (CIFAR-10 evaluation network, the
        tables' "Params"), ``flops_m`` (ImageNet multiply-adds) and ``imagenet_params_m``."""
        g = self.genotype(choice)
        size = genotype_size(g)
        return {
            "genotype_json": g.to_json(),
            "params_m": size["cifar_params_m"],
            "flops_m": size["imagenet_flops_m"],
            "imagenet_params_m": size["imagenet_params_m"],
        }

    def draw(self, choice: list[int], out_dir: Path) -> list[Path]:
        """``normal.png/.pdf`` and ``reduce.png/.pdf`` beside the result."""
        return draw_genotype(self.genotype(choice), out_dir)


def draw_genotype(genotype: Genotype, out_dir: Path) -> list[Path]:
    """Both cells of a genotype as DAGs: c_{k-2}, c_{k-1}, nodes 0..3, c_{k}."""
    paths = []
    for kind, pairs, concat in (
        ("normal", genotype.normal, genotype.normal_concat),
        ("reduce", genotype.reduce, genotype.reduce_concat),
    ):
        steps = len(pairs) // 2
        names = ["c_{k-2}", "c_{k-1}"] + [str(i) for i in range(steps)] + ["c_{k}"]
        edges = [(j, 2 + k // 2, op) for k, (op, j) in enumerate(pairs)]
        edges += [(i, len(names) - 1, "") for i in concat]
        paths += draw_dag(names, edges, Path(out_dir) / kind, f"{kind} cell")
    return paths
