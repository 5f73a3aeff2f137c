#!/usr/bin/env python
"""Speed and memory of searches on this machine (not a unit test).

Runs the real search path (``runner.search``: supernet construction + scoring + pruning) for
each case several times in this process and reports the median ``search_seconds`` and the peak
resident memory, next to the target of the issue that set it. All cases run in one process,
interleaved, so ratios between them hold even on a noisy machine. Label-dependent cases read
one batch of real CIFAR-10 (``--data-root``, default ``../shared/data/cifar10_subset``) and
also report their bound: the measured cost of the forward + backward pass(es) they cannot avoid
on the same network and batch (``bound`` column, see :func:`bounds`).

    python scripts/bench.py                     # every case
    python scripts/bench.py --only nb201 --reps 9 --threads 1
    python scripts/bench.py --only snip
    python scripts/bench.py --proxies --threads 1   # each proxy's seconds per architecture
    python scripts/bench.py --costs                 # proxy-cost table, NB201/DARTS/NB101 (issue 24)
    python scripts/bench.py --costs --spaces nb201 --archs 5 --reps 3

Targets (issues 2, 4 and 9, this 2-core CPU): NB201 SynFlow one-shot 0.3 s, iterative 4 s; darts
one-shot 2 s, darts_20cells 5 s, darts_imagenet 30 s, mobilenet 30 s; iterative within 10x of
one-shot; every case under 8 GB peak memory. With 64 CIFAR-10 images: SNIP-α one-shot 3 s and
2.5 GB, GraSP-α one-shot 10 s, iterative SNIP-α 60 s, zero-cost SNIP 0.5 s per architecture,
NASWOT (128 images) 1 s per architecture. Issue 22: one seed of ``experiment=appendix_table4``
(BaLeNAS, CPU-sized, with its nine BaLeNAS-TF rows) in 20 min and 4 GB; it trains for minutes, so
it runs once (``--only balenas`` alone). The large spaces and the slow cases run fewer
repetitions (``--reps`` caps them).

``--proxies`` (issue 10) instead runs ``freedarts correlate`` itself (``study.run``) with every
registered proxy on ``--archs`` sampled NB201 architectures (64 real CIFAR-10 images where a
proxy needs them) and reports each proxy's median ``seconds`` column of ``proxy_scores.csv``
(the proxy's own time on an already built network) and what the whole space (15,625
architectures) costs at that rate. Target: the data-agnostic set (synflow, zen, meco, flops,
params, trainable_layers) fits in one 3-hour session on this 2-core CPU, i.e. at most 6
core-hours in total.

``--costs`` (issue 24) times every registered proxy alone (``PROXIES[name](net, batch)``, seeded
as ``freedarts correlate`` seeds it) and all of them at once through the shared-pass API
(:func:`freedarts_cli.proxies.shared.score_all`, where the checkout has it; otherwise "all" is
the sum of the proxies alone, which is what scoring them one by one costs), on ``--archs``
networks per space built by the space units (the networks ``freedarts correlate`` scores): NB201
(sampled cells, C=16, N=5), DARTS (NASLib's NB301 network, C=32, 8 cells; the first genotypes of
the shared Suite-Zero file) and NAS-Bench-101 (stem 128, 3 stacks × 3 cells; the first cells of
the shared Suite-Zero file), 64 real CIFAR-10 images. It reports the median seconds per
architecture over architectures × ``--reps`` ("one by one": the sum of the proxies alone, what
``freedarts correlate`` cost before the shared passes), PASS/FAIL for issue 24's NB201 targets:
every proxy <= 0.5 s, all at once <= 2.5 s, and the floors of swap, vkdnw and grasp
(:func:`math_floors`: the passes their math needs, timed on the same networks).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from hydra.utils import instantiate  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from freedarts_cli import runner  # noqa: E402
from freedarts_cli.cli import config_dir  # noqa: E402

MEMORY_TARGET_MB = 8192
CIFAR = ["data=cifar10"]  # data.root is added from --data-root


def _pair(space: str, oneshot_s: float, reps: int) -> list[tuple]:
    """SynFlow one-shot and iterative on ``space``; iterative's target is 10x one-shot's."""
    over = [f"space={space}", "scorer=synflow"]
    return [
        (
            f"{space} synflow oneshot",
            over + ["pruning=oneshot"],
            oneshot_s,
            MEMORY_TARGET_MB,
            reps,
            1,
        ),
        (
            f"{space} synflow iterative",
            over + ["pruning=iterative"],
            10 * oneshot_s,
            MEMORY_TARGET_MB,
            reps,
            1,
        ),
    ]


# (name, overrides, target seconds, target peak MB, repetitions, architectures per search: the
# per-architecture cases divide search_seconds by it)
CASES = [
    (
        "nb201 synflow oneshot",
        ["space=nb201", "scorer=synflow", "pruning=oneshot"],
        0.3,
        MEMORY_TARGET_MB,
        5,
        1,
    ),
    (
        "nb201 synflow iterative",
        ["space=nb201", "scorer=synflow", "pruning=iterative"],
        4.0,
        MEMORY_TARGET_MB,
        5,
        1,
    ),
    ("nb201 snip oneshot", ["scorer=snip", "pruning=oneshot", *CIFAR], 3.0, 2560, 5, 1),
    (
        "nb201 grasp oneshot",
        ["scorer=grasp", "pruning=oneshot", *CIFAR],
        10.0,
        MEMORY_TARGET_MB,
        3,
        1,
    ),
    (
        "nb201 snip iterative",
        ["scorer=snip", "pruning=iterative", *CIFAR],
        60.0,
        MEMORY_TARGET_MB,
        3,
        1,
    ),
    (
        "nb201 zero_cost snip, per arch",
        ["method=zero_cost", "proxy=snip", "n_samples=10", *CIFAR],
        0.5,
        MEMORY_TARGET_MB,
        3,
        10,
    ),
    (
        "nb201 naswot, per arch",
        ["method=naswot", "n_samples=10", *CIFAR],
        1.0,
        MEMORY_TARGET_MB,
        3,
        10,
    ),
    # issue 22: one CPU-sized BaLeNAS search (6 epochs on the subset, all nine TF rows)
    (
        "nb201 balenas appendix_table4, one seed",
        ["experiment=appendix_table4", *CIFAR],
        1200.0,
        4096,
        1,
        1,
    ),
    *_pair("nb1shot1", 2.0, 5),  # no published target: the NB201 one-shot order of magnitude
    *_pair("darts", 2.0, 5),
    *_pair("darts_20cells", 5.0, 3),
    *_pair("darts_imagenet", 30.0, 3),
    *_pair("mobilenet", 30.0, 3),
]


def _timed(fn, reps: int = 3) -> float:
    """Median seconds of ``fn()`` after one warm-up call."""
    fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bounds(cfg) -> str:
    """What a label-dependent case cannot do without, timed alone on its own network and batch:
    SNIP-α: one forward + backward of the supernet (∂L/∂α only); GraSP-α: that pass with the
    graph kept plus the Hessian-vector backward; iterative SNIP-α: 24 SNIP-α passes on supernets
    that shrink each round (24 × the full pass is an upper bound, given as such); zero-cost SNIP:
    one forward + backward of a sampled network with weight gradients; NASWOT: one forward of a
    sampled network on its 128 images (the kernel's matmuls come on top)."""
    space, data = instantiate(cfg.space), instantiate(cfg.data)
    method = instantiate(cfg.method)
    dtype = runner.DTYPES[runner.resolve_dtype(cfg.dtype, method)[0]]
    cpu = torch.device("cpu")
    batch = data.batch(0, dtype, cpu)
    x, y = batch.images, batch.labels
    torch.manual_seed(0)
    if method.name == "freedarts":
        net = space.build_supernet(1e-3, dtype, cpu)
        net.train()
        for p in net.parameters():
            p.requires_grad_(p is net.alpha)

        def alpha_pass(graph: bool = False):
            (g,) = torch.autograd.grad(F.cross_entropy(net(x), y), net.alpha, create_graph=graph)
            if graph:
                torch.autograd.grad((g * g.detach()).sum(), net.alpha)

        if method.scorer.name == "grasp":
            return f"{_timed(lambda: alpha_pass(True)):.2f} (1 pass + HVP)"
        one = _timed(alpha_pass)
        if method.pruning.name.startswith("iterative"):
            return f"{one:.2f} x 24 = {24 * one:.1f}"
        return f"{one:.2f} (1 pass)"
    gen = torch.Generator().manual_seed(0)
    nets = [space.network(space.sample(gen), dtype, cpu) for _ in range(5)]
    if method.name == "naswot":

        def forward():
            with torch.no_grad():
                for n in nets:
                    n(x[:128])

        return f"{_timed(forward, 1) / len(nets):.2f} (1 forward)"

    def forward_backward():
        for n in nets:
            F.cross_entropy(n(x), y).backward()

    return f"{_timed(forward_backward, 1) / len(nets):.2f} (1 pass)"


#: Issue 10's data-agnostic set, whose whole-space study must fit one session (two cores, 3 h).
AGNOSTIC = ("synflow", "zen", "meco", "flops", "params", "trainable_layers")
SESSION_CORE_HOURS = 2 * 3.0


def proxy_costs(archs: int, data_root: str, benchmark: str, threads: int | None) -> int:
    """Each registered proxy's median seconds per architecture, from a real correlate run."""
    import tempfile

    import pandas as pd

    from freedarts_cli import study
    from freedarts_cli.proxies import PROXIES

    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose(
            "correlate",
            overrides=[
                f"proxy=[{','.join(PROXIES)}]",
                f"n_archs={archs}",
                f"data.root={data_root}",
                f"benchmark.path={benchmark}",
            ],
        )
    with tempfile.TemporaryDirectory() as tmp:
        study.run(cfg, Path(tmp), threads)
        scores = pd.read_csv(Path(tmp) / "proxy_scores.csv")
    seconds = scores.groupby("proxy")["seconds"].median().sort_values()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {archs} sampled NB201 "
        "architectures, seed 0; s/arch = the proxy's own time on a built network"
    )
    print("| proxy | needs images | median s/arch | whole space (15,625), core-hours |")
    print("|---|---|---|---|")
    for name, s in seconds.items():
        print(
            f"| {name} | {'yes' if PROXIES[name].needs_data else 'no'} | {s:.3f} | "
            f"{s * 15625 / 3600:.2f} |"
        )
    agnostic = sum(seconds[n] for n in AGNOSTIC) * 15625 / 3600
    print(
        f"data-agnostic set {', '.join(AGNOSTIC)}: {agnostic:.2f} core-hours for the whole "
        f"space (target: one session, {SESSION_CORE_HOURS:.0f} core-hours)"
    )
    return 0 if agnostic <= SESSION_CORE_HOURS else 1


