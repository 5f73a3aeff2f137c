"""TE-NAS (Chen, Gong & Wang, ICLR 2021): prune the untrained NB201 supernet by trainability
(NTK condition number, §3.1.1) and expressivity (number of linear regions, §3.1.2).

Algorithm 1 ("pruning by importance"): in every round, for every op ``o`` still on an edge that
holds more than one, measure the supernet ``N`` and ``N \\ o`` (the same weights, ``o`` masked)::

    Δκ(o) = (κ_N − κ_{N\\o}) / κ_N      higher: removing o improves trainability -> prune it
    ΔR(o) = (R_N − R_{N\\o}) / R_N      lower: removing o costs the fewest regions -> prune it

rank all ops by Δκ (descending) and by ΔR (ascending), equal values sharing a rank, and on every
edge remove the op with the smallest rank sum: one op per edge per round, until one op is left
per edge. The relative changes and the rounding to ``precision`` decimals before ranking follow
the authors' code (``prune_tenas.py``).

The supernet is TE-NAS', not FreeDARTS': op weights are the softmax of an all-zero α with pruned
ops at −∞, i.e. ``1/k`` for each of the ``k`` ops still on an edge (set here directly as the raw
α of :class:`~freedarts_cli.edge.MixedEdge`), so ``a`` and the α draw of the run play no part.

Where this differs from the authors' code, and why:

* Weights: PyTorch's default initialisation. The code asks for Kaiming-normal, but its
  ``init_model`` recognises neither ``kaiming_normal`` nor ``kaiming_normal_fanout/_fanin``, so
  its networks keep PyTorch's default too.
* Repeats: each repeat draws fresh weights for both networks and fresh data, shared by ``N`` and
  every ``N \\ o`` of that repeat (a paired comparison). The code keeps one NTK initialisation
  per round (only the batch changes between repeats) and builds a new region network per op.
* Pruned ops are skipped, not multiplied by 0: in the code a pruned conv still runs and its
  ReLU still enters the region code; here R counts the regions of the function computed.
* The search cells' BNs are not affine (FreeDARTS' NB201 supernet); the code's are, so there
  their weights also enter the NTK.
* Data: NTK images and region patches are drawn from the run's one data batch with a generator
  seeded by the run's seed; the code draws fresh loader batches.
* Relative changes are averaged over repeats, then rounded (the code rounds, then averages).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import torch
from torch import nn

from ..alpha import active_ops
from ..errors import UserError
from ..pruner import Round
from ..spaces.nb201 import SearchCell
from ..supernet import Network
from . import Context, Found

log = logging.getLogger("freedarts")


def ntk_condition_number(net: nn.Module, images: torch.Tensor) -> float:
    """κ = λ_max / λ_min of the empirical NTK ``Θ = J Jᵀ`` on one batch (TE-NAS §3.1.1, κ_N).

    ``J[i]`` is the gradient of sample ``i``'s summed logits with respect to every parameter
    whose name contains ``weight`` (conv, linear and affine-BN weights; not α, not biases), with
    BN in train mode: the authors' ``get_ntk_n(..., train_mode=True)``. Returns ``inf`` when the
    kernel is singular (λ_min ≤ 0 in floating point).
    """
    net.train()
    params = [p for name, p in net.named_parameters() if "weight" in name and p.requires_grad]
    logits = net(images).sum(dim=1)
    rows = []
    for i in range(len(images)):
        grads = torch.autograd.grad(logits[i], params, retain_graph=True, allow_unused=True)
        rows.append(torch.cat([g.flatten() for g in grads if g is not None]))
    jac = torch.stack(rows)
    eig = torch.linalg.eigvalsh(jac @ jac.T)  # ascending
    low, high = float(eig[0]), float(eig[-1])
    return high / low if low > 0 else float("inf")


@torch.no_grad()
def count_linear_regions(net: nn.Module, chunks: Iterable[torch.Tensor]) -> int:
    """R: the number of distinct ReLU activation patterns over all samples (TE-NAS §3.1.2).

    Each sample's code is the on/off state of every ReLU unit that fires in the forward pass;
    samples with the same code lie in the same linear region of the network. Chunks are
    forwarded separately (BN in train mode uses each chunk's statistics, as the authors'
    1000-sample batches do) and their codes pooled before counting.
    """
    net.train()
    codes, current = [], []
    hooks = [
        m.register_forward_hook(lambda mod, inp, out: current.append(out.flatten(1) > 0))
        for m in net.modules()
        if isinstance(m, nn.ReLU)
    ]
    try:
        for x in chunks:
            current.clear()
            net(x)
            codes.append(torch.cat(current, dim=1))
    finally:
        for h in hooks:
            h.remove()
    return int(torch.unique(torch.cat(codes), dim=0).shape[0])


class _ThinNet(Network):
    """TE-NAS' network for linear regions (``model_config_thin``): one search cell with one
    channel and no stem, then BN-ReLU; it reads single-channel 3×3 patches. (The authors' global
    pooling and classifier follow the last ReLU and cannot change a region count.)"""

    def __init__(self, n_edges: int):
        super().__init__()
        self.cell = SearchCell(1)
        self.lastact = nn.Sequential(nn.BatchNorm2d(1), nn.ReLU())
        self.weights: list = []
        self.active: list = [[] for _ in range(n_edges)]

    def forward(self, x):
        return self.lastact(self.cell(x, self.weights, self.active))


def _uniform_weights(mask: torch.Tensor, dtype, device) -> torch.Tensor:
    """softmax(α=0, pruned=−∞): 1/k on each of an edge's k remaining ops, 0 elsewhere."""
    m = mask.to(dtype)
    return (m / m.sum(dim=1, keepdim=True)).to(device)


