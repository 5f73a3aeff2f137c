"""``python -m freedarts_cli`` = the ``freedarts`` command."""

from .cli import main

main()