#: Issue 24's targets, median seconds per NB201 architecture at batch 64 on this CPU.
PROXY_TARGET_S = 0.5
ALL_TARGET_S = 2.5
COST_SPACES = ("nb201", "darts", "nb101")
SHARED = REPO.parent / "shared" / "benchmarks"


def cost_networks(space: str, count: int):
    """``count`` architectures of ``space`` as ``(label, build(dtype) -> network)``: NB201 cells
    sampled with seed 0, and the first ``count`` DARTS genotypes / NB101 cells of the shared
    Suite-Zero files, built by the space units' own ``network`` (the networks ``freedarts
    correlate`` scores: DARTS at NASLib's NB301 size, NB101 at NAS-Bench-101's). ``build``
    seeds torch's RNG first, as ``freedarts correlate`` does before it builds a network."""
    import csv

    cpu = torch.device("cpu")
    if space == "nb201":
        from freedarts_cli.spaces.nb201 import NB201Space

        unit = NB201Space()
        gen = torch.Generator().manual_seed(0)
        choices = [unit.sample(gen) for _ in range(count)]
    elif space in ("darts", "nb101"):
        if space == "darts":
            from freedarts_cli.spaces.darts import DartsSpace as Unit

            name, columns = "nb301/suite_zero_darts_cifar10.csv", ("genotype",)
        else:
            from freedarts_cli.spaces.nb101 import NB101Space as Unit

            name, columns = "nb101/suite_zero_nb101_cifar10.csv", ("matrix", "ops")
        unit = Unit()
        with open(SHARED / name) as fh:
            rows = list(csv.DictReader(fh))[:count]
        choices = [unit.parse("|".join(r[c] for c in columns)) for r in rows]
    else:
        raise ValueError(f"--spaces: {space} is not one of {', '.join(COST_SPACES)}")
    return [
        (unit.decode(c), lambda dtype, c=c: _seeded(lambda: unit.network(c, dtype, cpu)))
        for c in choices
    ]


