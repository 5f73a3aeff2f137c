"""Each conf/benchmark/*.yaml instantiates its back-end through Hydra."""

from pathlib import Path

import pytest
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import OmegaConf

from freedarts_cli.errors import UserError

from . import fixtures as fx

CONF = Path(__file__).resolve().parents[2] / "conf" / "benchmark"


def load(name, **overrides):
    return OmegaConf.merge(OmegaConf.load(CONF / f"{name}.yaml"), overrides)


def test_every_conf_instantiates(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text(f"arch,acc\n{fx.ARCHS[0]},92.25\n")
    table.with_name("u.csv").write_text(f"arch,cifar10_test\n{fx.ARCHS[0]},92.25\n")
    hashed = tmp_path / "nb101.csv"
    hashed.write_text("module_hash,validation_accuracy,test_accuracy\n" + "0" * 32 + ",90.5,91.0\n")
    benches = {
        "none": instantiate(load("none")),
        "table": instantiate(load("table", path=str(table), columns={"cifar10_test": "acc"})),
        "nats": instantiate(load("nats", path=str(fx.build_nats_dir(tmp_path)))),
        "nb201": instantiate(load("nb201", path=str(fx.build_nb201_pth(tmp_path)))),
        "auto": instantiate(load("auto", path=str(table.with_name("u.csv")))),
        "nb101_table": instantiate(load("nb101_table", path=str(hashed))),
        # in a run, space: ${space} hands it the run's space unit
        "arch_table": instantiate(
            load(
                "arch_table",
                path=str(table.with_name("u.csv")),
                space={"_target_": "freedarts_cli.spaces.nb201.NB201Space"},
            )
        ),
    }
    for name, bench in benches.items():
        assert bench.name == ("table" if name in ("auto", "nb101_table") else name)
    assert benches["table"].query(fx.ARCHS[0])["cifar10_test"] == 92.25
    assert benches["nb101_table"].query("0" * 32)["cifar10_valid"] == 90.5
    assert benches["nb101_table"].covers("nb1shot1") and not benches["nb101_table"].covers("nb201")
    assert benches["arch_table"].architectures() == [fx.ARCHS[0]]
    # nb301 needs the optional nasbench301 package (not installed by the project)
    with pytest.raises(InstantiationException) as err:
        instantiate(load("nb301", path=str(tmp_path)))
    assert isinstance(err.value.__cause__, UserError) and "nasbench301" in str(err.value.__cause__)
    assert sorted(p.stem for p in CONF.glob("*.yaml")) == sorted([*benches, "nb301"])


@pytest.mark.parametrize("name", ["table", "nats", "nb201"])
def test_path_is_required(name):
    # Hydra wraps what the target raises; the UserError is the cause.
    with pytest.raises(InstantiationException) as err:
        instantiate(load(name))
    assert isinstance(err.value.__cause__, UserError)
    assert f"benchmark={name} needs benchmark.path=" in str(err.value.__cause__)
