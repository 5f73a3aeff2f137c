"""Candidate operations: what one edge of a cell can compute.

Two op sets: ``NB201_OPS`` and ``DARTS_OPS``. Search-time forms follow the code the FreeDARTS
authors scored (METHOD.md §3): convolutions are ReLU -> Conv -> BN with ``affine=False`` in the
cell; NB201 pooling has no BN, DARTS search pooling has a non-affine one; ``none`` is ``0 · x`` so
that its α still receives an (exactly zero) gradient.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .depthwise import DepthwiseConv2d
from .pool import AvgPool3x3


class Zero(nn.Module):
    """The ``none`` op: ``0 · x`` (keeps the graph, so ∂R/∂α_none is computed and is exactly 0)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv(k, stride, padding, no bias) -> BN."""

    def __init__(
        self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool = False
    ):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )


def _avg_pool_3x3(c: int, affine: bool = False) -> nn.Module:
    return AvgPool3x3()


#: NAS-Bench-201's operation set, in the column order of α (index 0 is ``none``). Each entry
#: takes the channel count and whether BNs are affine (search cells: no; the benchmark's
#: trained networks: yes).
NB201_OPS: dict[str, Callable[..., nn.Module]] = {
    "none": lambda c, affine=False: Zero(),
    "skip_connect": lambda c, affine=False: nn.Identity(),
    "nor_conv_1x1": lambda c, affine=False: ReLUConvBN(c, c, 1, 1, 0, affine),
    "nor_conv_3x3": lambda c, affine=False: ReLUConvBN(c, c, 3, 1, 1, affine),
    "avg_pool_3x3": _avg_pool_3x3,
}


# --- DARTS (Liu et al., ICLR 2019): the operation set of the DARTS CNN space --------------------
#
# The ops with weights take ``edges``: one module then holds the weights of that op on ``edges``
# mixed edges that read the same node, laid out edge after edge along the channels (input and
# output ``[B, edges·C, H, W]``), so a search cell runs each op once per node instead of once per
# edge (``spaces.darts.FanOut``). ``edges=1`` is the op exactly as DARTS defines it.


class SepConv(nn.Sequential):
    """DARTS' separable convolution: (ReLU, depthwise k×k, pointwise 1×1, BN) twice, the first
    with the edge's stride."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: int,
        stride: int,
        padding: int,
        affine: bool = False,
        edges: int = 1,
    ):
        super().__init__(
            nn.ReLU(inplace=False),
            DepthwiseConv2d(edges * c_in, kernel, stride, padding),
            nn.Conv2d(edges * c_in, edges * c_in, 1, groups=edges, bias=False),
            nn.BatchNorm2d(edges * c_in, affine=affine),
            nn.ReLU(inplace=False),
            DepthwiseConv2d(edges * c_in, kernel, 1, padding),
            nn.Conv2d(edges * c_in, edges * c_out, 1, groups=edges, bias=False),
            nn.BatchNorm2d(edges * c_out, affine=affine),
        )


class DilConv(nn.Sequential):
    """DARTS' dilated separable convolution: ReLU, dilated depthwise k×k, pointwise 1×1, BN."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: int,
        stride: int,
        padding: int,
        dilation: int,
        affine: bool = False,
        edges: int = 1,
    ):
        super().__init__(
            nn.ReLU(inplace=False),
            DepthwiseConv2d(edges * c_in, kernel, stride, padding, dilation),
            nn.Conv2d(edges * c_in, edges * c_out, 1, groups=edges, bias=False),
            nn.BatchNorm2d(edges * c_out, affine=affine),
        )


class FactorizedReduce(nn.Module):
    """Halve the resolution without losing pixels: ReLU, two stride-2 1×1 convs on offset grids,
    concatenated, BN (DARTS' skip_connect at stride 2 and its preprocessing after a reduction)."""

    def __init__(self, c_in: int, c_out: int, affine: bool = False, edges: int = 1):
        super().__init__()
        self.edges = edges
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(
            edges * c_in, edges * (c_out // 2), 1, stride=2, groups=edges, bias=False
        )
        self.conv_2 = nn.Conv2d(
            edges * c_in, edges * (c_out - c_out // 2), 1, stride=2, groups=edges, bias=False
        )
        self.bn = nn.BatchNorm2d(edges * c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        y1, y2 = self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])
        b, _, h, w = y1.shape
        # each edge's channels: its conv_1 half, then its conv_2 half
        y = torch.cat([y1.view(b, self.edges, -1, h, w), y2.view(b, self.edges, -1, h, w)], 2)
        return self.bn(y.view(b, -1, h, w))


class StridedZero(nn.Module):
    """``none`` on a stride-2 edge: ``0 · x`` at the reduced resolution."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, ::2, ::2].mul(0.0)


def _darts_pool(pool: type, c: int, stride: int, affine: bool, search: bool) -> nn.Module:
    layer = pool(
        3,
        stride=stride,
        padding=1,
        **({"count_include_pad": False} if pool is nn.AvgPool2d else {}),
    )
    # DARTS' search cell follows every pooling op with a non-affine BN (model_search.MixedOp)
    # so that its scale matches the conv ops'; the evaluation network has none.
    return nn.Sequential(layer, nn.BatchNorm2d(c, affine=False)) if search else layer


#: DARTS' ``PRIMITIVES`` in α's column order. Each entry is ``make(c, stride, affine, search,
#: edges=1)``: ``search=True`` gives the search-cell form (BN after pooling, ``affine=False``).
#: The parameter-free ops (``none``, pooling, identity) ignore ``edges``: their output is the same
#: on every edge that reads the node, so one module serves them all.
DARTS_OPS: dict[str, Callable[..., nn.Module]] = {
    "none": lambda c, stride, affine, search, edges=1: Zero() if stride == 1 else StridedZero(),
    "max_pool_3x3": lambda c, stride, affine, search, edges=1: _darts_pool(
        nn.MaxPool2d, c, stride, affine, search
    ),
    "avg_pool_3x3": lambda c, stride, affine, search, edges=1: _darts_pool(
        nn.AvgPool2d, c, stride, affine, search
    ),
    "skip_connect": lambda c, stride, affine, search, edges=1: (
        nn.Identity() if stride == 1 else FactorizedReduce(c, c, affine, edges)
    ),
    "sep_conv_3x3": lambda c, stride, affine, search, edges=1: SepConv(
        c, c, 3, stride, 1, affine, edges
    ),
    "sep_conv_5x5": lambda c, stride, affine, search, edges=1: SepConv(
        c, c, 5, stride, 2, affine, edges
    ),
    "dil_conv_3x3": lambda c, stride, affine, search, edges=1: DilConv(
        c, c, 3, stride, 2, 2, affine, edges
    ),
    "dil_conv_5x5": lambda c, stride, affine, search, edges=1: DilConv(
        c, c, 5, stride, 4, 2, affine, edges
    ),
}
