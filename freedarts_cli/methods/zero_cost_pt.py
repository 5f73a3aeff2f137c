"""Zero-Cost-PT (Xiang, Dudziak, Abdelfattah, Chau, Lane & Wen, AAAI 2023): perturbation-based
discretisation of the untrained supernet, scored by a zero-cost proxy.

For an edge ``e`` the importance of op ``o`` is how much the supernet's proxy drops when ``o``
is removed: the op with the *lowest* ``S(A − (e, o))`` is kept and the edge discretised (the
paper's Algorithm 1 with the zero-cost score in place of DARTS-PT's validation accuracy). Edges
are visited in one of the orders of the paper's Table 5; ``n_proposals`` architectures are
proposed, then the proxy of each proposal's network, averaged over ``n_validation`` batches,
picks one (§4, Table 3). The proxy is any network proxy of :mod:`freedarts_cli.proxies`.

As in the authors' code (``nasbench201/init_projection.py``): the supernet's op weights are the
softmax of a near-zero α, i.e. ``1/|O|`` on every op of an undecided edge (set here as the raw α
of :class:`~freedarts_cli.edge.MixedEdge`, so ``a`` plays no part), weight 1 on the kept op of a
decided edge; removing an op leaves the others' weights unchanged (no renormalisation).

Where this differs from the authors' code, and why:

* ``*_once`` orders: the code stores per edge the argmin op (op-once) or the mean score
  (edge-once) in an ``OrderedDict`` and then ``popitem()``s it, which pops the *last* edge: both
  orders reduce to the reverse edge order (hence Table 5's identical rows for them). Here edges
  are ordered as the paper describes, by their best (op-once) or mean (edge-once) initial score,
  and the first edge reuses its initial scores: Table 5's ``2|O||E| − |O|`` perturbations.
* ``global_edge_iter``: the code perturbs the selected edge a second time on a new batch
  (``|O||E|`` more evaluations); here the selection's scores decide its op, Table 5's count.
* Proposals: the code initialises the supernet once for all N proposals (they differ by edge
  order and by a fresh 256-image batch per step); with one data batch per run, each proposal
  here gets fresh supernet weights, and every step a random ``batch_size`` subset.
* Validation: every distinct proposal is scored on the *same* V random subsets of the data
  batch (the code iterates a reshuffled 100×256-image loader per proposal).
* A removed op is skipped (masked), not multiplied by 0: in the code its ReLUs still feed the
  nwot kernel. α is exactly ``1/|O|`` instead of ``softmax(1e-3·N(0, 1))``.
* The proxy comes from :mod:`freedarts_cli.proxies` (``nwot`` there uses train-mode BN; the
  code's ``Jocab_Score`` runs in eval mode) and works with every order (the code's global
  orders only support nwot).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch

from .. import proxies
from ..alpha import active_ops
from ..data import Batch
from ..errors import UserError
from ..pruner import Round
from ..supernet import Supernet
from . import Context, Found

log = logging.getLogger("freedarts")

#: Table 5's search orders, with their proxy evaluations per proposal ("# of Perturbations"):
#: fixed, random: |O||E|; ``*_iter`` re-score every op of every undecided edge before each
#: decision: ½|O||E|(|E|+1); ``*_once`` score them once, on the initial supernet, to fix the
#: edge order, then each later edge's ops: 2|O||E| − |O|.
EDGE_ORDERS = (
    "fixed",
    "random",
    "global_op_iter",
    "global_op_once",
    "global_edge_iter",
    "global_edge_once",
)


class ZeroCostPT:
    """``method=zero_cost_pt``. Published: proxy ``nwot``, N=10 proposals, V=100 validation
    batches of 256 images, random edge order (Table 2 "nwot" row = Table 5 "random" row).

    Every proxy evaluation scores ``batch_size`` images drawn at random from the run's data
    batch (``null``: all of it): one draw per discretisation step (shared by the ops compared
    in it) and one per validation iteration (shared by all proposals). The V validation batches
    differ only if ``data.batch_size`` exceeds ``batch_size``; published: 100 batches of 256.
    CPU-reduced alternative (about a minute on 2 cores): N=2, V=10, ``batch_size=16``.
    """

    name = "zero_cost_pt"
    dtype = "float32"  # as the Zero-Cost-PT code; synflow is float64 (the proxy says so)
    spaces = ("nb201",)

    def __init__(
        self,
        proxy: str = "nwot",
        n_proposals: int = 10,
        n_validation: int = 100,
        edge_order: str = "random",
        batch_size: int | None = None,
    ):
        if proxy not in proxies.PROXIES:
            raise UserError(
                f"method.proxy={proxy} is not a network proxy: use one of "
                f"{', '.join(proxies.PROXIES)}"
            )
        if edge_order not in EDGE_ORDERS:
            raise UserError(
                f"method.edge_order={edge_order} is not known: use one of {', '.join(EDGE_ORDERS)}"
            )
        if int(n_proposals) < 1 or int(n_validation) < 0:
            raise UserError(
                f"method.n_proposals={n_proposals} must be >= 1 and "
                f"method.n_validation={n_validation} >= 0"
            )
        if batch_size is not None and int(batch_size) < 1:
            raise UserError(f"method.batch_size={batch_size} must be a positive integer or null")
        self.proxy = proxies.PROXIES[proxy]
        self.n_proposals, self.n_validation = int(n_proposals), int(n_validation)
        self.edge_order = edge_order
        self.batch_size = None if batch_size is None else int(batch_size)
        self.perturbations = 0  # proxy evaluations of the supernet in the last search

    @property
    def needs_data(self) -> bool:
        return self.proxy.needs_data

    # -- data ---------------------------------------------------------------------------------
    def _draw(self, ctx: Context, gen: torch.Generator) -> Batch | None:
        """``batch_size`` random images of the run's batch; the batch itself when it holds
        exactly that many (or ``batch_size`` is null), ``None`` for data-free proxies."""
        batch = ctx.batch
        if batch is None or self.batch_size is None:
            return batch
        n = len(batch.images)
        if self.batch_size > n:
            raise UserError(
                f"method.batch_size={self.batch_size} exceeds the data batch of {n} "
                f"images: set data.batch_size>={self.batch_size}"
            )
        if self.batch_size == n:
            return batch
        idx = torch.randperm(n, generator=gen)[: self.batch_size].to(batch.images.device)
        return Batch(batch.images[idx], batch.labels[idx], batch.random_labels[idx])

    # -- one proposal ---------------------------------------------------------------------------
    def _perturb(self, net: Supernet, edges: list[int], batch) -> torch.Tensor:
        """``S(A − (e, o))`` for every op ``o`` still on each edge of ``edges`` (NaN elsewhere):
        the proxy of the supernet with that one op masked, then put back."""
        s = torch.full(net.mask.shape, float("nan"), dtype=torch.float64)
        for e in edges:
            for o in net.mask[e].nonzero().flatten().tolist():
                self.perturbations += 1
                net.mask[e, o] = False
                net.active = active_ops(net.mask)
                try:
                    s[e, o] = self.proxy(net, batch)
                finally:
                    net.mask[e, o] = True
                    net.active = active_ops(net.mask)
        return s

    def propose(
        self, net: Supernet, draw: Callable[[], Batch | None], gen: torch.Generator
    ) -> tuple[list[int], list[Round]]:
        """Discretise every edge of the (re-initialised) supernet in ``edge_order``; the chosen
        op per edge and one :class:`Round` per removed op."""
        n_edges, n_ops = net.mask.shape
        with torch.no_grad():
            net.mask.fill_(True)
            net.active = active_ops(net.mask)
            net.alpha.fill_(1.0 / n_ops)  # softmax of a zero α: 1/|O| on every op
        decided: dict[int, int] = {}
        rounds: list[Round] = []
        queue: list[int] = list(range(n_edges))  # fixed: from the cell's input to its output
        reuse: torch.Tensor | None = None
        if self.edge_order == "random":
            queue = torch.randperm(n_edges, generator=gen).tolist()

        step = 0
        while len(decided) < n_edges:
            step += 1
            batch = draw()
            undecided = [e for e in range(n_edges) if e not in decided]
            if self.edge_order.endswith("_iter"):
                s = self._perturb(net, undecided, batch)
                finite = s.nan_to_num(nan=torch.inf)
                if self.edge_order == "global_op_iter":  # best (edge, op) over all
                    e = int(finite.flatten().argmin()) // n_ops
                else:  # global_edge_iter: the edge whose ops score lowest on average
                    e = min(undecided, key=lambda i: (float(s[i][~s[i].isnan()].mean()), i))
            else:
                if self.edge_order.endswith("_once") and step == 1:
                    # every op scored once on the initial supernet fixes the edge order; the
                    # first edge's scores are those same numbers (2|O||E| − |O| in all)
                    reuse = self._perturb(net, undecided, batch)
                    key = (
                        reuse.nan_to_num(nan=torch.inf).amin(dim=1)
                        if self.edge_order == "global_op_once"
                        else reuse.nanmean(dim=1)
                    )
                    queue = sorted(range(n_edges), key=lambda i: (float(key[i]), i))
                e = queue[step - 1]
                s = reuse if reuse is not None else self._perturb(net, [e], batch)
                reuse = None
            keep = int(s[e].nan_to_num(nan=torch.inf).argmin())  # removal hurts most
            decided[e] = keep
            rounds += self._discretise(net, e, keep, -s, decided, len(rounds))
        return [decided[e] for e in range(n_edges)], rounds

    @staticmethod
    def _discretise(
        net: Supernet, e: int, keep: int, scores: torch.Tensor, decided: dict[int, int], done: int
    ) -> list[Round]:
        """Remove every other op of edge ``e`` (weight 1 on ``keep``), one Round each.
        ``scores`` is −S(A − (e, o)): higher = removing the op hurts more = keep."""
        rounds = []
        with torch.no_grad():
            net.alpha[e].zero_()
            net.alpha[e, keep] = 1.0
        for o in net.mask[e].nonzero().flatten().tolist():
            if o == keep:
                continue
            net.remove(e, o)
            mask = net.mask.clone()
            best = torch.where(mask, scores.nan_to_num(nan=-torch.inf), -torch.inf)
            choice = [decided.get(i, int(best[i].argmax())) for i in range(len(mask))]
            rounds.append(
                Round(done + len(rounds) + 1, scores, mask, choice, (e, o), float(scores[e, o]))
            )
        return rounds

    # -- search ---------------------------------------------------------------------------------
    def search(self, ctx: Context) -> Found:
        if self.needs_data and ctx.batch is None:
            raise UserError(
                f"proxy {self.proxy.name} needs images: choose a data= group "
                "(data=synthetic when no dataset is at hand)"
            )
        space, gen = ctx.space, torch.Generator().manual_seed(ctx.seed)
        dtype = self.proxy.dtype or ctx.dtype
        net = space.build_supernet(ctx.a, dtype, ctx.device)
        self.perturbations = 0
        proposals: list[tuple[list[int], list[Round]]] = []
        for i in range(self.n_proposals):
            if i:
                net.initialise()  # each proposal: fresh supernet weights (global torch RNG)
            proposals.append(self.propose(net, lambda: self._draw(ctx, gen), gen))
            log.info(
                "zero_cost_pt proposal %d/%d: %s",
                i + 1,
                self.n_proposals,
                space.decode(proposals[-1][0]),
            )

        # validation: each distinct proposal's network, freshly initialised once, scored on the
        # same V batches; the mean proxy picks (V=0: the first proposal). When every batch is
        # the same (a data-free proxy, or batch_size = the data batch) the V evaluations of a
        # deterministic proxy are one number: it is computed once.
        batches = [self._draw(ctx, gen) for _ in range(self.n_validation)]
        if batches and all(b is batches[0] for b in batches):
            if self.n_validation > 1:
                log.warning(
                    "zero_cost_pt: the %d validation batches are all the same images "
                    "(set data.batch_size larger than method.batch_size for distinct "
                    "ones): scored once",
                    self.n_validation,
                )
            batches = batches[:1]
        value: dict[tuple, float] = {}
        for choice, _ in proposals:
            if tuple(choice) not in value:
                net_v = space.network(choice, dtype, ctx.device)
                scores = [self.proxy(net_v, b) for b in batches]
                value[tuple(choice)] = (sum(scores) / len(scores)) if scores else float("nan")
        best = 0
        for i, (choice, _) in enumerate(proposals):  # ties and NaN: the earlier proposal
            if value[tuple(choice)] > value[tuple(proposals[best][0])]:
                best = i
        choice, rounds = proposals[best]
        return Found(
            choice,
            scorer=self.proxy.name,
            pruning=f"perturbation_{self.edge_order}",
            rounds=rounds,
            samples=[(c, value[tuple(c)]) for c, _ in proposals],
            extra={
                "n_proposals": self.n_proposals,
                "n_validation": self.n_validation,
                "edge_order": self.edge_order,
                "batch_size": self.batch_size,
                "distinct_proposals": len(value),
                "perturbations": self.perturbations // self.n_proposals,
            },
        )
