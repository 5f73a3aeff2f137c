"""TableBenchmark over small CSV / Parquet files written in tmp_path."""

import importlib.util
import math

import pandas as pd
import pytest

from freedarts_cli.benchmark.table import TableBenchmark
from freedarts_cli.errors import UserError

from .fixtures import ARCHS, MISSING_ARCH

HAS_PARQUET = any(importlib.util.find_spec(m) for m in ("pyarrow", "fastparquet"))


def write(tmp_path, text, name="t.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def frame():
    return pd.DataFrame(
        {
            "arch": ARCHS[:3],
            "cifar10_test": [94.0, 90.0, 10.0],
            "CIFAR100-Valid": [70.0, 65.0, 1.0],
            "arch_index": [11, 12, 13],
            "note": ["a", "b", "c"],
        }
    )


def test_own_names_aliases_and_index(tmp_path):
    path = tmp_path / "t.csv"
    frame().to_csv(path, index=False)
    bench = TableBenchmark(path)
    assert (bench.name, bench.source, len(bench)) == ("table", str(path), 3)
    row = bench.query(ARCHS[1])
    assert (row["cifar10_test"], row["cifar100_valid"], row["benchmark_index"]) == (90.0, 65.0, 12)
    assert isinstance(row["benchmark_index"], int)
    for col in ("cifar10_valid", "cifar100_test", "imagenet16_120_valid", "imagenet16_120_test"):
        assert math.isnan(row[col])
    row["cifar10_test"] = 0.0  # a caller's edit must not reach the table
    assert bench.query(ARCHS[1])["cifar10_test"] == 90.0


def test_no_index_column_gives_nan_not_the_row_number(tmp_path):
    path = write(tmp_path, f"acc,a\n93.5,{ARCHS[0]}\n")
    bench = TableBenchmark(path, columns={"cifar10_test": "acc"})
    assert bench.query(ARCHS[0])["cifar10_test"] == 93.5
    assert math.isnan(bench.query(ARCHS[0])["benchmark_index"])


def test_explicit_columns(tmp_path):
    path = write(tmp_path, f"x,y,z,id\n{ARCHS[0]},{ARCHS[1]},71.25,7\n")
    bench = TableBenchmark(path, arch_column="y", columns={"cifar100_test": "z"}, index_column="id")
    assert bench.query(ARCHS[1])["cifar100_test"] == 71.25
    assert bench.query(ARCHS[1])["benchmark_index"] == 7
    with pytest.raises(UserError, match="several architecture columns"):
        TableBenchmark(path, columns={"cifar100_test": "z"})


@pytest.mark.skipif(not HAS_PARQUET, reason="no Parquet engine (pip install -e '.[dev]')")
def test_parquet(tmp_path):
    path = tmp_path / "t.parquet"
    frame().to_parquet(path)
    assert TableBenchmark(path).query(ARCHS[0])["cifar10_test"] == 94.0


def test_parquet_without_engine_says_install_pyarrow(tmp_path, monkeypatch):
    import sys

    for engine in ("pyarrow", "fastparquet"):  # as if neither were installed
        monkeypatch.setitem(sys.modules, engine, None)
    path = write(tmp_path, "PAR1", name="t.parquet")
    with pytest.raises(UserError, match=r"t\.parquet.*pip install pyarrow"):
        TableBenchmark(path)


def test_missing_arch(tmp_path):
    path = tmp_path / "t.csv"
    frame().to_csv(path, index=False)
    with pytest.raises(UserError, match=r"nor_conv_1x1~2\|.*t\.csv"):
        TableBenchmark(path).query(MISSING_ARCH)


@pytest.mark.parametrize(
    "text, kwargs, message",
    [
        ("a,b\n1,2\n", {}, "no architecture column"),
        (f"arch,foo\n{ARCHS[0]},1\n", {}, "no accuracy column"),
        (f"arch,cifar10_test\n{ARCHS[0]},1\n{ARCHS[0]},2\n", {}, "more than once"),
        (f"arch,cifar10_test\n{ARCHS[0]},high\n", {}, "not numeric"),
        (f"arch,acc\n{ARCHS[0]},1\n", {"columns": {"cifar10": "acc"}}, "not one of"),
        (f"arch,acc\n{ARCHS[0]},1\n", {"columns": {"cifar10_test": "ac"}}, "no column 'ac'"),
        (f"arch,acc\n{ARCHS[0]},1\n", {"columns": ["acc"]}, "must map"),
        (f"arch,acc\n{ARCHS[0]},1\n", {"arch_column": "ar"}, "no column 'ar'"),
        (f"arch,cifar10_test\n{ARCHS[0]},1\n", {"index_column": "idx"}, "no column 'idx'"),
        ("", {}, "cannot read"),
    ],
)
def test_bad_tables(tmp_path, text, kwargs, message):
    path = write(tmp_path, text, name="bad_table.csv")
    with pytest.raises(UserError, match=message) as err:
        TableBenchmark(path, **kwargs)
    assert "\n" not in str(err.value)
    if "columns" not in kwargs:
        assert "bad_table.csv" in str(err.value)


def test_bad_paths(tmp_path):
    with pytest.raises(UserError, match="benchmark=table needs benchmark.path="):
        TableBenchmark(None)
    with pytest.raises(UserError, match="gone.csv"):
        TableBenchmark(tmp_path / "gone.csv")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\xfa\x00\x81\n\x90\x91,\xff\n")
    with pytest.raises(UserError, match="binary.csv"):
        TableBenchmark(binary)