def _dense_rank(values: torch.Tensor, descending: bool) -> torch.Tensor:
    """0 for the best value, equal values share a rank, the next distinct value adds 1 (the
    ranking of ``prune_func_rank``). NaN ranks last."""
    key = -values if descending else values
    key = torch.nan_to_num(key, nan=float("inf"))
    distinct = torch.unique(key)  # sorted ascending
    return torch.searchsorted(distinct, key)


def _choice(scores: torch.Tensor, mask: torch.Tensor) -> list[int]:
    """Per edge, the remaining op with the best score (unscored ops count as −∞; with no score
    on an edge, its first remaining op)."""
    filled = torch.where(
        mask, torch.nan_to_num(scores, nan=-torch.inf), torch.full_like(scores, -torch.inf)
    )
    return [
        int(row.argmax()) if torch.isfinite(row.max()) else int(m.nonzero()[0])
        for row, m in zip(filled, mask, strict=True)
    ]


class TENAS:
    """``method=tenas``: TE-NAS pruning on NB201 (one op per edge per round, Algorithm 1).

    Published settings (``prune_launch.py`` for NB201) and what is used here:

    * NTK supernet: C=3, N=1 (3 cells, ``ntk_C``/``ntk_N``); NTK batch 72 (``ntk_batch``; the
      CPU default 16 is reduced, since the cost grows with its square).
    * Region network: one 1-channel cell, 3 batches × 1000 random single-channel 3×3 patches
      (``lr_batches``, ``lr_samples``; published, cheap).
    * ``repeat=3`` measurements averaged; ``precision=3`` decimals before ranking; ``none``
      removed from every edge before the first round (``prune_none_first``), so NB201 takes 3
      rounds of 6 removals.
    """

    name = "tenas"
    dtype = "float32"  # as the TE-NAS code
    spaces = ("nb201",)
    needs_data = True

    def __init__(
        self,
        ntk_C: int = 3,
        ntk_N: int = 1,
        ntk_batch: int = 16,
        repeat: int = 3,
        lr_samples: int = 1000,
        lr_batches: int = 3,
        patch: int = 3,
        precision: int = 3,
        prune_none_first: bool = True,
    ):
        for key, value in (
            ("ntk_C", ntk_C),
            ("ntk_N", ntk_N),
            ("ntk_batch", ntk_batch),
            ("repeat", repeat),
            ("lr_samples", lr_samples),
            ("lr_batches", lr_batches),
            ("patch", patch),
        ):
            if int(value) < 1:
                raise UserError(f"method.{key}={value} must be a positive integer")
        if int(ntk_batch) < 2:
            raise UserError(f"method.ntk_batch={ntk_batch}: the NTK needs at least 2 images")
        self.ntk_C, self.ntk_N, self.ntk_batch = int(ntk_C), int(ntk_N), int(ntk_batch)
        self.repeat, self.precision = int(repeat), int(precision)
        self.lr_samples, self.lr_batches, self.patch = int(lr_samples), int(lr_batches), int(patch)
        self.prune_none_first = bool(prune_none_first)

    def settings(self) -> dict:
        """The options, as result columns."""
        return {
            "ntk_C": self.ntk_C,
            "ntk_N": self.ntk_N,
            "ntk_batch": self.ntk_batch,
            "repeat": self.repeat,
            "lr_samples": self.lr_samples,
            "lr_batches": self.lr_batches,
            "patch": self.patch,
            "precision": self.precision,
            "prune_none_first": self.prune_none_first,
        }

    # -- data ---------------------------------------------------------------------------------
    def _images(self, batch, gen: torch.Generator) -> torch.Tensor:
        """A random ``ntk_batch`` images of the run's batch."""
        images = batch.images
        if self.ntk_batch > len(images):
            raise UserError(
                f"method.ntk_batch={self.ntk_batch} exceeds the data batch of "
                f"{len(images)} images: set data.batch_size>={self.ntk_batch}"
            )
        idx = torch.randperm(len(images), generator=gen)[: self.ntk_batch]
        return images[idx.to(images.device)]

    def _patches(self, batch, gen: torch.Generator) -> list[torch.Tensor]:
        """``lr_batches`` chunks of ``lr_samples`` random single-channel ``patch``×``patch``
        crops of the batch's images (the authors' RandomCrop + RandChannel(1))."""
        images = batch.images
        n, c, h, w = images.shape
        p, total = self.patch, self.lr_samples * self.lr_batches
        idx = [torch.randint(hi, (total,), generator=gen) for hi in (n, c, h - p + 1, w - p + 1)]
        img, ch, top, left = (t.to(images.device) for t in idx)
        offs = torch.arange(p, device=images.device)
        rows = (top[:, None] + offs)[:, :, None]  # [S, p, 1]
        cols = (left[:, None] + offs)[:, None, :]  # [S, 1, p]
        crops = images[img[:, None, None], ch[:, None, None], rows, cols].unsqueeze(1)
        return list(crops.split(self.lr_samples))

    # -- measurements ---------------------------------------------------------------------------
    def _measure(self, ntk_net, thin, mask, images, patches) -> tuple[float, int]:
        """κ of the NTK supernet and R of the region network with op mask ``mask``."""
        for net in (ntk_net, thin):
            net.mask, net.active = mask.clone(), active_ops(mask)
        with torch.no_grad():
            ntk_net.alpha.copy_(_uniform_weights(mask, ntk_net.alpha.dtype, ntk_net.alpha.device))
        thin.weights = [
            list(row.unbind()) for row in _uniform_weights(mask, images.dtype, images.device)
        ]
        return ntk_condition_number(ntk_net, images), count_linear_regions(thin, patches)

    def _round_scores(self, ntk_net, thin, mask, ctx, gen):
        """Δκ and ΔR (edges × ops, NaN where not measured) averaged over ``repeat``
        measurements, each on fresh weights (shared by N and every N \\ o) and fresh data; and
        the mask of the measured ops (those on edges that still hold more than one)."""
        open_ops = mask & (mask.sum(dim=1, keepdim=True) > 1)
        dk = torch.zeros(mask.shape, dtype=torch.float64)
        dr = torch.zeros(mask.shape, dtype=torch.float64)
        for _ in range(self.repeat):
            ntk_net.initialise()
            thin.initialise()
            images, patches = self._images(ctx.batch, gen), self._patches(ctx.batch, gen)
            k0, r0 = self._measure(ntk_net, thin, mask, images, patches)
            for e, k in open_ops.nonzero().tolist():
                without = mask.clone()
                without[e, k] = False
                kk, rr = self._measure(ntk_net, thin, without, images, patches)
                dk[e, k] += (k0 - kk) / k0 / self.repeat
                dr[e, k] += (r0 - rr) / r0 / self.repeat
        nan = torch.full_like(dk, float("nan"))
        return (
            torch.where(open_ops, dk.round(decimals=self.precision), nan),
            torch.where(open_ops, dr.round(decimals=self.precision), nan),
            open_ops,
        )

    # -- search ---------------------------------------------------------------------------------
    def search(self, ctx: Context) -> Found:
        if ctx.batch is None:
            raise UserError(
                "method=tenas needs images: choose a data= group (data=synthetic "
                "when no dataset is at hand)"
            )
        space = ctx.space
        gen = torch.Generator().manual_seed(ctx.seed)
        ntk_space = type(space)(
            C=self.ntk_C, N=self.ntk_N, num_classes=space.num_classes, input_size=space.input_size
        )
        ntk_net = ntk_space.build_supernet(ctx.a, ctx.dtype, ctx.device)
        ntk_net.alpha.requires_grad_(False)  # α is fixed at 1/k: no gradient, not in the NTK
        thin = _ThinNet(len(space.edges)).materialise(ctx.dtype, ctx.device)

        mask = torch.ones(len(space.edges), len(space.ops), dtype=torch.bool)
        rounds: list[Round] = []

        def remove(e: int, k: int, scores: torch.Tensor) -> None:
            mask[e, k] = False
            rounds.append(
                Round(
                    len(rounds) + 1,
                    scores,
                    mask.clone(),
                    _choice(scores, mask),
                    (e, k),
                    float(scores[e, k]),
                )
            )

        if self.prune_none_first and "none" in space.ops:
            # the authors' code sets α_none = −∞ on every edge before the first round, unscored
            none = space.ops.index("none")
            unscored = torch.full(mask.shape, float("nan"), dtype=torch.float64)
            for e in range(len(space.edges)):
                remove(e, none, unscored)

        tenas_round = 0
        while not space.is_discrete(mask):
            tenas_round += 1
            dk, dr, measured = self._round_scores(ntk_net, thin, mask, ctx, gen)
            rank_sum = _dense_rank(dk, descending=True) + _dense_rank(dr, descending=False)
            ntk_rank = _dense_rank(dk, descending=True)
            # Round.scores: higher = keep, i.e. the rank sum itself (rank 0 = prune first)
            scores = torch.where(measured, rank_sum.to(torch.float64), float("nan"))
            log.info("tenas round %d: %d ops measured", tenas_round, int(measured.sum()))
            for e in range(len(space.edges)):
                ops = measured[e].nonzero().flatten().tolist()
                if ops:  # smallest rank sum; ties: better NTK rank, then lower op index
                    k = min(ops, key=lambda o: (int(rank_sum[e, o]), int(ntk_rank[e, o]), o))
                    remove(e, k, scores)

        choice = [int(row.nonzero()[0]) for row in mask]
        return Found(
            choice,
            scorer="ntk_lr",
            pruning="tenas",
            rounds=rounds,
            extra={**self.settings(), "tenas_rounds": tenas_round},
        )
