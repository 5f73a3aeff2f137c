"""The installed package carries what the source tree has: every config YAML, every published
table, every module. Packages and config groups are discovered (setup.py), so a new group that
the wheel lacks means discovery broke, not that someone forgot a list."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import freedarts_cli

ROOT = Path(__file__).resolve().parents[1]


def source_files(folder: str, prefix: str, patterns: tuple[str, ...]) -> set[str]:
    base = ROOT / folder
    found = set()
    for pattern in patterns:
        for path in base.rglob(pattern):
            if "__pycache__" not in path.parts:
                found.add(f"{prefix}/{path.relative_to(base).as_posix()}")
    return found


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory) -> set[str]:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation"]
        + ["--quiet", "--wheel-dir", str(out)],
        check=True,
        cwd=out,
    )
    (wheel,) = out.glob("freedarts-*.whl")
    assert wheel.name.startswith(f"freedarts-{freedarts_cli.__version__}-")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


@pytest.mark.slow
def test_the_wheel_has_every_config_yaml_of_the_source_tree(wheel_names):
    expected = source_files("conf", "freedarts_cli/conf", ("*.yaml",))
    assert len(expected) > 50  # the groups of conf/, not an empty glob
    installed = {name for name in wheel_names if name.endswith(".yaml")}
    assert expected <= installed, sorted(expected - installed)


@pytest.mark.slow
def test_the_wheel_has_every_module_and_published_table(wheel_names):
    modules = source_files("freedarts_cli", "freedarts_cli", ("*.py", "*.csv", "*.yaml"))
    plugins = source_files("hydra_plugins", "hydra_plugins", ("*.py",))
    missing = (modules | plugins) - wheel_names
    assert not missing, sorted(missing)


def test_the_version_has_one_source():
    text = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in text and "\nversion =" not in text.split("[tool.")[0]
    assert freedarts_cli.__version__.count(".") == 2
