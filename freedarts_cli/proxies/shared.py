"""Shared passes: several proxies of one network scored from one forward/backward (issue 24).

Many proxies differ only in how they reduce the same computation. A proxy declares the
:class:`~.base.Pass` it reads (``@proxy(..., uses=PASS, reads=(part, ...))``); scored alone it
runs the pass for itself, and :func:`score_all` runs each pass once for every proxy that reads
it. The passes:

* :data:`BATCH` (here): the scoring batch through the network in train mode (batch statistics),
  once. Its parts: ``ce_grads``, the cross-entropy's gradients of every Conv2d/Linear weight
  (snip, grad_norm, plain); ``ce_graph``, the same kept differentiable (grasp's Hessian-vector
  product); ``layer_outputs``, each such layer's output with the cross-entropy's gradient of it
  (fisher); ``input_jacobian``, ``∂(Σ logits)/∂x`` (jacob_cov, epe_nas); ``relu_kernel``,
  NASWOT's ReLU agreement kernel (nwot). All of them read the same logits of the same images.
* :data:`.baselines.FLOPS`: the FLOP count (flops, az_complexity).
* :data:`.az_nas.FEATURES`: AZ-NAS's block features of 64 Gaussian images after its Kaiming
  re-initialisation (az_expressivity, az_progressivity, az_trainability).

Proxies that draw random numbers (a re-initialisation, Gaussian inputs) depend on torch's RNG
state when they start; :func:`score_all` gives every pass, and every proxy without one, the state
it was called with, so each value is the one ``PROXIES[name](net, batch)`` gives from that state
(``freedarts correlate`` seeds torch before each proxy, and before ``score_all``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..data import Batch
from .base import Pass, Proxy, ProxyError, data, grad, layers, removing, scoring_mode


def count_agreements(kernel: torch.Tensor, units: torch.Tensor) -> None:
    """Add to NASWOT's ``K_H`` (Mellor et al., ICML 2021, eq. 2) one ReLU's agreements: ``units``
    [N, ...] is the ReLU's input, ``c = units > 0`` each image's binary code and ``K[i, j] +=
    Σ c_i·c_j + (1−c_i)·(1−c_j)``, the number of units on which images i and j agree."""
    n = kernel.shape[0]
    # With s = 2c − 1 ∈ {±1}: agreements = (D + s·s')/2, one matmul instead of two. Float32 is
    # exact here: every partial sum is an integer below 2^24.
    s = (units.detach().reshape(n, -1) > 0).to(torch.float32) * 2 - 1
    kernel.add_((s @ s.T + s.shape[1]).to(torch.float64) / 2)


def relu_kernel_hooks(net: nn.Module, kernel: torch.Tensor) -> list:
    """Hooks adding every ``nn.ReLU``'s agreements to ``kernel`` (:func:`count_agreements`)."""
    return [
        m.register_forward_hook(lambda module, inputs, output: count_agreements(kernel, inputs[0]))
        for m in net.modules()
        if isinstance(m, nn.ReLU)
    ]


BATCH_PARTS = frozenset({"ce_grads", "ce_graph", "layer_outputs", "input_jacobian", "relu_kernel"})


def _batch_pass(net: nn.Module, batch: Batch, parts: frozenset[str]) -> dict:
    """:data:`BATCH`: one forward of the batch, then only the backward passes ``parts`` need.

    ``weights`` and ``ce_grads`` (lists over :func:`.base.layers`) come with ``ce_grads``,
    ``ce_graph`` or ``layer_outputs``; ``layer_outputs`` is a list of ``(layer, output,
    ∂L/∂output)``; ``input_jacobian`` [N, C, H, W]; ``relu_kernel`` [N, N] float64. The
    cross-entropy's gradients of weights and layer outputs are one backward pass."""
    unknown = parts - BATCH_PARTS
    if unknown:
        raise ValueError(f"pass batch has no part {sorted(unknown)}")
    x, y = data(net, batch)
    wants_ce = bool(parts & {"ce_grads", "ce_graph", "layer_outputs"})
    wants_jacobian = "input_jacobian" in parts
    outputs: list[tuple[nn.Module, torch.Tensor]] = []
    hooks = []
    if "layer_outputs" in parts:
        hooks += [
            layer.register_forward_hook(lambda m, i, out: outputs.append((m, out)))
            for layer in layers(net)
        ]
    result: dict = {}
    if "relu_kernel" in parts:
        result["relu_kernel"] = torch.zeros(len(x), len(x), dtype=torch.float64, device=x.device)
        hooks += relu_kernel_hooks(net, result["relu_kernel"])
    if wants_jacobian:
        x = x.clone().requires_grad_(True)
    # nwot alone needs no graph: its forward runs without one, as it always did
    with removing(hooks), torch.set_grad_enabled(wants_ce or wants_jacobian):
        logits = net(x)
    if wants_ce:
        weights = [layer.weight for layer in layers(net)]
        activations = [a for _, a in outputs]
        grads = grad(
            F.cross_entropy(logits, y),
            weights + activations,
            create_graph="ce_graph" in parts,
            # the Jacobian's backward runs through the same graph; grasp's through this one
            retain_graph=wants_jacobian or "ce_graph" in parts,
        )
        result["weights"], result["ce_grads"] = weights, grads[: len(weights)]
        result["layer_outputs"] = [
            (layer, a.detach(), g)
            for (layer, a), g in zip(outputs, grads[len(weights) :], strict=True)
        ]
    if wants_jacobian:
        # grasp's Hessian-vector product runs through the forward graph after this
        (result["input_jacobian"],) = grad(
            logits.sum(), [x], retain_graph="ce_graph" in parts or None
        )
    return result


