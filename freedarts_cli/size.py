"""Model size the way the papers report it: parameters (M) and multiply-adds (M).

Parameters are counted as DARTS' ``utils.count_parameters_in_MB`` does (every parameter whose name
does not contain ``auxiliary``, divided by 1e6). Multiply-adds count what the mobile-setting tables
count: every multiplication of a convolution and of a fully connected layer for one image; BN,
activations, pooling and additions are free.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def params_m(model: nn.Module, exclude: str = "auxiliary") -> float:
    """Parameters in millions, leaving out those whose name contains ``exclude``."""
    return sum(p.numel() for name, p in model.named_parameters() if exclude not in name) / 1e6


def macs_m(model: nn.Module, input_shape: Sequence[int]) -> float:
    """Multiply-adds in millions for one image of ``input_shape`` (C, H, W), from one forward
    pass in eval mode: ``out_elements · (C_in / groups) · k_h · k_w`` per convolution and
    ``in · out`` per linear layer."""
    total = 0

    def conv(module: nn.Conv2d, inputs, output):
        nonlocal total
        kh, kw = module.kernel_size
        total += output.numel() * (module.in_channels // module.groups) * kh * kw

    def linear(module: nn.Linear, inputs, output):
        nonlocal total
        total += output.numel() // module.out_features * module.in_features * module.out_features

    hooks = [m.register_forward_hook(conv) for m in model.modules() if isinstance(m, nn.Conv2d)]
    hooks += [m.register_forward_hook(linear) for m in model.modules() if isinstance(m, nn.Linear)]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            param = next(model.parameters())
            model(torch.zeros((1, *input_shape), dtype=param.dtype, device=param.device))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return total / 1e6
