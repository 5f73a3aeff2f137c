"""Zen-score (Lin et al., \"Zen-NAS: A Zero-Shot NAS for High-Performance Deep Image
Recognition\", ICCV 2021): how much the pre-pooling feature map moves under a small Gaussian
perturbation of a Gaussian input, corrected by the BN layers' scaling.

Also home of :func:`gaussian_reinit`, the standard-Gaussian re-initialisation Zen-NAS applies
before every score (``network_weight_gaussian_init``), shared with :mod:`.swap`, whose authors
copied it."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from ..data import Batch
from .base import proxy, removing

#: The authors' perturbation scale ``α`` (``--mixup_gamma 1e-2``).
ALPHA = 1e-2
#: Images per score: the batch size of the authors' CIFAR searches (``--batch_size 64`` in
#: ``scripts/Zen_NAS_cifar_params*.sh``); the search calls the score with ``repeat=1``.
BATCH = 64


@contextmanager
def keeping_parameters(net: nn.Module) -> Iterator[nn.Module]:
    """Every parameter's value saved on entry and put back on exit."""
    params = list(net.parameters())
    saved = [p.detach().clone() for p in params]
    try:
        yield net
    finally:
        with torch.no_grad():
            for p, value in zip(params, saved, strict=True):
                p.copy_(value)


