"""The shared flat export of NATS-Bench tss 200-epoch test accuracies, read as is."""

import math

from freedarts_cli.benchmark.table import TableBenchmark

from .conftest import SHARED_TABLE, needs_shared_table

ALL_3X3 = (
    "|nor_conv_3x3~0|+"
    "|nor_conv_3x3~0|nor_conv_3x3~1|+"
    "|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
)
TEST_COLUMNS = ("cifar10_test", "cifar100_test", "imagenet16_120_test")


@needs_shared_table
def test_shared_table():
    bench = TableBenchmark(SHARED_TABLE)
    assert len(bench) == 15_625
    rows = [bench.query(arch) for arch in bench]
    best = [round(max(r[c] for r in rows), 2) for c in TEST_COLUMNS]
    assert best == [94.37, 73.51, 47.31]
    row = bench.query(ALL_3X3)
    assert row["cifar10_test"] > 93
    # No validation accuracies and no benchmark index in this file (row order is not the index).
    for key in ("benchmark_index", "cifar10_valid", "cifar100_valid", "imagenet16_120_valid"):
        assert math.isnan(row[key])
