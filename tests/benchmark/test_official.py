"""NatsBenchmark and NB201Benchmark over tiny sources in the official formats, read by the real
nats_bench / nas_201_api packages."""

import math

import nats_bench
import pytest

from freedarts_cli.benchmark import ACCURACY_COLUMNS
from freedarts_cli.benchmark.nats import NatsBenchmark
from freedarts_cli.benchmark.nb201 import NB201Benchmark
from freedarts_cli.errors import UserError

from . import fixtures as fx

NO_IMAGENET = ("cifar10-valid", "cifar10", "cifar100")


def same(row, expected):
    assert set(row) == set(expected)
    for key, want in expected.items():
        assert (math.isnan(row[key]) and math.isnan(want)) or row[key] == want, key


def test_fixture_is_read_by_the_official_nats_api(nats_dir):
    api = nats_bench.create(str(nats_dir), "tss", fast_mode=True, verbose=False)
    assert len(api) == len(fx.ARCHS)
    assert api.query_index_by_arch(fx.ARCHS[2]) == 2
    info = api.get_more_info(2, "cifar100", hp="200", is_random=False)
    assert info["test-accuracy"] == fx.expected_row(2)["cifar100_test"]


@pytest.mark.parametrize(
    "make, backend", [(fx.build_nats_dir, NatsBenchmark), (fx.build_nb201_pth, NB201Benchmark)]
)
def test_query_returns_the_200_epoch_seed_means(tmp_path, make, backend):
    bench = backend(make(tmp_path))
    for index, arch in enumerate(fx.ARCHS):
        same(bench.query(arch), fx.expected_row(index))
    # Written out once: arch 0 has seeds 777 (+0.5) and 888 (-1.5) -> mean shift -0.5;
    # cifar10_test is cifar10's ori-test (88 + 3), cifar10_valid is cifar10-valid's x-valid (84).
    row = bench.query(fx.ARCHS[0])
    assert (row["cifar10_test"], row["cifar10_valid"]) == (90.5, 83.5)
    assert bench.query(fx.ARCHS[1])["cifar100_test"] == 60.0 + 2.0 + 1.0 + 0.5  # one seed
    assert isinstance(row["benchmark_index"], int) and row["benchmark_index"] == 0
    assert all(isinstance(row[c], float) for c in ACCURACY_COLUMNS)


@pytest.mark.parametrize(
    "make, backend", [(fx.build_nats_dir, NatsBenchmark), (fx.build_nb201_pth, NB201Benchmark)]
)
def test_absent_dataset_is_nan(tmp_path, make, backend):
    bench = backend(make(tmp_path, datasets=NO_IMAGENET))
    row = bench.query(fx.ARCHS[3])
    same(row, fx.expected_row(3, datasets=NO_IMAGENET))
    assert math.isnan(row["imagenet16_120_valid"]) and math.isnan(row["imagenet16_120_test"])
    assert row["cifar100_test"] == fx.expected_row(3)["cifar100_test"]


@pytest.mark.parametrize(
    "make, backend", [(fx.build_nats_dir, NatsBenchmark), (fx.build_nb201_pth, NB201Benchmark)]
)
def test_missing_arch_is_a_user_error(tmp_path, make, backend):
    path = make(tmp_path)
    with pytest.raises(UserError, match=r"nor_conv_1x1~2\|.*" + path.name):
        backend(path).query(fx.MISSING_ARCH)


def test_nb201_arch_listed_but_not_evaluated_is_nan_with_index(tmp_path):
    bench = NB201Benchmark(fx.build_nb201_pth(tmp_path, evaluated=[0, 1, 2]))
    row = bench.query(fx.ARCHS[3])
    assert row["benchmark_index"] == 3
    assert all(math.isnan(row[c]) for c in ACCURACY_COLUMNS)


@pytest.mark.parametrize("backend", [NatsBenchmark, NB201Benchmark])
def test_path_missing_or_absent(tmp_path, backend):
    with pytest.raises(UserError, match=f"benchmark={backend.name} needs benchmark.path"):
        backend(None)
    with pytest.raises(UserError, match="nowhere"):
        backend(tmp_path / "nowhere")


def test_nats_dir_without_meta(tmp_path):
    with pytest.raises(UserError, match="meta.pickle.pbz2"):
        NatsBenchmark(tmp_path)


def test_nats_dir_missing_an_arch_file(nats_dir):
    (nats_dir / "000001.pickle.pbz2").unlink()
    bench = NatsBenchmark(nats_dir)
    with pytest.raises(UserError, match="000001.pickle.pbz2"):
        bench.query(fx.ARCHS[1])


def test_nb201_wrong_files(tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_text("not a torch file")
    with pytest.raises(UserError, match="junk.pth"):
        NB201Benchmark(junk)
    import torch

    torch.save({"meta_archs": []}, tmp_path / "partial.pth")
    with pytest.raises(UserError, match="partial.pth.*arch2infos"):
        NB201Benchmark(tmp_path / "partial.pth")
