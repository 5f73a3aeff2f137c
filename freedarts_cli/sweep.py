"""Multirun sweeps that name every failed job and resume.

Hydra's basic sweeper stops at the first failed job's result and names only that one; a sweep of
a hundred runs then hides why the others failed. ``FreedartsSweeper`` (``hydra/sweeper:
freedarts``, in ``hydra_plugins.freedarts_sweeper``, the default of ``freedarts search`` and
``correlate``) runs every batch, then ends with one line per failed job, its overrides and its
reason, whatever the launcher (basic, joblib, submitit: each hands back Hydra's ``JobReturn``).
Resuming is done by the jobs themselves (:mod:`.rundir`: a job whose folder holds its finished
run returns :data:`SKIPPED`); the sweep counts them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import CompactHydraException

log = logging.getLogger("freedarts")

RAN, SKIPPED = "ran", "skipped"
_started = False


def job_started() -> None:
    """A job (or a sweep's launch) began: from here on, exit 1 means a failed job, not bad
    input (:func:`freedarts_cli.cli.main`)."""
    global _started
    _started = True


def was_started() -> bool:
    return _started


class JobFailed(CompactHydraException):
    """A sweep job's user error (its one line is the job's reason), not a traceback."""


class SweepFailed(CompactHydraException):
    """Hydra prints its message (every failed job) and exits 1."""


def reason(ret: JobReturn) -> str:
    """A failed job's one-line reason: our error message, or the exception's type and text
    with the log that holds its traceback."""
    err = ret._return_value
    if isinstance(err, JobFailed):
        return str(err)
    text = f"{type(err).__name__}: {err}".splitlines()[0]
    out = ret.hydra_cfg.hydra.runtime.output_dir if ret.hydra_cfg is not None else None
    job = ret.hydra_cfg.hydra.job.name if ret.hydra_cfg is not None else "job"
    return f"{text} (traceback in {out}/{job}.log)" if out else text


def failure_report(returns: Sequence[JobReturn], first_job: int = 0) -> list[str]:
    """One line per failed job: ``failed: job <n> <overrides>: <reason>``."""
    return [
        f"failed: job {first_job + i} {' '.join(ret.overrides or [])}: {reason(ret)}"
        for i, ret in enumerate(returns)
        if ret.status == JobStatus.FAILED
    ]


class Recorder:
    """The launcher, but a failed job's return is kept aside instead of stopping the sweep."""

    def __init__(self, launcher: Any) -> None:
        self.launcher, self.failed, self.done, self.skipped = launcher, [], 0, 0

    def launch(self, job_overrides, initial_job_idx: int) -> Sequence[JobReturn]:
        job_started()  # every job's config composed (the sweeper validated the batch)
        returns = self.launcher.launch(job_overrides, initial_job_idx=initial_job_idx)
        self.failed += failure_report(returns, initial_job_idx)
        for ret in returns:
            if ret.status == JobStatus.FAILED:
                ret.status, ret._return_value = JobStatus.COMPLETED, None  # reported above
            else:
                self.done += 1
                self.skipped += ret._return_value == SKIPPED
        return returns


def sweep_reporting_failures(sweeper: Any, sweep: Any, arguments: list[str]) -> Any:
    """Run ``sweep(arguments)`` (Hydra's) with the sweeper's launcher recording failed jobs;
    then log how many jobs resumed, and raise :class:`SweepFailed` naming every failed one."""
    recorder = Recorder(sweeper.launcher)
    sweeper.launcher = recorder
    try:
        returns = sweep(arguments)
    finally:
        sweeper.launcher = recorder.launcher
    total = recorder.done + len(recorder.failed)
    if recorder.skipped:
        log.info("resumed: %d of %d jobs had finished already (skipped)", recorder.skipped, total)
    if recorder.failed:
        n = len(recorder.failed)
        tally = (
            f"all {n} sweep jobs failed"
            if n == total
            else f"{n} of {total} sweep jobs failed, {total - n} finished"
        )
        raise SweepFailed("\n".join([*recorder.failed, f"{tally} (failures named above)"]))
    return returns
