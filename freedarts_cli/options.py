"""Option values are checked once, where a unit is built from its config: never coerced, never
left to a traceback deep inside torch (``space.N=abc``, ``space.C=-1``, ``n_models=0``).

The rule comes from the unit's own constructor, so a new unit is checked without a line here:
an option whose default is a bool must be a bool; an int default, an integer (positive where the
default is positive, non-negative where it is 0); a float default, a finite number. Options
without a default, or with a ``None`` default, are the unit's own business.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

from hydra.utils import get_object
from omegaconf import DictConfig

from .errors import UserError


def check_positive_int(option: str, value: Any, example: int, at_most: int | None = None) -> int:
    """A unit option that must be a positive integer (at most ``at_most``): ``data.batch_size=0``,
    ``-1``, ``1.5``, ``true`` or ``abc`` is one UserError naming the value, never coerced."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < 1
        or (at_most is not None and value > at_most)
    ):
        what = "a positive integer" if at_most is None else f"an integer from 1 to {at_most}"
        raise UserError(f"{option}={value} is not {what}: use e.g. {option}={example}")
    return value


def _problem(value: Any, default: Any) -> str | None:
    """What is wrong with ``value`` for an option whose default is ``default``."""
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "not true or false"
    if isinstance(value, bool):  # bool is an int subclass: seed=true is not 1
        return "a boolean, not a number"
    if isinstance(default, int):
        if not isinstance(value, int):
            return "not an integer"
        low = 1 if default > 0 else 0
        return None if value >= low else ("not a positive integer" if low else "negative")
    if isinstance(default, float):
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            return "not a finite number"
    return None


def check_unit_options(node: DictConfig) -> None:
    """Check every option of the unit ``node`` (and of the units nested in it) against its
    constructor's defaults; a bad one is a :class:`UserError` naming it, e.g. ``space.N=0 is
    not a positive integer: use e.g. space.N=5``."""
    target = node.get("_target_")
    try:
        # get_object, not get_class: a target may be a function (benchmark=auto), and get_class
        # logs an ERROR line for those
        params = inspect.signature(get_object(target)).parameters if target else {}
    except (ImportError, ValueError, TypeError):
        params = {}  # Hydra's instantiate names a bad _target_ itself
    for key in node:
        if str(key).startswith("_"):
            continue
        value = node[key]
        if isinstance(value, DictConfig):
            if "_target_" in value:
                check_unit_options(value)
            continue
        param = params.get(key)
        if param is None or param.default is inspect.Parameter.empty or param.default is None:
            continue
        why = _problem(value, param.default)
        if why is not None:
            raw = node._get_node(key)._value()  # the option the user set: ${n_models} -> n_models
            interpolated = isinstance(raw, str) and raw.startswith("${") and raw.endswith("}")
            name = raw[2:-1] if interpolated else node._get_full_key(key)
            example = (
                str(param.default).lower() if isinstance(param.default, bool) else param.default
            )
            raise UserError(f"{name}={value} is {why}: use e.g. {name}={example}")
