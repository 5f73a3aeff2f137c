"""Tests of the proxies, one file per proxy module; the small nets and batches they share."""
import torch
from torch import nn

from freedarts_cli.data import Batch

CPU = torch.device("cpu")
F64 = torch.float64


class Tiny(nn.Sequential):
    """A small MLP with the ``input_shape`` attribute every proxy may read."""

    def __init__(self, *layers, input_shape=(3,)):
        super().__init__(*layers)
        self.input_shape = input_shape


def tiny_batch(n=6, d=3, classes=2, seed=0):
    """``n`` float64 Gaussian rows of width ``d`` with uniform labels in ``range(classes)``."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=F64)
    y = torch.randint(classes, (n,), generator=g)
    return Batch(x, y, y)