def _seeded(fn, seed: int = 0):
    torch.manual_seed(seed)
    return fn()


def math_floors(net: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> dict:
    """Seconds of the passes that swap, vkdnw and grasp cannot avoid on ``net`` (float32), with
    none of their own bookkeeping (hooks, re-initialisation, reductions):

    * swap: 32 forwards of 16 images in train mode without gradients (its 32 re-drawn networks
      each see the 16 images; batch statistics tie the images of one draw together);
    * vkdnw: a forward of 64 images in eval mode and one backward per class to the input (the
      per-sample Jacobian of 10 logits: 10 vector-Jacobian products, fewer than the 128
      Jacobian-vector products forward mode would need for its 128 sampled parameters);
    * grasp: a train-mode forward, a backward kept differentiable, and the backward of
      ``gᵀ stopgrad(g)`` through it (the Hessian-vector product).
    """
    from freedarts_cli.proxies.base import layers

    x16, x64 = images[:16], images[:64]
    out = {}
    net.train()
    with torch.no_grad():
        start = time.perf_counter()
        for _ in range(32):
            net(x16)
        out["swap"] = time.perf_counter() - start
    net.eval()
    x = x64.clone().requires_grad_(True)
    start = time.perf_counter()
    z = net(x)
    for c in range(z.shape[1]):
        torch.autograd.grad(z[:, c].sum(), [x], retain_graph=c + 1 < z.shape[1])
    out["vkdnw"] = time.perf_counter() - start
    net.train()
    weights = [layer.weight for layer in layers(net)]
    start = time.perf_counter()
    g = torch.autograd.grad(F.cross_entropy(net(x64), labels[:64]), weights, create_graph=True)
    torch.autograd.grad(sum((gi.detach() * gi).sum() for gi in g), weights)
    out["grasp"] = time.perf_counter() - start
    return out


def proxy_cost_table(spaces: list[str], archs: int, reps: int, data_root: str) -> int:
    """Issue 24's table: per space, each proxy's median seconds per architecture alone and all
    of them at once (shared passes), on ``archs`` networks × ``reps`` repetitions."""
    from freedarts_cli.data import CIFAR
    from freedarts_cli.proxies import PROXIES, ProxyError

    try:
        from freedarts_cli.proxies.shared import score_all
    except ImportError:  # the checkout before issue 24: proxies are scored one by one
        score_all = None
    cpu, seed = torch.device("cpu"), 0
    data = CIFAR("cifar10", root=data_root, batch_size=64)
    dtypes = {p.dtype or torch.float32 for p in PROXIES.values()}
    batches = {d: data.batch(seed, d, cpu) for d in dtypes}
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {archs} architectures "
        f"x {reps} reps per space, 64 real CIFAR-10 images, seed {seed}; median s/arch; "
        f"'all' = {'score_all (shared passes)' if score_all else 'sum of the proxies alone'}"
    )
    table: dict[str, dict[str, float]] = {}
    floor: dict[str, dict[str, list[float]]] = {}
    for space in spaces:
        nets = cost_networks(space, archs)
        times: dict[str, list[float]] = {name: [] for name in [*PROXIES, "one by one", "all"]}
        b32 = batches[torch.float32]
        for _, build in nets:
            built = {d: build(d) for d in dtypes}
            # Discarded: the first passes through a new network pay its allocations, which
            # would otherwise land in the first repetition's floors only.
            math_floors(built[torch.float32], b32.images, b32.labels)
            for _ in range(reps):
                for name, sec in math_floors(built[torch.float32], b32.images, b32.labels).items():
                    floor.setdefault(space, {}).setdefault(name, []).append(sec)
                total = 0.0
                for name, proxy in PROXIES.items():
                    torch.manual_seed(seed)
                    start = time.perf_counter()
                    try:
                        proxy(
                            built[proxy.dtype or torch.float32],
                            batches[proxy.dtype or torch.float32],
                        )
                    except ProxyError:
                        pass
                    times[name].append(time.perf_counter() - start)
                    total += times[name][-1]
                times["one by one"].append(total)
                if score_all is not None:
                    start = time.perf_counter()
                    for d in dtypes:
                        torch.manual_seed(seed)
                        score_all(
                            [p for p in PROXIES.values() if (p.dtype or torch.float32) == d],
                            built[d],
                            batches[d],
                        )
                    total = time.perf_counter() - start
                times["all"].append(total)
        table[space] = {name: statistics.median(t) for name, t in times.items()}
    shown = [s for s in spaces if s in table]
    print("| proxy | " + " | ".join(f"{s} s/arch" for s in shown) + " | NB201 target |")
    print("|---|" + "---|" * len(shown) + "---|")
    ok = True
    for name in [*PROXIES, "one by one", "all"]:
        target = ALL_TARGET_S if name == "all" else PROXY_TARGET_S
        verdict = "–"
        if "nb201" in table and name != "one by one":
            passed = table["nb201"][name] <= target
            ok &= passed
            verdict = f"<= {target} {'PASS' if passed else 'FAIL'}"
        cells = " | ".join(f"{table[s][name]:.3f}" for s in shown)
        print(f"| {name} | {cells} | {verdict} |")
    print(
        "\nFloors (median s/arch, same networks): the passes each of these proxies' math needs, "
        "without its own bookkeeping (math_floors)"
    )
    print("| proxy | " + " | ".join(f"{s} floor | {s} proxy" for s in shown) + " |")
    print("|---|" + "---|---|" * len(shown))
    for name in ("swap", "vkdnw", "grasp"):
        cells = " | ".join(
            f"{statistics.median(floor[s][name]):.3f} | {table[s][name]:.3f}" for s in shown
        )
        print(f"| {name} | {cells} |")
    if "nb201" in table:
        print(
            f"NB201 targets (every proxy <= {PROXY_TARGET_S} s, all <= {ALL_TARGET_S} s): "
            f"{'PASS' if ok else 'FAIL'}"
        )
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    parser.add_argument(
        "--only",
        default="",
        help="run only cases whose name contains one of these comma-separated words",
    )
    parser.add_argument(
        "--data-root",
        default=str(REPO.parent / "shared" / "data" / "cifar10_subset"),
        help="CIFAR-10 for the label-dependent cases",
    )
    parser.add_argument(
        "--proxies",
        action="store_true",
        help="time every proxy of freedarts correlate instead (issue 10)",
    )
    parser.add_argument(
        "--archs", type=int, default=None, help="architectures for --proxies (10), --costs (5)"
    )
    parser.add_argument(
        "--costs",
        action="store_true",
        help="proxy-cost table per space, alone and all at once (issue 24)",
    )
    parser.add_argument(
        "--spaces",
        default=",".join(COST_SPACES),
        help="comma-separated spaces for --costs",
    )
    parser.add_argument(
        "--benchmark-path",
        default=str(
            REPO.parent / "shared" / "benchmarks" / "nb201" / "nats_tss_test_acc_200ep.csv"
        ),
        help="NB201 accuracies for --proxies (correlate needs them)",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.proxies:
        return proxy_costs(args.archs or 10, args.data_root, args.benchmark_path, args.threads)
    if args.costs:
        return proxy_cost_table(
            args.spaces.split(","), args.archs or 5, min(args.reps, 3), args.data_root
        )
    cases = [c for c in CASES if any(word in c[0] for word in args.only.split(","))]
    seconds: dict[str, list[float]] = {name: [] for name, *_ in cases}
    memory: dict[str, float] = {name: 0.0 for name, *_ in cases}
    bound: dict[str, str] = {}
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        configs = {
            name: compose(
                "search",
                overrides=ov
                + ["benchmark=none"]
                + ([f"data.root={args.data_root}"] if "data=cifar10" in ov else []),
            )
            for name, ov, *_ in cases
        }
        for rep in range(args.reps):
            for name, _, _, _, reps, archs in cases:
                if rep >= reps:
                    continue
                cfg = configs[name].copy()
                cfg.seed = rep
                row = runner.search(cfg).row
                seconds[name].append(row["search_seconds"] / archs)
                memory[name] = max(memory[name], row["peak_memory_mb"])
        for name, ov, *_ in cases:
            if "data=cifar10" in ov:
                bound[name] = bounds(configs[name])
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {args.reps} reps, "
        "seeds 0..reps-1; search_seconds = construction + scoring + pruning (per architecture "
        "where the case says so)"
    )
    print(
        "| case | runs | median s | min s | max s | target s | bound s | peak RSS MB | target MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    ok = True
    for name, _, target, target_mb, _, _ in cases:
        s = seconds[name]
        med = statistics.median(s)
        ok &= med <= target and memory[name] <= target_mb
        print(
            f"| {name} | {len(s)} | {med:.3f} | {min(s):.3f} | {max(s):.3f} | {target} | "
            f"{bound.get(name, '–')} | {memory[name]:.0f} | {target_mb} |"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
