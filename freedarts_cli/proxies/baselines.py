"""The size baselines every training-free proxy is compared with, as VKDNW (Tybl & Neumann,
\"Training-free Neural Architecture Search through Variance of Knowledge of Deep Network
Weights\", CVPR 2025) reports them on NAS-Bench-201: FLOPs (Table 1, \"FLOPs\"), parameters
(#Params) and the number of trainable layers (Table 1, \"No. of trainable layers (ℵ)\").

VKDNW's FLOPs and parameters are NATS-Bench's ``get_compute_costs`` values, which the benchmark
computed with AutoDL's ``get_model_infos`` (``xautodl/utils/flop_benchmark.py``); ℵ is
VKDNW's ``vkdnw_dim``, ``len(list(model.named_parameters()))`` (``compute_vkdnw_score.py``).
These are shape counts: no data, no gradients, the same value for every initialisation.
"""

from __future__ import annotations

import torch
from torch import nn

from ..data import Batch
from .base import Pass, proxy, removing

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def forward_flops(net: nn.Module, input_shape) -> int:
    """Multiply-adds of one forward pass of one ``input_shape`` image, AutoDL's convention:
    per convolution ``out_elements · (C_in / groups) · Π kernel`` (+ ``out_elements`` with a
    bias), per linear layer ``rows · in · out`` (+ ``rows · out`` with a bias). BN, activations,
    pooling and additions count nothing (AutoDL hooks its pooling layers but leaves them out of
    the total). The network runs once in eval mode (BN on running statistics: a batch of one
    image needs no batch statistics) on an all-zero image, without gradients."""
    total = 0

    def conv(module, inputs, output):
        nonlocal total
        per_output = module.in_channels // module.groups
        for k in module.kernel_size:
            per_output *= k
        total += output.numel() * (per_output + (module.bias is not None))

    def linear(module, inputs, output):
        nonlocal total
        total += output.numel() * (module.in_features + (module.bias is not None))

    hooks = []
    for m in net.modules():
        if isinstance(m, _CONVS):
            hooks.append(m.register_forward_hook(conv))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear))
    modes = [(m, m.training) for m in net.modules()]
    p = next(net.parameters())
    try:
        net.eval()
        with removing(hooks), torch.no_grad():
            net(torch.zeros((1, *input_shape), dtype=p.dtype, device=p.device))
    finally:
        for m, mode in modes:
            m.training = mode
    return total


#: The FLOP count, shared by ``flops`` and ``az_complexity`` (one forward of one image).
FLOPS = Pass("flops", lambda net, batch, parts: {"flops": forward_flops(net, net.input_shape)})


@proxy("flops", needs_data=False, uses=FLOPS, reads=("flops",))
def flops(net: nn.Module, batch: Batch | None, shared: dict):
    """FLOPs (VKDNW Table 1 "FLOPs"): :func:`forward_flops` at ``net.input_shape``, in
    multiply-adds (NATS-Bench stores the same count divided by 10⁶, "MFLOPs"). On NAS-Bench-201
    it is a function of the cell's numbers of 1×1 and 3×3 convolutions only."""
    return float(shared["flops"])


@proxy("params", needs_data=False)
def params(net: nn.Module, batch: Batch | None = None):
    """#Params: ``Σ_p numel(p)`` over every parameter of the network, BN's affine weights and
    biases and the classifier included (AutoDL's ``count_parameters``, which NATS-Bench reports
    divided by 10⁶ or 2²⁰)."""
    return float(sum(p.numel() for p in net.parameters()))


@proxy("trainable_layers", needs_data=False)
def trainable_layers(net: nn.Module, batch: Batch | None = None):
    """No. of trainable layers ℵ (VKDNW Table 1), as VKDNW's code counts it (``vkdnw_dim``): the
    number of parameter tensors of the network (each weight and each bias counts once, affine
    BN layers count two).

    On NAS-Bench-201 with k convolutions per cell (of its 6 edges) that is ``21 + 45k`` (stem conv
    + BN = 3, 15 cells × 3k, two ResNet blocks × 7, last BN 2, classifier 2): an increasing
    function of the number of Conv2d/Linear layers ``8 + 15k``, so either ranks the space
    alike (with ties between cells of equal k).
    """
    return float(sum(1 for _ in net.parameters()))
