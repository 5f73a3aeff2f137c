"""freedarts: training-free differentiable architecture search from the command line.

The Python API (:mod:`freedarts_cli.api`): ``from freedarts_cli import score, load_batch,
search, correlate``. It is imported on first use, so ``import freedarts_cli`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["UserError", "__version__", "correlate", "load_batch", "score", "search"]

if TYPE_CHECKING:
    from .api import correlate, load_batch, score, search
    from .errors import UserError


def __getattr__(name: str) -> Any:
    if name in ("correlate", "load_batch", "score", "search"):
        from . import api

        return getattr(api, name)
    if name == "UserError":
        from .errors import UserError

        return UserError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
