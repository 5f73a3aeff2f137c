"""Benchmark files are told apart by their first bytes before any loader reads them, and are read
without running anything in them (issue 11, point 5)."""

import bz2
import logging
import os
import pickle

import numpy as np
import pandas as pd
import pytest
import torch

from freedarts_cli.benchmark import file_kind, nats
from freedarts_cli.benchmark.auto import auto
from freedarts_cli.benchmark.nats import NatsBenchmark
from freedarts_cli.benchmark.nb201 import NB201Benchmark, load_pth
from freedarts_cli.benchmark.table import TableBenchmark
from freedarts_cli.errors import UserError
from freedarts_cli.safeload import TORCH_PICKLE_MODULE

from ..conftest import freedarts
from . import fixtures as fx

CSV = "CIFAR10TestAccuracy200Epochs,ArchitectureString\n" + "".join(
    f"{90 + i},{arch}\n" for i, arch in enumerate(fx.ARCHS)
)
SYSTEM = f"{os.system.__module__}.system"


class Payload:
    """Runs a shell command when unpickled by a plain pickle.load / torch.load."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"echo pwned > {self.marker}",)


@pytest.fixture
def torch_loads(monkeypatch):
    """Every torch.load call's keyword arguments, the real load still running."""
    calls, real = [], torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    return calls


