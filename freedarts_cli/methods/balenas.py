"""BaLeNAS and BaLeNAS-TF: DARTS whose α is a Gaussian learned by Variational Adam.

BaLeNAS (Zhang et al., "BaLeNAS: Differentiable Architecture Search via the Bayesian Learning
Rule", appendix) runs an ordinary DARTS search on the NAS-Bench-201 supernet (AUTHORS_CODE.md
§1.4: the training set in two halves, weights by SGD on one, α on the other; the edges mix
``softmax(α)``), except that α's optimiser is Variational Adam (:mod:`freedarts_cli.vadam`): it
learns ``q(α) = N(μ, σ²)``, each step averaging the validation-half gradient over
``mc_samples`` draws from ``q`` (the appendix's "MCMC sampling number" M). The α gradient is
taken at the current weights (first order); the step order is DARTS': α on a validation batch,
then the weights on a training batch at ``α = μ``.

* **BaLeNAS** is the argmax of ``μ`` on every edge (``none`` included, as NAS-Bench-201's DARTS).
* **BaLeNAS-TF** draws ``max(n_samples)`` architectures from ``q`` (α drawn, argmax per edge;
  repeats allowed), scores each discrete network with the zero-cost proxy of that name (the code
  of ``method=zero_cost``), and keeps the best of the first ``n`` draws for every ``n``: one
  search gives every (proxy, n) row.

The search checkpoints after every epoch into the run folder and a rerun resumes there; every
epoch's batches and ε draws come from generators seeded by ``(seed, epoch)``, so a resumed run
ends exactly where an uninterrupted one does.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from .. import proxies
from ..data import stream_seed
from ..errors import UserError
from ..options import check_positive_int
from ..results import atomic
from ..vadam import VariationalAdam
from . import Context, Found
from .zero_cost import proxy_scores

log = logging.getLogger("freedarts")

CHECKPOINT = "checkpoint.pt"


def _positive_ints(option: str, values, example: int) -> list[int]:
    values = [values] if isinstance(values, int) else list(values)
    if not values:
        raise UserError(f"{option} is empty: use e.g. {option}=[{example}]")
    return sorted({check_positive_int(option, v, example) for v in values})


class BaLeNAS:
    """``method=balenas``: options as in ``conf/method/balenas.yaml`` (the module docstring
    says what the search does)."""

    name = "balenas"
    dtype = "float32"
    spaces = ("nb201",)
    needs_data = True

    def __init__(
        self,
        epochs: int = 50,
        steps_per_epoch: int | None = None,
        batch_size: int = 64,
        supernet_cells: int | None = None,
        w_lr: float = 0.025,
        w_lr_min: float = 1e-3,
        w_momentum: float = 0.9,
        w_weight_decay: float = 5e-4,
        grad_clip: float = 5.0,
        arch_lr: float = 3e-4,
        arch_betas: Sequence[float] = (0.5, 0.999),
        mc_samples: int = 3,
        prior_precision: float = 1.0,
        init_precision: float = 1.0,
        n_data: int | None = None,
        select: Sequence[str] = ("snip", "grasp", "synflow"),
        n_samples: Sequence[int] = (10, 50, 100),
        split_seed: int = 0,
    ):
        self.epochs = check_positive_int("method.epochs", epochs, 50)
        self.steps_per_epoch = (
            None
            if steps_per_epoch is None
            else check_positive_int("method.steps_per_epoch", steps_per_epoch, 10)
        )
        self.batch_size = check_positive_int("method.batch_size", batch_size, 64)
        self.supernet_cells = (
            None
            if supernet_cells is None
            else check_positive_int("method.supernet_cells", supernet_cells, 5)
        )
        self.mc_samples = check_positive_int("method.mc_samples", mc_samples, 3)
        self.n_data = None if n_data is None else check_positive_int("method.n_data", n_data, 25000)
        self.w = dict(
            lr=float(w_lr),
            lr_min=float(w_lr_min),
            momentum=float(w_momentum),
            weight_decay=float(w_weight_decay),
            clip=float(grad_clip),
        )
        self.vadam = dict(
            lr=float(arch_lr),
            betas=tuple(float(b) for b in arch_betas),
            prior_precision=float(prior_precision),
            init_precision=float(init_precision),
        )
        self.select = [select] if isinstance(select, str) else list(select)
        for proxy in self.select:
            proxies.resolve(proxy)  # an unknown proxy fails before any training
        self.n_samples = _positive_ints("method.n_samples", n_samples, 10) if self.select else []
        self.split_seed = int(split_seed)

    def search(self, ctx: Context) -> Found:
        split = ctx.data.search_split(self.batch_size, split_seed=self.split_seed)
        space = ctx.space.resized(N=self.supernet_cells) if self.supernet_cells else ctx.space
        net = space.build_supernet(ctx.a, ctx.dtype, ctx.device)
        net.softmax = True
        weights = [p for p in net.parameters() if p is not net.alpha]
        sgd = torch.optim.SGD(
            weights,
            lr=self.w["lr"],
            momentum=self.w["momentum"],
            nesterov=True,
            weight_decay=self.w["weight_decay"],
        )
        n_data = self.n_data or split.half_size
        vadam = VariationalAdam(net.alpha, n_data, **self.vadam)
        history: list[dict] = []
        start = self._resume(ctx, net, sgd, vadam, history)
        steps = (
            split.steps()
            if self.steps_per_epoch is None
            else min(self.steps_per_epoch, split.steps())
        )
        log.info(
            "balenas: %d epochs x %d steps (batch %d; %d + %d images), M=%d, N=%d%s",
            self.epochs,
            steps,
            self.batch_size,
            split.half_size,
            split.half_size,
            self.mc_samples,
            n_data,
            f", resuming at epoch {start + 1}" if start else "",
        )
        for epoch in range(start, self.epochs):
            history.append(self._epoch(ctx, net, sgd, vadam, split, epoch, steps))
            self._checkpoint(ctx, net, sgd, vadam, history)

        mask = net.mask.cpu()
        mu, sigma = vadam.mu.cpu(), vadam.sigma().cpu()
        choice = ctx.space.discretise(mu.double(), mask)
        extra = {
            "epochs": self.epochs,
            "mc_samples": self.mc_samples,
            "n_data": n_data,
            "supernet_cells": space.N,
            "steps_per_epoch": steps,
        }
        distribution = [
            {"edge": edge, "op": op, "mu": float(mu[e, k]), "sigma": float(sigma[e, k])}
            for e, edge in enumerate(ctx.space.edges)
            for k, op in enumerate(ctx.space.ops)
        ]
        selections, samples = self._select(ctx, vadam, mask, extra)
        return Found(
            choice,
            "mu",
            "argmax",
            extra=extra,
            selections=selections,
            tables={"distribution": distribution, "epochs": history, "samples": samples},
        )

    # -- one epoch --------------------------------------------------------------------------

    def _epoch(
        self, ctx: Context, net, sgd, vadam: VariationalAdam, split, epoch: int, steps: int
    ) -> dict:
        """DARTS' cosine schedule for the weights (``w_lr`` to ``w_lr_min`` over ``epochs``),
        then one pass over the halves: per step a VAdam step on a validation batch, an SGD step
        on a training batch."""
        lr = self.w["lr_min"] + 0.5 * (self.w["lr"] - self.w["lr_min"]) * (
            1 + math.cos(math.pi * epoch / self.epochs)
        )
        for group in sgd.param_groups:
            group["lr"] = lr
        eps = torch.Generator().manual_seed(stream_seed(ctx.seed, epoch, 2))
        sums = dict.fromkeys(("train_loss", "train_acc", "valid_loss", "valid_acc"), 0.0)
        counts = {"train": 0, "valid": 0}
        net.train()
        batches = split.epoch(ctx.seed, epoch, ctx.dtype, ctx.device, steps)
        for train, valid in tqdm(
            batches,
            total=steps,
            desc=f"epoch {epoch + 1}/{self.epochs}",
            unit="step",
            leave=False,
            disable=None,
        ):
            grads = []
            for _ in range(self.mc_samples):
                with torch.no_grad():
                    net.alpha.copy_(vadam.sample(eps))
                logits = self._forward(net, valid.images, alpha_grad=True)
                loss = F.cross_entropy(logits, valid.labels)
                (g,) = torch.autograd.grad(loss, net.alpha)
                grads.append(g)
                self._tally(sums, counts, "valid", loss, logits, valid.labels)
            vadam.step(torch.stack(grads).mean(dim=0))
            with torch.no_grad():
                net.alpha.copy_(vadam.mu)
            sgd.zero_grad(set_to_none=True)
            logits = self._forward(net, train.images, alpha_grad=False)
            loss = F.cross_entropy(logits, train.labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(sgd.param_groups[0]["params"], self.w["clip"])
            sgd.step()
            self._tally(sums, counts, "train", loss, logits, train.labels)
        mu = vadam.mu.detach().cpu()
        row = {
            "epoch": epoch + 1,
            "w_lr": lr,
            **{k: v / max(counts[k.split("_")[0]], 1) for k, v in sums.items()},
            "sigma_mean": float(vadam.sigma().mean()),
            "mu_max": float(mu.abs().max()),
            "choice": ctx.space.discretise(mu.double(), net.mask.cpu()),
        }
        log.info(
            "epoch %d/%d: train loss %.3f acc %.1f%%, valid loss %.3f acc %.1f%% "
            "(at sampled α), mean σ %.3f",
            epoch + 1,
            self.epochs,
            row["train_loss"],
            row["train_acc"],
            row["valid_loss"],
            row["valid_acc"],
            row["sigma_mean"],
        )
        return row

    @staticmethod
    def _forward(net, images: torch.Tensor, alpha_grad: bool) -> torch.Tensor:
        """Forward with gradients for α alone (the VAdam passes) or the weights alone (SGD)."""
        for p in net.parameters():
            p.requires_grad_((p is net.alpha) == alpha_grad)
        return net(images)

    @staticmethod
    def _tally(sums: dict, counts: dict, part: str, loss, logits, labels) -> None:
        n = len(labels)
        sums[f"{part}_loss"] += float(loss.detach()) * n
        sums[f"{part}_acc"] += 100.0 * float((logits.argmax(dim=1) == labels).sum())
        counts[part] += n

    # -- BaLeNAS-TF -------------------------------------------------------------------------

    def _select(
        self, ctx: Context, vadam: VariationalAdam, mask: torch.Tensor, extra: dict
    ) -> tuple[list[Found], list[dict]]:
        """Draw ``max(n_samples)`` architectures from ``q``, score them by every proxy of
        ``select``, keep the best of the first ``n`` for each ``n``."""
        if not self.select:
            return [], []
        gen = torch.Generator().manual_seed(stream_seed(ctx.seed, 3))
        draws = [
            ctx.space.discretise(vadam.sample(gen).cpu().double(), mask)
            for _ in range(max(self.n_samples))
        ]
        samples = [{"draw": i, "choice": c} for i, c in enumerate(draws)]
        selections = []
        for k, proxy in enumerate(self.select):
            torch.manual_seed(stream_seed(ctx.seed, 4, k))  # each proxy's own networks
            scores = proxy_scores(proxy, ctx, ctx.batch)
            for n in self.n_samples:
                best = scores.best(draws[:n])
                distinct = len({tuple(c) for c in draws[:n]})
                selections.append(
                    Found(
                        best, proxy, "sample", extra={**extra, "n_samples": n, "distinct": distinct}
                    )
                )
            values = dict(zip(map(tuple, scores.choices), scores.values(), strict=True))
            for row, choice in zip(samples, draws, strict=True):
                row[proxy] = float(values[tuple(choice)])
            log.info(
                "balenas-tf %s: %s",
                proxy,
                ", ".join(
                    f"n={f.extra['n_samples']} ({f.extra['distinct']} distinct) -> "
                    f"{ctx.space.decode(f.choice)}"
                    for f in selections[-len(self.n_samples) :]
                ),
            )
        return selections, samples

    # -- checkpoints ------------------------------------------------------------------------

    def _checkpoint(self, ctx: Context, net, sgd, vadam, history: list[dict]) -> None:
        if ctx.out_dir is None:
            return
        state = {
            "run_id": ctx.run_id,
            "epochs_done": len(history),
            "net": net.state_dict(),
            "sgd": sgd.state_dict(),
            "vadam": vadam.state_dict(),
            "history": history,
        }
        with atomic(Path(ctx.out_dir) / CHECKPOINT, "wb") as fh:
            torch.save(state, fh)

    def _resume(self, ctx: Context, net, sgd, vadam, history: list[dict]) -> int:
        """Load the run folder's checkpoint if it is this config's; the epochs it holds."""
        path = None if ctx.out_dir is None else Path(ctx.out_dir) / CHECKPOINT
        if path is None or not path.is_file():
            return 0
        try:
            state = torch.load(path, map_location=ctx.device, weights_only=True)
        except Exception as err:  # noqa: BLE001 - a truncated or foreign file
            raise UserError(
                f"{path} is not a readable checkpoint ({type(err).__name__}): "
                "delete it to start the search afresh"
            ) from None
        if state.get("run_id") != ctx.run_id:
            log.warning(
                "%s is a checkpoint of another config: ignored, the search starts afresh", path
            )
            return 0
        net.load_state_dict(state["net"])
        sgd.load_state_dict(state["sgd"])
        vadam.load_state_dict(state["vadam"])
        history.extend(state["history"])
        log.info("resumed from %s after epoch %d", path, state["epochs_done"])
        return int(state["epochs_done"])
