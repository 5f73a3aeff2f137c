"""Package discovery that pyproject.toml cannot express on its own.

The code packages are found as usual. ``conf/`` lives at the repository root (it mirrors the
code) but installs as ``freedarts_cli.conf``; every folder below it is a config group and becomes
a package of its own, so its YAML files are installed without listing the group anywhere.
"""

from setuptools import find_namespace_packages, find_packages, setup

code = find_packages(include=["freedarts_cli", "freedarts_cli.*"])
plugins = find_namespace_packages(include=["hydra_plugins", "hydra_plugins.*"])
groups = [
    f"freedarts_cli.conf.{name}"
    for name in find_namespace_packages(where="conf", exclude=["*__pycache__*"])
]

setup(
    packages=code + plugins + ["freedarts_cli.conf", *groups],
    package_dir={"freedarts_cli.conf": "conf"},
)
