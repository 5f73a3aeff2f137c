from pathlib import Path

import pytest

from . import fixtures

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_TABLE = REPO_ROOT.parent / "shared" / "benchmarks" / "nb201" / "nats_tss_test_acc_200ep.csv"
needs_shared_table = pytest.mark.skipif(
    not SHARED_TABLE.is_file(), reason="../shared benchmark table absent"
)


@pytest.fixture
def nats_dir(tmp_path):
    return fixtures.build_nats_dir(tmp_path)


@pytest.fixture
def nb201_pth(tmp_path):
    return fixtures.build_nb201_pth(tmp_path)
