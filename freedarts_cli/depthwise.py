"""Depthwise convolution that stays fast in float64 on the CPU.

FreeDARTS scores in float64 (METHOD.md §1), and there PyTorch's CPU kernel runs a depthwise
convolution as one small convolution per channel: a SynFlow pass over the 8-cell DARTS supernet
makes ~18,000 such calls forward and as many backward, most of its time. Here the k×k taps are k²
multiply-adds over all channels at once instead. Each tap reads a *contiguous* slice of the
zero-padded input flattened row by row: on the padded grid, tap (i, j) is the shift
``i·dil·W_pad + j·dil``, so out[c, m] = Σ_taps w[c, tap] · x_flat[c, m + shift] holds for every
output position m of the padded-width grid; the columns that wrap into the padding are cut off at
the end. Strided convolutions compute the stride-1 result and subsample it.

The result equals ``F.conv2d(x, w, None, stride, padding, dilation, groups=C)`` up to rounding
(the taps are summed in another order); float32 and GPU tensors take PyTorch's own kernel.
"""

from __future__ import annotations

import torch
from torch import nn


def _geometry(shape, k: int, padding: int, dilation: int):
    """Padded width, rows and columns of the stride-1 output, and the flat shift of each tap."""
    h, w = shape[-2:]
    wp = w + 2 * padding
    span = dilation * (k - 1)
    rows, cols = h + 2 * padding - span, wp - span
    shifts = [i * dilation * wp + j * dilation for i in range(k) for j in range(k)]
    return wp, rows, cols, shifts


def _flat_padded(x: torch.Tensor, padding: int, k: int, dilation: int) -> torch.Tensor:
    """x zero-padded and flattened over (H, W), [B, C, L], with ``dilation·(k-1)`` spare zeros at
    the end so that the last output row's taps stay in range."""
    b, c, h, w = x.shape
    hp, wp = h + 2 * padding, w + 2 * padding
    flat = x.new_zeros(b, c, hp * wp + dilation * (k - 1))
    flat[..., : hp * wp].view(b, c, hp, wp)[:, :, padding : padding + h, padding : padding + w] = x
    return flat


def _taps(
    src: torch.Tensor,
    weight: torch.Tensor,
    shifts: list[int],
    length: int,
    transpose: bool,
    out: torch.Tensor,
) -> torch.Tensor:
    """Forward: out[..., m] += w[c, t] · src[..., m + shift_t]; transpose (the input gradient):
    out[..., m + shift_t] += w[c, t] · src[..., m]."""
    taps = weight.reshape(weight.shape[0], -1, 1).unbind(1)  # k² × [C, 1]
    for w, s in zip(taps, shifts, strict=True):
        if transpose:
            out.narrow(-1, s, length).addcmul_(src, w)
        else:
            out.addcmul_(src.narrow(-1, s, length), w)
    return out


class _DepthwiseTaps(torch.autograd.Function):
    """Depthwise correlation (PyTorch's conv2d convention) with input and weight gradients."""

    @staticmethod
    def forward(ctx, x, weight, stride: int, padding: int, dilation: int):
        b, c, h, w = x.shape
        k = weight.shape[-1]
        wp, rows, cols, shifts = _geometry(x.shape, k, padding, dilation)
        flat = _flat_padded(x, padding, k, dilation)
        full = x.new_zeros(b, c, rows * wp)
        _taps(flat, weight, shifts, rows * wp, False, full)
        out = full.view(b, c, rows, wp)[:, :, ::stride, :cols:stride]
        ctx.save_for_backward(flat if ctx.needs_input_grad[1] else None, weight)
        ctx.conf = (stride, padding, dilation, (h, w), (rows, wp, cols), shifts)
        return out.contiguous()

    @staticmethod
    def backward(ctx, grad_out):
        flat, weight = ctx.saved_tensors
        stride, padding, dilation, (h, w), (rows, wp, cols), shifts = ctx.conf
        b, c = grad_out.shape[:2]
        # The output gradient on the stride-1 padded-width grid: zero at the wrapped columns and
        # at the positions a stride skipped.
        g = grad_out.new_zeros(b, c, rows, wp)
        g[:, :, ::stride, :cols:stride] = grad_out
        g = g.view(b, c, rows * wp)
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            k = weight.shape[-1]
            gflat = grad_out.new_zeros(b, c, (h + 2 * padding) * wp + dilation * (k - 1))
            _taps(g, weight, shifts, rows * wp, True, gflat)
            grad_x = gflat[..., : (h + 2 * padding) * wp].view(b, c, h + 2 * padding, wp)
            grad_x = grad_x[:, :, padding : padding + h, padding : padding + w]
        if ctx.needs_input_grad[1]:
            n = rows * wp
            grad_w = torch.stack(
                [(g * flat[..., s : s + n]).sum(dim=(0, 2)) for s in shifts], dim=1
            ).view_as(weight)
        return grad_x, grad_w, None, None, None


class DepthwiseConv2d(nn.Conv2d):
    """``nn.Conv2d(c, c, k, stride, padding, dilation, groups=c, bias=False)`` whose float64 CPU
    forward uses the tap kernel above (same parameters, same state dict, same result)."""

    def __init__(
        self, channels: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1
    ):
        super().__init__(
            channels, channels, kernel, stride, padding, dilation, groups=channels, bias=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != torch.float64 or x.device.type != "cpu":
            return super().forward(x)
        return _DepthwiseTaps.apply(
            x, self.weight, self.stride[0], self.padding[0], self.dilation[0]
        )
