"""The Python API: score any network with the training-free proxies, draw a batch of real
images, and run ``freedarts search`` / ``freedarts correlate`` without a shell.

```python
from freedarts_cli import load_batch, score

images, labels = load_batch("cifar10", root="../shared/data/cifar10_subset")
score(model, ["synflow", "nwot", "snip"], images=images, labels=labels)
```

Every error a caller can fix is a :class:`~freedarts_cli.errors.UserError` with a one-line
message that names the bad value (the exception the command line prints as ``error: ...``).
"""

from __future__ import annotations

import contextlib
import copy
import csv
import logging
import os
import random
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from .data import CIFAR, Batch, ImageNet16, Synthetic
from .errors import UserError
from .proxies import AGGREGATES, PROXIES, Proxy, ProxyError
from .proxies.base import scoring_mode

if TYPE_CHECKING:
    import pandas as pd
    from omegaconf import DictConfig

__all__ = ["correlate", "load_batch", "score", "search"]

log = logging.getLogger("freedarts.api")

#: ``load_batch`` datasets: the data units of ``conf/data/`` and what their ``root`` holds.
DATASETS = {
    "cifar10": "cifar-10-batches-py/",
    "cifar100": "cifar-100-python/",
    "imagenet16_120": "the ImageNet16 train_data_batch_* files",
    "synthetic": None,
}


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _fail(message: str) -> UserError:
    return UserError(_one_line(message))


