"""Shared test helpers: the ../shared ground truth and real CLI runs in subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_TABLE = REPO.parent / "shared" / "benchmarks" / "nb201" / "nats_tss_test_acc_200ep.csv"
CIFAR10_SUBSET = REPO.parent / "shared" / "data" / "cifar10_subset"
SUITE_ZERO = {  # NAS-Bench-Suite-Zero's CIFAR-10 sets (../shared/benchmarks/README.md)
    "darts": REPO.parent / "shared" / "benchmarks" / "nb301" / "suite_zero_darts_cifar10.csv",
    "nb101": REPO.parent / "shared" / "benchmarks" / "nb101" / "suite_zero_nb101_cifar10.csv",
}


@pytest.fixture
def shared_table() -> Path:
    """The NB201 ground-truth table beside the checkout (CI makes its absence an error)."""
    if not SHARED_TABLE.is_file():
        pytest.skip("../shared benchmark table absent (a clone outside the workspace)")
    return SHARED_TABLE


def suite_zero(space: str) -> Path:
    """The shared Suite-Zero set of ``space`` (darts or nb101), or a skip when it is absent."""
    if not SUITE_ZERO[space].is_file():
        pytest.skip(f"../shared/benchmarks Suite-Zero {space} set absent (a clone outside)")
    return SUITE_ZERO[space]


@pytest.fixture
def darts_set() -> Path:
    return suite_zero("darts")


@pytest.fixture
def nb101_set() -> Path:
    return suite_zero("nb101")


@pytest.fixture
def cifar10_subset() -> Path:
    """The real CIFAR-10 subset beside the checkout (../shared/data/cifar10_subset, holding
    cifar-10-batches-py/ with 4,660 training images); CI makes its absence an error."""
    if not (CIFAR10_SUBSET / "cifar-10-batches-py").is_dir():
        pytest.skip("../shared/data/cifar10_subset absent (a clone outside the workspace)")
    return CIFAR10_SUBSET


def freedarts(
    *args: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 600
) -> subprocess.CompletedProcess:
    """Run the real CLI (``python -m freedarts_cli``) as a user would, capturing its output."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("HYDRA_FULL_ERROR", None)  # users see Hydra's short errors, so do the tests
    return subprocess.run(
        [sys.executable, "-m", "freedarts_cli", *args],
        cwd=cwd or REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(autouse=True)
def one_thread():
    """Tests use small float64 networks: one torch thread is faster, and immune to a busy
    machine (OpenMP threads contending for the cores slowed them 10-100x)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def cli():
    return freedarts


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI (``FREEDARTS_NO_SKIPS=1``, set by .ci/run) a skipped test is a failure: a skip
    must never pass for a test that ran."""
    outcome = yield
    report = outcome.get_result()
    if (
        os.environ.get("FREEDARTS_NO_SKIPS") == "1"
        and report.skipped
        and not hasattr(report, "wasxfail")
    ):
        report.outcome = "failed"
        report.longrepr = f"skipped under FREEDARTS_NO_SKIPS=1: {report.longrepr}"


def loss_gradient_at(net, batch, alpha):
    """∂CE/∂α of ``net`` on ``batch`` with α set to ``alpha`` (plain backward, no double
    backward): the reference the α-Hessian scorers' finite-difference tests compare against."""
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        net.alpha.copy_(alpha)
    net.zero_grad()
    F.cross_entropy(net(batch.images), batch.labels).backward()
    return net.alpha.grad.clone()
