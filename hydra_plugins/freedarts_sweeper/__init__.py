"""``hydra/sweeper=freedarts``: Hydra's basic sweeper, naming every failed job at the end.

Hydra takes plugins only from the ``hydra_plugins`` namespace, so the class lives here; what it
does is in :mod:`freedarts_cli.sweep`."""

from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

from freedarts_cli.sweep import sweep_reporting_failures


class FreedartsSweeper(BasicSweeper):
    """Same overrides, batches and job numbering as the basic sweeper; every batch runs, and
    the sweep ends with one line per failed job (its overrides and reason)."""

    def sweep(self, arguments: list[str]) -> Any:
        return sweep_reporting_failures(
            self, lambda args: BasicSweeper.sweep(self, args), arguments
        )
