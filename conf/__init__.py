# Makes conf/ importable as the package `freedarts_cli.conf` once installed (see pyproject.toml),
# so Hydra finds the configs from any working directory.
