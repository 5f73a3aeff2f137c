"""Candidate operations: what one edge of a cell can compute.

Search-time forms follow the NAS-Bench-201 code the FreeDARTS authors scored (METHOD.md §3):
convolutions are ReLU -> Conv -> BN with ``affine=False`` in the cell, pooling has no BN when the
shapes match, and ``none`` is ``0 · x`` so that its α still receives an (exactly zero) gradient.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn


class Zero(nn.Module):
    """The ``none`` op: ``0 · x`` (keeps the graph, so ∂R/∂α_none is computed and is exactly 0)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv(k, stride, padding, no bias) -> BN."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int,
                 affine: bool = False):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )


def _avg_pool_3x3(c: int, affine: bool = False) -> nn.Module:
    return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)


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
