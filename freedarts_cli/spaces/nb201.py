"""NAS-Bench-201: the cell-based space of Dong & Yang (2020), as scored by FreeDARTS.

The supernet is the one the authors scored (``TinyNetworkDartsV1``, METHOD.md §3): C=16, three
stages of N=5 cells (16/32/64 channels) joined by ResNet basic blocks, one α of shape 6×5 shared
by all 15 cells, edges ordered ``1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2``.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import torch
from torch import nn

from ..edge import MixedEdge, dense_cell
from ..genotype import NB201_RE, argmax_choice, nb201_string, parse_nb201
from ..op import NB201_OPS, ReLUConvBN
from ..picture import draw_dag
from ..supernet import Network, Supernet

EDGES = ["1<-0", "2<-0", "2<-1", "3<-0", "3<-1", "3<-2"]
OPS = list(NB201_OPS)


class SearchCell(nn.Module):
    """Nodes 0..3; node i = Σ_{j<i} edge(i<-j)(node j); the cell outputs node 3."""

    def __init__(self, c: int):
        super().__init__()
        self.edges = nn.ModuleList(
            MixedEdge([make(c) for make in NB201_OPS.values()]) for _ in EDGES
        )

    def forward(self, x, alpha, active):
        return dense_cell(self.edges, [x], 4, alpha, active)[-1]


class DiscreteCell(nn.Module):
    """A cell of one architecture: one op per edge, no α, affine BNs (NAS-Bench-201's
    ``InferCell``, the network the benchmark trained)."""

    def __init__(self, c: int, choice: list[int]):
        super().__init__()
        self.edges = nn.ModuleList(NB201_OPS[OPS[k]](c, affine=True) for k in choice)

    def forward(self, x, alpha=None, active=None):
        nodes, e = [x], 0
        for i in range(1, 4):
            total = self.edges[e](nodes[0])
            for j in range(1, i):
                total = total + self.edges[e + j](nodes[j])
            e += i
            nodes.append(total)
        return nodes[-1]


class ResNetBasicBlock(nn.Module):
    """Stride-2 reduction between stages: ``down(x) + conv_b(conv_a(x))``, affine BNs."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1, affine=True)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1, affine=True)
        self.down = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x, alpha=None, active=None):
        return self.down(x) + self.conv_b(self.conv_a(x))