def _seed(value: object) -> int:
    """A seed is a non-negative integer below 2**63 (torch's limit), never coerced."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or not 0 <= value < 2**63
    ):
        raise _fail(f"seed={value!r} is not a non-negative integer below 2**63: use e.g. seed=0")
    return int(value)


# --------------------------------------------------------------------------------------------
# score
# --------------------------------------------------------------------------------------------


def score(
    model: nn.Module,
    proxies: str | Sequence[str],
    images: torch.Tensor | DataLoader | None = None,
    labels: torch.Tensor | None = None,
    seed: int = 0,
    input_shape: Sequence[int] | None = None,
) -> dict[str, float]:
    """Score one network with training-free proxies (higher = better for every proxy).

    Each proxy scores its own deep copy of ``model``: the model is left exactly as it was
    given (weights, buffers such as BatchNorm running statistics, train/eval modes,
    ``requires_grad`` flags, device and dtype). The copy runs on the model's device and in its
    dtype (``synflow`` always computes in float64); images and labels are moved there.

    Deterministic: torch's random generators are seeded with ``seed`` before each proxy
    (inside ``torch.random.fork_rng``, so the caller's global random state is untouched), so
    the same model, inputs and seed give the same numbers (bit-identical on CPU), and a value
    does not depend on which other proxies were asked for.

    Args:
        model: any ``nn.Module`` that maps ``[B, C, H, W]`` images to ``[B, classes]`` logits:
            a torchvision or timm model, or a network of one of this project's spaces
            (``NB201Space().network(choice, dtype, device)`` and the like).
        proxies: a name of :data:`freedarts_cli.proxies.PROXIES` (``"synflow"``), a list of
            names, or ``"all"``: every registered proxy that applies. ``"all"`` leaves out
            the proxies needing labels when no ``labels`` are given (and those needing images
            when no ``images`` are given), and any proxy that fails on this model; each
            omission is logged (logger ``freedarts.api``). Aggregates (``combined``,
            ``az_nas``, ``vkdnw_single``, ``vkdnw_agg``) rank many networks against each other
            and have no value for one model: asking for one is an error.
        images: a ``[B, C, H, W]`` float tensor, normalised as the model expects (see
            :func:`load_batch`), or a ``torch.utils.data.DataLoader`` whose first batch is
            ``(images, labels)`` (or images alone). Needed by the data-dependent proxies
            (``nwot``, ``snip``, ...). At least 2 images.
        labels: ``[B]`` integer class indices of ``images``, for the proxies that need labels
            (``snip``, ``grasp``, ``fisher``, ...). Not allowed together with a DataLoader
            (which brings its own).
        seed: the seed of the proxies' random draws (random inputs, re-initialisations).
        input_shape: the image shape for the data-free proxies (``synflow``, ``zen``, ...),
            as ``(C, H, W)``, or ``(B, C, H, W)`` whose ``B`` is ignored (each data-free proxy
            draws its own inputs: synflow one all-ones image, zen 64 Gaussian images). Default:
            the shape of ``images``, else the model's own ``input_shape`` attribute (every
            network of this project's spaces has one).

    Returns:
        ``{proxy name: value}`` as plain Python floats, in the order asked (registry order
        for ``"all"``). A value is finite, except ``-inf`` from the proxies for which it is a
        legitimate lowest score (``nwot``, ``jacob_cov``, ``zen``, ``epe_nas`` and the AZ-NAS
        components, when the network's output ignores its input); NaN and ``+inf`` are
        errors.

    Raises:
        UserError: in one line naming the bad value, for: an unknown proxy or an aggregate; a
            proxy that needs labels (or images) that were not given; images or labels of the
            wrong shape or type; a model whose output is not ``[B, classes]`` logits; a proxy
            that cannot handle this model (the proxy's reason); a non-finite score
            (:class:`~freedarts_cli.proxies.ProxyError`, a ``UserError``).
    """
    if not isinstance(model, nn.Module):
        raise _fail(f"model is a {type(model).__name__}, not a torch nn.Module")
    seed = _seed(seed)
    what = type(model).__name__
    try:
        param = next(p for p in model.parameters() if p.is_floating_point())
    except StopIteration:
        raise _fail(f"model {what} has no floating-point parameters to score") from None
    images, labels = _inputs(images, labels)
    shape = _input_shape(model, images, input_shape)
    everything = _is_all(proxies)
    chosen = _chosen(proxies, everything, images, labels, shape)

    try:
        base = copy.deepcopy(model)
    except Exception as err:  # noqa: BLE001 - any failure of a user's __deepcopy__
        raise _fail(
            f"model {what} cannot be copied ({type(err).__name__}: {err}): score() scores a "
            "deep copy so as to leave the model untouched"
        ) from err
    base.input_shape = shape
    devices = [param.device] if param.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        classes = _check_output(base, what, images, shape, param)
        batch = None
        if images is not None:
            if labels is not None and int(labels.max()) >= classes:
                raise _fail(
                    f"labels run up to {int(labels.max())} but model {what} gives {classes} "
                    f"logits per image: labels must be class indices below {classes}"
                )
            # No labels: -1 makes any proxy that wrongly read them fail loudly.
            y = labels if labels is not None else torch.full((len(images),), -1)
            batch = Batch(images.to(param.device, param.dtype), y.to(param.device), y)
        values: dict[str, float] = {}
        for proxy in chosen:
            try:
                values[proxy.name] = _score_one(proxy, base, what, batch, seed)
            except UserError as err:
                if not everything:
                    raise
                log.warning("proxies='all': skipped %s (%s)", proxy.name, err)
    return values


def _inputs(images, labels) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """``images`` (and ``labels``) as checked tensors; a DataLoader gives its first batch."""
    if isinstance(images, DataLoader):
        if labels is not None:
            raise _fail(
                "labels=... was given with a DataLoader: the DataLoader's batches bring "
                "their labels, so pass one or the other"
            )
        try:
            first = next(iter(images))
        except StopIteration:
            raise _fail("the DataLoader given as images is empty") from None
        if isinstance(first, (list, tuple)) and len(first) == 2:
            images, labels = first
        elif isinstance(first, torch.Tensor):
            images = first
        else:
            raise _fail(
                f"the DataLoader's first batch is a {type(first).__name__}: score() reads "
                "(images, labels) pairs or image tensors"
            )
    if images is not None:
        if not isinstance(images, torch.Tensor):
            raise _fail(
                f"images is a {type(images).__name__}: pass a [B, C, H, W] float tensor or a "
                "torch DataLoader"
            )
        if images.dim() != 4:
            raise _fail(
                f"images of shape {tuple(images.shape)} are not a [B, C, H, W] batch"
                + (" (one image? use images.unsqueeze(0))" if images.dim() == 3 else "")
            )
        if not images.is_floating_point():
            raise _fail(
                f"images are {str(images.dtype).replace('torch.', '')}: pass float images, "
                "normalised as the model expects (load_batch() gives them)"
            )
        if len(images) < 2:
            raise _fail(
                f"images of shape {tuple(images.shape)} hold {len(images)} image: the "
                "proxies need a batch of at least 2 (train-mode BatchNorm, correlations)"
            )
    if labels is not None:
        if images is None:
            raise _fail("labels were given without images: pass images=... as well")
        if not isinstance(labels, torch.Tensor):
            labels = torch.as_tensor(labels)
        if labels.dim() != 1 or labels.is_floating_point() or labels.is_complex():
            raise _fail(
                f"labels of shape {tuple(labels.shape)} and dtype "
                f"{str(labels.dtype).replace('torch.', '')} are not [B] integer class indices"
            )
        if len(labels) != len(images):
            raise _fail(f"{len(labels)} labels for {len(images)} images: give one per image")
        if int(labels.min()) < 0:
            raise _fail(f"labels hold {int(labels.min())}: class indices start at 0")
        labels = labels.long()
    return images, labels


def _input_shape(model, images, input_shape) -> tuple[int, ...] | None:
    """``(C, H, W)`` for the data-free proxies: ``input_shape``, else images, else the model's."""
    if input_shape is not None:
        try:
            shape = tuple(int(s) for s in input_shape)
            ok = len(shape) in (3, 4) and all(s > 0 for s in shape) and shape == tuple(input_shape)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise _fail(
                f"input_shape={input_shape!r} is not (C, H, W) or (B, C, H, W) positive "
                "integers: use e.g. input_shape=(3, 32, 32)"
            )
        shape = shape[-3:]
        if images is not None and tuple(images.shape[1:]) != shape:
            raise _fail(
                f"input_shape={tuple(input_shape)} does not match images of shape "
                f"{tuple(images.shape)}: drop input_shape (the images give it)"
            )
        return shape
    if images is not None:
        return tuple(int(s) for s in images.shape[1:])
    own = getattr(model, "input_shape", None)
    return tuple(int(s) for s in own) if own is not None else None


def _is_all(proxies) -> bool:
    return proxies == "all" or (
        isinstance(proxies, (list, tuple)) and len(proxies) == 1 and proxies[0] == "all"
    )


def _chosen(proxies, everything: bool, images, labels, shape) -> list[Proxy]:
    """The registered proxies to run, in the order asked; what cannot run is an error (or,
    for ``"all"``, logged and left out)."""
    if everything:
        if labels is None:
            log.info(
                "proxies='all' without labels: not %s (pass labels=...)",
                ", ".join(p.name for p in PROXIES.values() if p.needs_labels),
            )
        if images is None:
            log.info(
                "proxies='all' without images: not %s (pass images=...)",
                ", ".join(p.name for p in PROXIES.values() if p.needs_data and not p.needs_labels),
            )
        chosen = [
            p
            for p in PROXIES.values()
            if (labels is not None or not p.needs_labels)
            and (images is not None or not p.needs_data)
        ]
    else:
        names = [proxies] if isinstance(proxies, str) else proxies
        if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
            raise _fail(f"proxies={proxies!r} is not a proxy name, a list of names or 'all'")
        if not names:
            raise _fail("proxies=[] is empty: name at least one proxy, e.g. 'synflow', or 'all'")
        chosen = []
        for name in dict.fromkeys(names):
            if name in AGGREGATES:
                parts = AGGREGATES[name].parts
                raise _fail(
                    f"proxy '{name}' is an aggregate: it ranks its parts "
                    f"({', '.join(parts)}) across many networks, so one model has no "
                    f"'{name}' value: score the parts (proxies={list(parts)}) or compare "
                    "networks with freedarts correlate"
                )
            if name not in PROXIES:
                raise _fail(
                    f"proxy '{name}' is not known: use one of {', '.join(PROXIES)}, or 'all'"
                )
            proxy = PROXIES[name]
            if proxy.needs_labels and labels is None:
                raise _fail(
                    f"proxy '{name}' needs labels: pass labels=... (with images=...), or a "
                    "DataLoader of (images, labels) as images="
                )
            if proxy.needs_data and images is None:
                raise _fail(
                    f"proxy '{name}' needs images: pass images=... (a [B, C, H, W] tensor, "
                    "e.g. from load_batch(), or a DataLoader)"
                )
            chosen.append(proxy)
    if shape is None and any(not p.needs_data for p in chosen):
        free = [p.name for p in chosen if not p.needs_data]
        raise _fail(
            f"proxy '{free[0]}' needs the input shape: pass images=... or "
            "input_shape=(C, H, W), e.g. input_shape=(3, 32, 32)"
        )
    return chosen


def _check_output(net: nn.Module, what: str, images, shape, param) -> int:
    """One train-mode forward pass of 2 images (state restored): the model must take them and
    return ``[2, classes]`` logits. Returns ``classes``."""
    x = images[:2] if images is not None else torch.zeros((2, *shape))
    x = x.to(param.device, param.dtype)
    try:
        with scoring_mode(net), torch.no_grad():
            out = net(x)
    except Exception as err:  # noqa: BLE001 - whatever the model raises on these inputs
        given = (
            f"images of shape {tuple(images.shape)}"
            if images is not None
            else (f"inputs of shape (B, {', '.join(map(str, shape))})")
        )
        raise _fail(f"model {what} cannot take {given}: {type(err).__name__}: {err}") from err
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != 2:
        got = (
            f"a tensor of shape {tuple(out.shape)} for 2 images"
            if isinstance(out, torch.Tensor)
            else f"a {type(out).__name__}"
        )
        raise _fail(
            f"model {what} returns {got}, not [B, classes] logits: score() needs a model "
            "that maps [B, C, H, W] images to class logits (wrap it to return them)"
        )
    return int(out.shape[1])


def _score_one(proxy: Proxy, base: nn.Module, what: str, batch, seed: int) -> float:
    """One proxy on its own copy of the network, the random generators seeded first."""
    net = copy.deepcopy(base)
    torch.manual_seed(seed)
    try:
        value = proxy(net, batch if proxy.needs_data else None)
    except ProxyError as err:
        found = re.search(r"\((-?inf|nan)\)", str(err))
        raise ProxyError(
            f"proxy '{proxy.name}' gave {what} a non-finite score "
            f"({found.group(1) if found else 'not a number'}): try the model in float64 "
            "(model.double()) or another proxy"
        ) from err
    except UserError as err:
        raise _fail(f"proxy '{proxy.name}' cannot score {what}: {err}") from err
    except Exception as err:  # noqa: BLE001 - a proxy failing on a model it was not written for
        raise _fail(
            f"proxy '{proxy.name}' cannot score {what}: {type(err).__name__}: {err}"
        ) from err
    if value == -float("inf"):
        log.warning(
            "proxy %s gave %s -inf, its lowest score (the output ignores the input)",
            proxy.name,
            what,
        )
    return float(value)


# --------------------------------------------------------------------------------------------
# load_batch
# --------------------------------------------------------------------------------------------


def load_batch(
    dataset: str = "cifar10",
    root: str | os.PathLike | None = None,
    batch_size: int = 64,
    seed: int = 0,
    split: str = "train",
) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch of real images through the project's own data readers (nothing is
    downloaded).

    The batch is the one ``freedarts search data=<dataset> seed=<seed>`` scores with:
    ``batch_size`` training images drawn by a generator seeded with ``seed`` (the caller's
    random state is untouched), normalised with the dataset's per-channel mean and standard
    deviation of NAS-Bench-201's pipelines.

    Args:
        dataset: ``"cifar10"``, ``"cifar100"``, ``"imagenet16_120"`` (NAS-Bench-201's
            16×16 pickles, 120 classes) or ``"synthetic"`` (random 32×32 Gaussian images and
            labels, no files).
        root: the folder holding the dataset's folder (``cifar-10-batches-py/``,
            ``cifar-100-python/``), or that folder itself; default: the ``FREEDARTS_DATA``
            environment variable, as the command line.
        batch_size: images in the batch (fewer if the set holds fewer).
        seed: which images (the same seed gives the same batch).
        split: ``"train"``, the only split the project's readers load.

    Returns:
        ``(images, labels)``: float32 ``[B, 3, H, W]`` normalised images and int64 ``[B]``
        class indices, on the CPU.

    Raises:
        UserError: in one line naming the path, when the data is missing or malformed, or for
            an unknown ``dataset`` or ``split``.
    """
    if dataset not in DATASETS:
        raise _fail(f"dataset={dataset!r} is not known: use one of {', '.join(DATASETS)}")
    if split != "train":
        raise _fail(
            f"split={split!r} is not read: the project's data readers load the training set "
            "only (split='train')"
        )
    seed = _seed(seed)
    if dataset == "synthetic":
        data = Synthetic(batch_size=batch_size)
    else:
        if root is None:
            root = os.environ.get("FREEDARTS_DATA") or None
        if root is None:
            raise _fail(
                f"load_batch({dataset!r}) needs root=PATH, the folder holding "
                f"{DATASETS[dataset]} (or set FREEDARTS_DATA); nothing is downloaded"
            )
        path = Path(os.path.expanduser(os.fspath(root)))
        if not path.is_dir():
            raise _fail(
                f"root={os.fspath(root)} does not exist ({path.resolve()}): pass the folder "
                f"holding {DATASETS[dataset]}; nothing is downloaded"
            )
        if dataset == "imagenet16_120":
            data = ImageNet16(str(path), batch_size, num_classes=120)
        else:
            data = CIFAR(dataset, str(path), batch_size)
    batch = data.batch(seed, torch.float32, torch.device("cpu"))
    return batch.images, batch.labels


# --------------------------------------------------------------------------------------------
# search / correlate
# --------------------------------------------------------------------------------------------


def search(*overrides: str, out_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Run ``freedarts search`` in this process: one search, composed from the same Hydra
    configs (``conf/search.yaml``) as the command line.

    ``search("space=nb201", "scorer=synflow", "benchmark=none")`` is
    ``freedarts search space=nb201 scorer=synflow benchmark=none``: it writes the same files
    (``result.csv``, ``trajectory.csv``, ``scores.csv``, ``.hydra/``) into the run folder, and
    a folder that already holds this config's finished run is not searched again (its row is
    read back), as the command line resumes. One run only: a sweep is a Python loop (``-m``
    is refused). Logging goes to the ``freedarts`` logger (no Hydra log file); Python's,
    numpy's and torch's global random states are put back afterwards, as is torch's thread
    count (``threads=N`` sets it for the run).

    Args:
        *overrides: Hydra overrides, one string each, as on the command line
            (``"seed=1"``, ``"data.root=../shared/data/cifar10_subset"``,
            ``"experiment=nb201_synflow"``).
        out_dir: the run folder. Default: the command line's, ``hydra.run.dir``
            (``outputs/runs/<date_time>`` under the current directory, or what an override
            ``hydra.run.dir=...`` or an experiment sets).

    Returns:
        The result row, the dict written to ``result.csv`` (``arch``, the benchmark's
        accuracies, ``search_seconds``, ``config_id``, ...).

    Raises:
        UserError: in one line, for a bad override (an unknown option or config group) and
            every error ``freedarts search`` reports in one line.
    """
    from . import rundir, runner

    cfg, hydra_cfg, out = _composed("search", overrides, out_dir)
    with rundir.claimed(out), _kept_state():
        done = rundir.finished(out, cfg)
        if done is not None:
            log.info("%s holds this config's finished run: not searched again", out)
            return _read_row(done)
        rundir.record_config(out, cfg, hydra_cfg)
        outcome = runner.search(cfg, out_dir=out, threads=runner.check_threads(cfg.threads))
    log.info("%s\nresults: %s", runner.summary(outcome), out / "result.csv")
    return dict(outcome.row)


def correlate(*overrides: str, out_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Run ``freedarts correlate`` in this process: the proxy study, composed from the same
    Hydra configs (``conf/correlate.yaml``) as the command line.

    ``correlate("proxy=synflow,nwot", "n_archs=100", "data.root=...")`` is the command line's
    ``freedarts correlate proxy=synflow,nwot n_archs=100 data.root=...`` (``proxy=a,b`` and
    ``seed=0,1`` mean one run scoring both, as there). It writes the same files
    (``proxy_scores.csv``, ``correlation.csv``, ...) and resumes the same way: rerunning into
    ``out_dir`` scores only what is missing. It needs the architectures' accuracies: on NB201
    ``benchmark=auto`` finds the shared table (else ``benchmark.path=...``); DARTS and NB101 take
    a list, ``benchmark=arch_table benchmark.path=<csv>``. The caller's random states and
    torch's thread count are put back afterwards.

    Args:
        *overrides: Hydra overrides, one string each, as on the command line.
        out_dir: the run folder. Default: the command line's, ``hydra.run.dir``
            (``outputs/correlate/<date_time>`` under the current directory).

    Returns:
        The correlation summary written to ``correlation.csv``: one row per proxy and
        dataset, with the mean ± std over seeds of Kendall τ, Spearman ρ and top-10 % ρ.

    Raises:
        UserError: in one line, for a bad override and every error ``freedarts correlate``
            reports in one line.
    """
    from . import rundir, study
    from .cli import _lists_to_override
    from .runner import check_threads

    overrides = tuple(_lists_to_override([str(o) for o in overrides]))
    cfg, hydra_cfg, out = _composed("correlate", overrides, out_dir)
    with rundir.claimed(out), _kept_state():
        rundir.record_config(out, cfg, hydra_cfg)
        summary = study.run(cfg, out_dir=out, threads=check_threads(cfg.threads))
    log.info("correlations: %s", out / "correlation.csv")
    return summary


def _composed(command: str, overrides, out_dir) -> tuple[DictConfig, DictConfig, Path]:
    """The job's config (Hydra's node removed, as a Hydra app receives it), Hydra's node (for
    ``.hydra/``) and the run folder, composed as ``freedarts <command>`` composes them."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf import OmegaConf, open_dict, read_write
    from omegaconf.errors import OmegaConfBaseException

    from .cli import _one_line as hydra_one_line
    from .cli import config_dir

    if not all(isinstance(o, str) for o in overrides):
        raise _fail(f"{command}() takes overrides as strings, e.g. {command}('seed=1')")
    if any(o in ("-m", "--multirun") for o in overrides):
        raise _fail(
            f"{command}() runs one job, not a sweep (-m): call it once per setting in a loop"
        )
    # experiment= is in the defaults list; the older +experiment= still works (as in cli.main)
    overrides = [o[1:] if o.startswith("+experiment=") else o for o in overrides]
    outer = GlobalHydra.instance()
    saved = copy.deepcopy(outer.hydra) if outer.is_initialized() else None
    outer.clear()  # a caller inside a Hydra app of its own gets its Hydra back below
    try:
        with initialize_config_dir(config_dir=config_dir(), version_base="1.3", job_name=command):
            full = compose(command, overrides=overrides, return_hydra_config=True)
        out = Path(out_dir if out_dir is not None else OmegaConf.select(full, "hydra.run.dir"))
    except (HydraException, OmegaConfBaseException) as err:
        raise _fail(hydra_one_line(err, command)) from err
    finally:
        if saved is not None:
            GlobalHydra.instance().clear()
            GlobalHydra.instance().initialize(saved)
    out = out.expanduser().absolute()
    with read_write(full), open_dict(full):
        full.hydra.runtime.output_dir = str(out)
        cfg = copy.deepcopy(full)
        del cfg["hydra"]
    return cfg, full.hydra, out


@contextlib.contextmanager
def _kept_state() -> Iterator[None]:
    """Python's, numpy's and torch's random states and torch's thread count, put back after
    a run (which seeds them all and may set the threads)."""
    py_state, np_state, threads = random.getstate(), np.random.get_state(), torch.get_num_threads()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        torch.set_num_threads(threads)


def _read_row(path: Path) -> dict[str, Any]:
    """The row of a finished run's ``result.csv`` (numbers as numbers)."""
    with open(path, newline="") as fh:
        row = next(csv.DictReader(fh), None) or {}

    def value(text: str) -> Any:
        for kind in (int, float):
            with contextlib.suppress(ValueError):
                return kind(text)
        return text

    return {k: value(v) for k, v in row.items()}