#: The scoring batch through the network in train mode, once (module docstring).
BATCH = Pass("batch", _batch_pass)


class Scored(NamedTuple):
    """One proxy's result in :func:`score_all`: its value (NaN when it failed), the seconds it
    took (its own reduction plus an equal share of its pass), and the :class:`ProxyError` that
    made it fail, if any."""

    value: float
    seconds: float
    error: ProxyError | None = None


class _RngState:
    """torch's RNG state (CPU, and the network's CUDA device if it has one), to start every pass
    from the same state."""

    def __init__(self, net: nn.Module):
        device = next(net.parameters()).device
        self.cuda = device if device.type == "cuda" else None
        self.cpu = torch.get_rng_state()
        self.gpu = torch.cuda.get_rng_state(self.cuda) if self.cuda else None

    def restore(self) -> None:
        torch.set_rng_state(self.cpu)
        if self.cuda:
            torch.cuda.set_rng_state(self.gpu, self.cuda)


def score_all(
    proxies: Iterable[Proxy], net: nn.Module, batch: Batch | None = None
) -> dict[str, Scored]:
    """Score ``proxies`` on one network, each shared pass run once: ``{name: Scored}``, in the
    order given, each value equal to ``PROXIES[name](net, batch)`` called from the RNG state
    ``score_all`` was called with (up to float rounding where a pass computes parts together
    that a proxy alone computes without the others; ``tests/proxies/test_shared.py``).

    As a single call: the network is left as found, data-agnostic proxies get no batch, a
    proxy that needs one raises :class:`~freedarts_cli.errors.UserError` before anything
    runs. A non-finite value fails that proxy only (``Scored.error``, value NaN); any other
    exception propagates. All proxies must take the network's dtype (``freedarts correlate``
    builds one network per dtype and calls ``score_all`` once per network).
    """
    proxies = list(dict.fromkeys(proxies))
    for p in proxies:
        p.check_batch(batch)
    groups: dict[Pass | str, list[Proxy]] = {}
    for p in proxies:
        groups.setdefault(p.uses if p.uses is not None else p.name, []).append(p)
    rng = _RngState(net)
    done: dict[str, Scored] = {}
    for key, members in groups.items():
        rng.restore()
        if not isinstance(key, Pass):  # a proxy with a pass of its own
            (p,) = members
            start = time.perf_counter()
            try:
                value, error = p(net, batch if p.needs_data else None), None
            except ProxyError as err:
                value, error = math.nan, err
            done[p.name] = Scored(value, time.perf_counter() - start, error)
            continue
        parts = frozenset().union(*(p.reads for p in members))
        with scoring_mode(net):
            start = time.perf_counter()
            try:
                shared, failed = key.run(net, batch, parts), None
            except ProxyError as err:
                shared, failed = None, err
            share = (time.perf_counter() - start) / len(members)
            for p in members:
                start = time.perf_counter()
                value, error = math.nan, failed
                if failed is None:
                    try:
                        value = p.checked(p.score(net, batch if p.needs_data else None, shared))
                    except ProxyError as err:
                        value, error = math.nan, err
                done[p.name] = Scored(value, share + time.perf_counter() - start, error)
            del shared  # a kept graph (ce_graph) is freed before the next pass
    return {p.name: done[p.name] for p in proxies}
