"""A run folder holds one run: claimed by a lock while it runs, resumable once it finished.

Every ``freedarts search`` and ``freedarts correlate`` job first claims its folder
(:func:`claimed`): a second process aiming at the same folder is refused while the first runs,
so two runs never mix their files. A search folder that already holds a finished run
(``result.csv``) of the *same* config is skipped (:func:`finished`): rerunning a killed sweep into
its ``hydra.sweep.dir`` resumes it. A finished run of another config is never overwritten.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import hashlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from .errors import UserError
from .results import write_text

LOCK = ".freedarts.lock"
#: Options that change how fast a run goes, never what it finds.
_NOT_CONFIG = ("threads",)


def config_id(cfg: DictConfig) -> str:
    """A short fingerprint of the resolved config (Hydra's own settings and ``threads`` left
    out): two runs with the same ``config_id`` are the same experiment."""
    plain = OmegaConf.to_container(cfg, resolve=True)
    for key in ("hydra", *_NOT_CONFIG):
        plain.pop(key, None)
    text = json.dumps(plain, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


@contextlib.contextmanager
def claimed(out_dir: Path) -> Iterator[None]:
    """Hold ``out_dir``'s lock for the block; refuse the folder if another live process holds
    it. The kernel drops an ``flock`` when its process dies, so a killed run never leaves a
    stale lock behind."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fh = open(out_dir / LOCK, "a+")
    except OSError as err:
        raise UserError(
            f"cannot use {out_dir}: {err.strerror or err}: choose a writable "
            "folder (hydra.run.dir=... or hydra.sweep.dir=...)"
        ) from None
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise UserError(
                f"{out_dir} is in use by a running run ({holder}): wait for it to "
                "finish, or choose another folder (hydra.run.dir=... or "
                "hydra.sweep.dir=...)"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def finished(out_dir: Path, cfg: DictConfig) -> Path | None:
    """``out_dir/result.csv`` when it holds this config's finished run (the job can be skipped),
    ``None`` when the folder holds no finished run; a finished run of another config is a
    :class:`UserError` (it is never overwritten)."""
    result = Path(out_dir) / "result.csv"
    if not result.is_file():
        return None
    try:
        with open(result, newline="") as f:
            row = next(csv.DictReader(f), None) or {}
    except (OSError, UnicodeDecodeError, csv.Error):
        row = {}
    if row.get("config_id") == config_id(cfg):
        return result
    raise UserError(
        f"{out_dir} holds a finished run of another config ({result}): choose "
        "another folder (hydra.run.dir=... or hydra.sweep.dir=...) or delete it; a "
        "sweep resumes only into the folder of the same sweep"
    )


def record_config(out_dir: Path, cfg: DictConfig, hydra_cfg: DictConfig) -> None:
    """What Hydra writes to ``.hydra/`` (config, Hydra config, overrides), written only once the
    folder is claimed, so a refused run never overwrites the record of the run it refused."""
    hydra_dir = Path(out_dir) / ".hydra"
    write_text(hydra_dir / "config.yaml", OmegaConf.to_yaml(cfg))
    write_text(hydra_dir / "hydra.yaml", OmegaConf.to_yaml(OmegaConf.create({"hydra": hydra_cfg})))
    write_text(hydra_dir / "overrides.yaml", OmegaConf.to_yaml(hydra_cfg.overrides.task))