def gaussian_draw(net: nn.Module) -> None:
    """Zen-NAS's ``network_weight_gaussian_init``, in place: every ``nn.Conv2d`` and
    ``nn.Linear`` weight drawn from N(0, 1) (torch's global RNG, in module order) and its bias
    zeroed, every ``BatchNorm2d``/``GroupNorm`` weight 1 and bias 0. Other parameters keep
    their values."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.normal_()
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.weight is not None:
                m.weight.fill_(1.0)
                m.bias.zero_()


@contextmanager
def gaussian_reinit(net: nn.Module) -> Iterator[nn.Module]:
    """:func:`gaussian_draw`, undone on exit."""
    with keeping_parameters(net):
        gaussian_draw(net)
        yield net


@contextmanager
def pre_gap_capture(net: nn.Module) -> Iterator[list]:
    """Record the network's pre-global-pooling feature map during the next forward passes
    (one entry per pass).

    The generic rule (no space needs a ``forward_pre_GAP``): the last 4-D output of any module
    with more than one spatial position, produced before the network's *last* ``nn.Linear`` is
    called (its classifier; SE-style Linears inside the body are called earlier and overwritten).
    On NAS-Bench-201 this is the output of ``lastact`` (BN-ReLU) that ``.mean(dim=(2, 3))``
    pools, exactly the map the NB201 ports of Zen (AZ-NAS, VKDNW: ``forward_pre_GAP`` returns
    ``lastact(feature)``) use; an ``nn.AdaptiveAvgPool2d`` output (1×1) is skipped, so with a
    pooling module its input is taken. A network without a Linear gives its last 4-D map."""
    maps: list = []
    state: dict = {"last": None, "at_linear": None}

    def record(module, inputs, output):
        if (
            isinstance(output, torch.Tensor)
            and output.dim() == 4
            and output.shape[2] * output.shape[3] > 1
        ):
            state["last"] = output

    def at_linear(module, inputs):
        state["at_linear"] = state["last"]

    def done(module, inputs, output):
        found = state["at_linear"] if state["at_linear"] is not None else state["last"]
        maps.append(found)
        state["last"] = state["at_linear"] = None

    hooks = [m.register_forward_hook(record) for m in net.modules() if m is not net]
    hooks += [
        m.register_forward_pre_hook(at_linear) for m in net.modules() if isinstance(m, nn.Linear)
    ]
    hooks.append(net.register_forward_hook(done))
    with removing(hooks):
        yield maps


def bn_log_scaling(net: nn.Module, passes: list[list[torch.Tensor]]) -> torch.Tensor:
    """``Σ_BN log sqrt(mean_c running_var_c)`` over every ``nn.BatchNorm2d``, read after the
    forward passes from freshly reset running statistics (running_var = 1, the state of the
    authors' newly built networks), i.e. each layer's own momentum mix of the passes' batch
    variances, as the authors' code reads it. A BN without running statistics uses the mean of
    its unbiased batch variances over the passes (``passes[i]``: that BN's batch variances)."""
    total = torch.zeros((), dtype=torch.float64)
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn, variances in zip(bns, passes, strict=True):
        if bn.running_var is not None:
            var = bn.running_var.to(torch.float64).mean()
        elif variances:
            var = torch.stack([v.to(torch.float64).mean() for v in variances]).mean()
        else:  # never ran and tracks nothing: the authors' untouched running_var of 1
            var = torch.ones((), dtype=torch.float64)
        total = total + 0.5 * torch.log(var.cpu())
    return total


@contextmanager
def _untracked_bn_variances(net: nn.Module) -> Iterator[list[list[torch.Tensor]]]:
    """Per ``BatchNorm2d`` (in ``net.modules()`` order), the unbiased batch variance per channel
    of every pass, recorded only for BNs that keep no running statistics."""
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    records: list[list[torch.Tensor]] = [[] for _ in bns]

    def hook_for(i):
        def hook(module, inputs, output):
            x = inputs[0].detach()
            records[i].append(x.transpose(0, 1).reshape(x.shape[1], -1).var(dim=1))

        return hook

    with removing(
        [
            bn.register_forward_hook(hook_for(i))
            for i, bn in enumerate(bns)
            if bn.running_var is None
        ]
    ):
        yield records


@proxy("zen", needs_data=False, floor=True)
def zen(net: nn.Module, batch: Batch | None = None):
    """Zen-score (Lin et al., ICCV 2021; the paper's Zen-score as the authors'
    ``ZeroShotProxy/compute_zen_score.py`` computes it; equation number not checked here):

    ``Zen = log E_n ‖f(x_n + α ε_n) − f(x_n)‖₁ + Σ_BN log sqrt(mean_c σ²_c)``

    with ``f`` the pre-global-pooling feature map (:func:`pre_gap_capture`), ``x, ε ~ N(0, 1)``
    (``BATCH`` = 64 images of ``net.input_shape``, torch's global RNG), ``α`` = 0.01, the L1 norm
    over C×H×W averaged over the batch, and ``σ²_c`` every ``BatchNorm2d``'s running variance
    after the two passes (:func:`bn_log_scaling`). As the authors: every weight re-drawn from
    N(0, 1) first (:func:`gaussian_reinit`, restored afterwards), BN in train mode (batch
    statistics), one repetition (their search's ``repeat=1``), no gradients. Data-agnostic: the
    NB201 ports (AZ-NAS, VKDNW) feed two real batches instead; this follows Zen-NAS.

    A network whose pre-pooling map ignores the input (every path crosses ``none``) has a zero
    difference: -inf, the lowest score (the authors' ``torch.log`` gives the same).

    Deviations: the pre-pooling map is found by a generic rule rather than a per-space
    ``forward_pre_GAP``; running statistics are reset before the passes (a fresh network's);
    the log terms are summed in float64.
    """
    p = next(net.parameters())
    shape = (BATCH, *net.input_shape)
    x = torch.randn(shape, dtype=p.dtype, device=p.device)
    eps = torch.randn(shape, dtype=p.dtype, device=p.device)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d) and m.track_running_stats:
            m.reset_running_stats()
    with (
        gaussian_reinit(net),
        torch.no_grad(),
        pre_gap_capture(net) as maps,
        _untracked_bn_variances(net) as variances,
    ):
        net(x)
        net(x + ALPHA * eps)
        diff = (maps[1] - maps[0]).abs().flatten(1).sum(dim=1).mean().to(torch.float64)
        scaling = bn_log_scaling(net, variances)
    if float(diff) == 0.0:
        return -math.inf
    return torch.log(diff.cpu()) + scaling