@pytest.fixture
def no_torch_load(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("torch.load was called")

    monkeypatch.setattr(torch, "load", refuse)


def one_line_error(fn, *names):
    with pytest.raises(UserError) as info:
        fn()
    msg = str(info.value)
    assert "\n" not in msg
    for name in names:
        assert name in msg, msg
    return msg


def unrestricted(calls):
    """The torch.load calls that would unpickle arbitrary objects."""
    return [
        c
        for c in calls
        if c.get("weights_only") is False and c.get("pickle_module") is not TORCH_PICKLE_MODULE
    ]


@pytest.mark.parametrize(
    "content, kind",
    [
        (CSV.encode(), "a CSV text file"),
        (b"<html>Not found</html>", "a text file"),
        (b"", "an empty file"),
        (pickle.dumps({"a": 1}, protocol=4), "a plain Python pickle"),
        (bz2.compress(b"x"), "bz2"),
        (b"\x00\x01\x02\xff" * 16, "binary"),
    ],
)
def test_a_csv_passed_as_nb201_pth_is_refused_before_torch_load(
    tmp_path, no_torch_load, content, kind
):
    for name in ("table.csv", fx.NB201_FILE):
        path = tmp_path / name
        path.write_bytes(content)
        msg = one_line_error(lambda path=path: NB201Benchmark(path), name, kind, fx.NB201_FILE)
        assert ("benchmark=table" in msg) == (kind.endswith("text file")), msg


def test_auto_refuses_a_pth_that_is_not_a_torch_file_before_torch_load(
    tmp_path, monkeypatch, no_torch_load
):
    fake = tmp_path / "nb201.pth"
    fake.write_text(CSV)
    one_line_error(lambda: auto(fake), "nb201.pth", "CSV text file", "benchmark=table")
    # ... and an official name in ~/.torch holding a failed download's error page
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("TORCH_HOME", raising=False)
    monkeypatch.delenv("FREEDARTS_BENCHMARK", raising=False)
    (tmp_path / ".torch").mkdir()
    (tmp_path / ".torch" / fx.NB201_FILE).write_text("<html>quota exceeded</html>")
    one_line_error(auto, fx.NB201_FILE, "a text file")


@pytest.mark.parametrize("legacy", [True, False])
@pytest.mark.parametrize("with_tensor", [False, True])
def test_an_nb201_pth_pickle_payload_is_never_executed(tmp_path, legacy, with_tensor):
    marker = tmp_path / "pwned"
    # with a tensor first, the fallback (torch's weights_only loader) must refuse it too
    data = {"weights": torch.ones(2)} if with_tensor else {}
    data.update(
        {"meta_archs": list(fx.ARCHS), "arch2infos": {0: Payload(marker)}, "evaluated_indexes": {0}}
    )
    path = tmp_path / "evil.pth"
    torch.save(data, path, _use_new_zipfile_serialization=not legacy)
    one_line_error(lambda: NB201Benchmark(path), "evil.pth", "refused", SYSTEM, fx.NB201_FILE)
    assert not marker.exists()
    # the payload is real: an unrestricted load runs it
    torch.load(path, weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("legacy, numpy1", [(True, False), (False, False), (True, True)])
def test_the_official_nb201_format_loads_through_the_restricted_unpickler(
    tmp_path, torch_loads, legacy, numpy1
):
    path = fx.build_nb201_pth(tmp_path, legacy=legacy)
    if numpy1:  # the official file was written by numpy 1.x, which named numpy.core
        raw = path.read_bytes()
        assert b"numpy._core.multiarray\nscalar" in raw
        path.write_bytes(raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    bench = NB201Benchmark(path)
    assert bench.query(fx.ARCHS[0])["cifar10_test"] == fx.expected_row(0)["cifar10_test"]
    # one load, restricted: no fallback, and never torch.load(weights_only=False) unrestricted
    assert [c.get("pickle_module") for c in torch_loads] == [TORCH_PICKLE_MODULE]
    assert not unrestricted(torch_loads)


def test_a_pth_with_tensors_is_read_by_torchs_weights_only_loader(tmp_path, torch_loads):
    path = tmp_path / "t.pth"
    torch.save({"x": torch.arange(3), "n": np.float64(2.5), "s": {1}}, path)
    data = load_pth(path)
    assert torch.equal(data["x"], torch.arange(3)) and data["n"] == 2.5 and data["s"] == {1}
    assert [c.get("weights_only") for c in torch_loads] == [False, True]
    assert not unrestricted(torch_loads)


def test_a_table_that_is_a_torch_file_is_refused_before_pandas_reads_it(tmp_path, monkeypatch):
    monkeypatch.setattr(pd, "read_csv", lambda *a, **k: pytest.fail("read_csv was called"))
    path = tmp_path / "acc.csv"
    path.write_bytes(fx.build_nb201_pth(tmp_path / "pth").read_bytes())
    one_line_error(lambda: TableBenchmark(path), "acc.csv", "torch.save", "benchmark=nb201")
    path = tmp_path / "acc.parquet"
    path.write_text(CSV)
    one_line_error(lambda: TableBenchmark(path), "acc.parquet", "CSV text file", "not Parquet")


def _write_pbz2(path, obj):
    with bz2.BZ2File(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=4)


def test_a_nats_meta_pickle_payload_is_refused_before_nats_bench_unpickles_it(nats_dir, tmp_path):
    marker = tmp_path / "pwned"
    _write_pbz2(nats_dir / "meta.pickle.pbz2", {"meta_archs": Payload(marker)})
    one_line_error(lambda: NatsBenchmark(nats_dir), "meta.pickle.pbz2", "refused", SYSTEM)
    assert not marker.exists()


def test_a_nats_arch_file_pickle_payload_is_refused_before_nats_bench_unpickles_it(
    nats_dir, tmp_path
):
    marker = tmp_path / "pwned"
    bench = NatsBenchmark(nats_dir)
    _write_pbz2(nats_dir / "000001.pickle.pbz2", {"200": Payload(marker)})
    one_line_error(lambda: bench.query(fx.ARCHS[1]), "000001.pickle.pbz2", "refused", SYSTEM)
    assert not marker.exists()
    assert bench.query(fx.ARCHS[0])["cifar10_test"] == fx.expected_row(0)["cifar10_test"]


def test_a_nats_meta_that_is_not_bz2_is_refused_by_its_kind(nats_dir):
    (nats_dir / "meta.pickle.pbz2").write_text(CSV)
    one_line_error(
        lambda: NatsBenchmark(nats_dir), "meta.pickle.pbz2", "a CSV text file", "not bz2-compressed"
    )


def test_nats_warns_once_that_the_official_api_unpickles_fully(nats_dir, monkeypatch, caplog):
    monkeypatch.setattr(nats, "_warned", False)
    with caplog.at_level(logging.WARNING, logger="freedarts.benchmark"):
        NatsBenchmark(nats_dir)
        NatsBenchmark(nats_dir)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "unpickles NATS-Bench files fully" in warnings[0], warnings


@pytest.mark.parametrize(
    "content, kind",
    [
        (b"PK\x03\x04junk", "zip"),
        (b"\x80\x04\x95junk", "pickle"),
        (b"BZh91AY", "bz2"),
        (b"\x1f\x8b\x08", "gzip"),
        (b"PAR1\x15\x04", "parquet"),
        (b"a,b\n1,2\n", "csv"),
        (b"hello\n", "text"),
        ("é,ü\n".encode() * 2000, "csv"),
        (b"", "empty"),
        (b"\x00\x01\x02", "binary"),
    ],
)
def test_file_kind_reads_the_first_bytes(tmp_path, content, kind):
    path = tmp_path / "f"
    path.write_bytes(content)
    assert file_kind(path) == kind


def test_file_kind_tells_both_torch_save_formats(tmp_path):
    assert file_kind(fx.build_nb201_pth(tmp_path / "a")) == "torch-legacy"
    assert file_kind(fx.build_nb201_pth(tmp_path / "b", legacy=False)) == "torch-zip"


def test_a_csv_given_as_nb201_is_one_error_line_from_the_cli_fast(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text(CSV * 2000)
    out = freedarts(
        "search",
        "benchmark=nb201",
        f"benchmark.path={path}",
        "space.N=1",
        f"hydra.run.dir={tmp_path / 'run'}",
        cwd=tmp_path,
        timeout=120,
    )
    assert out.returncode == 2, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "table.csv" in lines[0] and "CSV" in lines[0], out.stderr
    assert "Traceback" not in out.stderr + out.stdout
