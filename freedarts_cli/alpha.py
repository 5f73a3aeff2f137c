"""The architecture tensor α: its scale ``a``, its initialisation and its op mask."""

from __future__ import annotations

import math

import torch

from .errors import UserError


def check_scale(a: object) -> float:
    """``a`` is FreeDARTS' only hyperparameter; it must be a positive finite number."""
    try:
        if isinstance(a, bool):  # a=true is not 1.0
            raise TypeError
        value = float(a)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise UserError(f"a={a!r} is not a number: pass a positive scale such as a=1e-3") from None
    if not math.isfinite(value) or value <= 0:
        raise UserError(
            f"a={a!r} is not a positive finite number: pass e.g. a=1e-3 "
            "(the method is robust for 1e-5 <= a <= 1e-2)"
        )
    return value


def draw_alpha(alpha: torch.Tensor, a: float) -> None:
    """α = a · N(0, 1), in place (METHOD.md §1); drawn after the weights, as the authors do.

    Drawn in float64 whatever α's dtype: torch's float32 and float64 normal streams differ, and a
    float32 run must see the float64 run's α rounded, so that comparing numerics compares only
    numerics (the weights are drawn the same way, ``Network.initialise``)."""
    with torch.no_grad():
        alpha.copy_(a * torch.randn(alpha.shape, dtype=torch.float64, device="cpu"))


def active_ops(mask: torch.Tensor) -> list[list[int]]:
    """Per edge, the indices of the ops not yet pruned (plain lists: read once per round)."""
    return [row.nonzero().flatten().tolist() for row in mask.cpu()]
