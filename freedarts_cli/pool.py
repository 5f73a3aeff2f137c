"""3×3 average pooling (stride 1, zero padding excluded from the count) that is fast on the CPU.

NAS-Bench-201's ``avg_pool_3x3`` sits on every edge of the supernet. PyTorch's CPU kernel for it
(``count_include_pad=False``) loops over windows one output at a time: with a batch of 64
images it took a fifth of a SNIP-α pass, forward and backward together. Here the window sum is
nine shifted slices of the zero-padded input added over whole tensors, divided by the number of
real pixels in each window. The taps are added in PyTorch's own order (window rows, then
columns, starting from the top-left), so forward and backward equal ``nn.AvgPool2d`` bit for
bit (``tests/test_pool.py``). The window sum is linear and its own adjoint, so its backward is
the same window sum and derivatives of any order (GraSP-α's double backward) come for free.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_TAPS = [(i, j) for i in range(3) for j in range(3)]


def _window_sum(x: torch.Tensor) -> torch.Tensor:
    """Σ over each 3×3 window of the zero-padded input, taps in row-major order."""
    h, w = x.shape[-2:]
    padded = F.pad(x, (1, 1, 1, 1))
    total = padded[..., :h, :w].clone()
    for i, j in _TAPS[1:]:
        total.add_(padded[..., i : i + h, j : j + w])
    return total


class _WindowSum(torch.autograd.Function):
    """The 3×3 window sum; self-adjoint (symmetric window, zero padding), so backward is itself."""

    @staticmethod
    def forward(ctx, x):
        return _window_sum(x)

    @staticmethod
    def backward(ctx, grad):
        return _WindowSum.apply(grad)


_COUNTS: dict = {}


def _counts(h: int, w: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """How many real (not padding) pixels each window covers: 9 inside, 6 on edges, 4 in corners."""
    key = (h, w, dtype, device)
    if key not in _COUNTS:
        _COUNTS[key] = _window_sum(torch.ones(1, 1, h, w, dtype=dtype, device=device))
    return _COUNTS[key]


class AvgPool3x3(nn.AvgPool2d):
    """``nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)`` with the window-sum kernel
    on the CPU (GPU tensors take PyTorch's kernel)."""

    def __init__(self):
        super().__init__(3, stride=1, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu":
            return super().forward(x)
        h, w = x.shape[-2:]
        return _WindowSum.apply(x) / _counts(h, w, x.dtype, x.device)