class _Skeleton(nn.Module):
    """NAS-Bench-201's macro network: stem, three stages of N cells (C, 2C, 4C channels) joined
    by ResNet basic blocks, BN-ReLU, global average pooling, linear classifier."""

    def _build(self, C: int, N: int, num_classes: int, make_cell) -> None:
        self.stem = nn.Sequential(nn.Conv2d(3, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        layers, c = [], C
        for stage, width in enumerate((C, 2 * C, 4 * C)):
            if stage:
                layers.append(ResNetBasicBlock(c, width))
                c = width
            layers.extend(make_cell(c) for _ in range(N))
        self.cells = nn.ModuleList(layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU())
        self.classifier = nn.Linear(c, num_classes)

    def _forward(self, x: torch.Tensor, alpha=None, active=None) -> torch.Tensor:
        x = self.stem(x)
        for cell in self.cells:
            x = cell(x, alpha, active)
        x = self.lastact(x).mean(dim=(2, 3))
        return self.classifier(x)


class NB201Supernet(Supernet, _Skeleton):
    """The scored supernet (``TinyNetworkDartsV1``): every cell is a :class:`SearchCell`."""

    def __init__(
        self, a: float, C: int = 16, N: int = 5, num_classes: int = 10, input_size: int = 32
    ):
        super().__init__(EDGES, OPS, a, (3, input_size, input_size))
        self._build(C, N, num_classes, SearchCell)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._forward(x, self.alpha_weights(), self.active)


class NB201Network(Network, _Skeleton):
    """The network of one architecture (what the benchmark trained), for the rivals' proxies."""

    def __init__(
        self,
        choice: list[int],
        C: int = 16,
        N: int = 5,
        num_classes: int = 10,
        input_size: int = 32,
    ):
        super().__init__()
        self.input_shape = (3, input_size, input_size)
        self.choice = list(choice)
        self._build(C, N, num_classes, lambda c: DiscreteCell(c, self.choice))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._forward(x)


ZERO = "#"  # the expression of a node that is zero whatever the input


def isomorphism_key(choice: list[int], ops: list[str] = OPS) -> str:
    """The isomorphism class of an NB201 cell: the expression its output node computes, as
    NAS-Bench-201 defines it (Dong & Yang 2020; the ``UniqueString`` column of the shared table,
    ``Structure.to_unique_str(consider_zero=True)`` of the NAS-Bench-201 code).

    Node 0 is ``0``; an edge j -> i contributes ``#`` when its op is ``none`` or node j is
    ``#``, node j's expression itself for ``skip_connect``, and ``(node j)@op`` otherwise; a
    node is its contributions sorted and joined by ``+`` (the sum is commutative). Cells with
    the same key compute the same function of the input. The key is not the coarsest one: a
    node that sums two zeros is ``#+#``, not ``#``, so 15,625 cells make 6,466 classes, exactly
    the table's. Weights whose output is always zero (an op reading a ``#`` node) are not in the
    key, so parameter counts can differ inside a class."""
    nodes = ["0"]
    e = 0
    for i in range(1, 4):
        terms = []
        for j in range(i):
            op = ops[choice[e + j]]
            if op == "none" or nodes[j] == ZERO:
                terms.append(ZERO)
            elif op == "skip_connect":
                terms.append(nodes[j])
            else:
                terms.append(f"({nodes[j]})@{op}")
        e += i
        nodes.append("+".join(sorted(terms)))
    return nodes[-1]


class NB201Space:
    """The ``space=nb201`` unit: builds the supernet and names its genotypes."""

    name = "nb201"
    edges = EDGES
    ops = OPS
    arch_pattern = NB201_RE  # what this space's strings look like (study_space tells by it)
    title = "NB201"  # how figures name the space
    removals = "op"  # iterative pruning: one op per round, journal Algorithm 1 (24 rounds)

    def __init__(self, C: int = 16, N: int = 5, num_classes: int = 10, input_size: int = 32):
        self.C, self.N, self.num_classes, self.input_size = C, N, num_classes, input_size

    def resized(self, **sizes) -> NB201Space:
        """The same space at other sizes (``C``, ``N``): e.g. a shallower supernet to train,
        while the benchmark's networks keep theirs."""
        return NB201Space(
            **{
                "C": self.C,
                "N": self.N,
                "num_classes": self.num_classes,
                "input_size": self.input_size,
                **sizes,
            }
        )

    def build_supernet(self, a: float, dtype: torch.dtype, device: torch.device) -> NB201Supernet:
        """Construct, move to ``dtype``/``device``, then draw fresh weights and α."""
        net = NB201Supernet(a, self.C, self.N, self.num_classes, self.input_size)
        return net.materialise(dtype, device)

    def network(self, choice: list[int], dtype: torch.dtype, device: torch.device) -> NB201Network:
        """The discrete network of one architecture, freshly initialised."""
        net = NB201Network(choice, self.C, self.N, self.num_classes, self.input_size)
        return net.materialise(dtype, device)

    def sample(self, generator: torch.Generator) -> list[int]:
        """A uniformly random architecture: one op per edge (5^6 = 15,625 cells)."""
        return torch.randint(len(self.ops), (len(self.edges),), generator=generator).tolist()

    def mutate(self, choice: list[int], generator: torch.Generator) -> list[int]:
        """One edge changed to a different op (the aging-evolution move)."""
        child = list(choice)
        e = int(torch.randint(len(self.edges), (1,), generator=generator))
        other = [k for k in range(len(self.ops)) if k != child[e]]
        child[e] = other[int(torch.randint(len(other), (1,), generator=generator))]
        return child

    def parse(self, arch: str) -> list[int]:
        """Inverse of :meth:`decode`."""
        return parse_nb201(arch, self.ops)

    def architectures(self) -> list[list[int]]:
        """Every cell of the space (5^6 = 15,625), in a fixed order (the last edge fastest):
        ``freedarts correlate`` samples from this list."""
        return [list(c) for c in itertools.product(range(len(self.ops)), repeat=len(self.edges))]

    def canonical(self, choice: list[int]) -> str:
        """The cell's isomorphism class (:func:`isomorphism_key`): ``freedarts correlate
        dedup=true`` scores one cell per class."""
        return isomorphism_key(choice, self.ops)

    def decode(self, choice: list[int]) -> str:
        """One op per edge -> the NAS-Bench-201 architecture string."""
        return nb201_string(choice, self.ops)

    def discretise(self, scores: torch.Tensor, mask: torch.Tensor) -> list[int]:
        """METHOD.md §2: the op with the largest score on every edge (``none`` allowed)."""
        return argmax_choice(scores, mask)

    def describe(self, choice: list[int]) -> dict:
        """No extra result columns: the benchmark knows these networks."""
        return {}

    def draw(self, choice: list[int], out_dir: Path) -> list[Path]:
        """``cell.png/.pdf``: nodes 0..3, one arrow per edge that is not ``none``."""
        edges = [
            (int(e[-1]), int(e[0]), self.ops[k])
            for e, k in zip(self.edges, choice, strict=True)
            if self.ops[k] != "none"
        ]
        return draw_dag(["0", "1", "2", "3"], edges, Path(out_dir) / "cell", "NB201 cell")

    def is_discrete(self, mask: torch.Tensor) -> bool:
        """Iterative pruning stops when every edge holds exactly one op (24 rounds on NB201)."""
        return bool((mask.sum(dim=1) == 1).all())
