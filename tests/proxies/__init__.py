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


def nb201_cell_on_cifar10(root, batch_size):
    """A one-cell-per-stage NB201 network (seed 0) with every op kind, and a batch of the real
    CIFAR-10 subset under ``root``: the shared set-up of the proxies' real-data tests."""
    import torch

    from freedarts_cli.data import CIFAR
    from freedarts_cli.spaces.nb201 import NB201Space

    cpu = torch.device("cpu")
    batch = CIFAR("cifar10", root=str(root), batch_size=batch_size).batch(0, torch.float32, cpu)
    space = NB201Space(N=1)
    torch.manual_seed(0)
    net = space.network(
        space.parse(
            "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_3x3~1|"
            "none~2|"
        ),
        torch.float32,
        cpu,
    )
    return net, batch
