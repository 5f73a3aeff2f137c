#!/usr/bin/env python
"""Keep a long ``freedarts correlate`` study in the repository, across sessions and shards
(:mod:`freedarts_cli.archive`).

    # merge run folders (shards, sessions) into the committed archive
    python scripts/study_archive.py pack results/proxy_study/nb201_all outputs/correlate/nb201_all
    # next session: put the archive back into a run folder, then rerun the same command: it resumes
    python scripts/study_archive.py unpack results/proxy_study/nb201_all outputs/correlate/nb201_all
    # the tables, from the archive alone (no rescoring)
    freedarts tables results/proxy_study/nb201_all
"""

from __future__ import annotations

import argparse
import logging
import sys

from freedarts_cli.archive import pack, unpack
from freedarts_cli.errors import UserError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="merge run folders into the archive")
    p.add_argument("archive")
    p.add_argument("folders", nargs="+")
    u = sub.add_parser("unpack", help="write the archive's rows into a run folder")
    u.add_argument("archive")
    u.add_argument("folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if args.command == "pack":
            rows = pack(args.folders, args.archive)
            print(f"{args.archive}: {rows} rows")
        else:
            rows = unpack(args.archive, args.folder)
            print(f"{args.folder}: {rows} rows added from {args.archive}")
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
