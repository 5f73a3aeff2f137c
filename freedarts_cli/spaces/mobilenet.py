"""MobileNet space: the ProxylessNAS-style MobileNetV2 backbone of the FreeDARTS journal (Table 7).

Layout (width 1.0, 224×224, METHOD.md §3 and AUTHORS_CODE.md §3.2):

* first conv 3×3 stride 2 to ``stem_channels`` (BN, ReLU6), then a fixed MBConv with expansion 1,
  3×3, stride 1 to ``first_block_channels`` (no shortcut). Defaults 40 and 24: the authors'
  supernet and the published ProxylessNAS-GPU network (32 and 16 are ProxylessNAS' mobile-search
  stem). With them the ProxylessNAS-GPU architecture has 7,119,848 parameters and 465 M
  multiply-adds (published: 7.1 M, 465 M) and the authors' SynFlow architecture 6,261,360 (their
  retraining log: "6.261360 MB");
* 21 searchable blocks in 6 stages, widths ``[32, 56, 112, 128, 256, 432]``, repeats
  ``[4, 4, 4, 4, 4, 1]``, first-block strides ``[2, 2, 2, 1, 2, 1]`` (resolution 112 → 56 → 28
  → 14 → 14 → 7 → 7);
* "feature mix" 1×1 conv to ``last_channels`` (BN, ReLU6), global average pooling, linear
  classifier. 1728 is the width of the published ProxylessNAS-GPU network (4 × 432) and of the
  FreeDARTS authors' MobileNet supernet and retrained model (AUTHORS_CODE.md §3.2/§3.4).

Candidate ops of a block, in α's column order: ``mb{k}_e{t}`` for kernel k ∈ {3, 5, 7} and
expansion t ∈ {3, 6} (1×1 expand conv-BN-ReLU6, k×k depthwise conv-BN-ReLU6 with the block's
stride, 1×1 project conv-BN), then ``skip`` (the block is dropped). ``skip`` is only valid where
the shapes allow it (stride 1 and equal in/out channels): on the first block of each stage it is
masked out from construction on, so no score, pruner or sampler ever sees it there.

Design choices (document, not hidden):

* **Residual inside each MBConv op.** Where a block has stride 1 and equal channels, every MBConv
  candidate computes ``x + mbconv(x)``, so the mixed block is ``Σ_k α_k·(x + mbconv_k(x)) +
  α_skip·x`` and ``skip`` is the plain identity. (ProxylessNAS puts the shortcut outside the
  mixed op and uses a ``zero`` candidate for depth; with raw α that would make ``skip`` the
  term ``x + α_skip·x``. Inside, every candidate is exactly the block it would become in the
  evaluation network, and ``skip`` is exactly "block dropped".)
* **Search-op BNs have ``affine=False``** (DARTS' ``model_search.py`` convention used by the other
  spaces); the stem, first block and feature-mix BNs are affine. At initialisation (γ=1, β=0)
  both give the same forward, so SynFlow-α is unaffected; only the parameter count differs.
  Search BNs use ``bn_eps`` (ProxylessNAS' and the authors' supernet: 1e-3); the evaluation
  network uses PyTorch's 1e-5 as the authors' retraining model does.
* Weights follow PyTorch's default initialisation (:mod:`freedarts_cli.supernet`), not
  ProxylessNAS' ``he_fout``.
* With batch 1 and train-mode BN (SynFlow), no BN may see a 1×1 map: the last BN (feature mix)
  runs on the 7×7 map (input 224); the input must be at least 64 px (2×2 at the end).

``depth_search=False`` masks ``skip`` on every block (the authors' code searched kernel and
expansion only, AUTHORS_CODE.md §3.2).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from ..alpha import active_ops
from ..depthwise import DepthwiseConv2d
from ..edge import MixedEdge
from ..genotype import argmax_choice
from ..results import save_figure
from ..size import macs_m, params_m
from ..supernet import Network, Supernet

KERNELS = (3, 5, 7)
EXPANSIONS = (3, 6)
#: α's column order: kernel-major, then expansion; ``skip`` last.
OPS = [f"mb{k}_e{t}" for k in KERNELS for t in EXPANSIONS] + ["skip"]
SKIP = OPS.index("skip")

WIDTHS = (32, 56, 112, 128, 256, 432)
REPEATS = (4, 4, 4, 4, 4, 1)
STRIDES = (2, 2, 2, 1, 2, 1)
EDGES = [f"s{s + 1}b{b + 1}" for s, n in enumerate(REPEATS) for b in range(n)]

MIN_INPUT = 64  # below this the feature-mix BN sees a 1×1 map (batch-1 train-mode BN fails)


def make_divisible(v: float, divisor: int = 8) -> int:
    """ProxylessNAS/MobileNetV2 channel rounding: nearest multiple of ``divisor``, at least
    ``divisor``, never more than 10 % below ``v``."""
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new < 0.9 * v:
        new += divisor
    return new


def op_shape(op: str) -> tuple[int, int]:
    """``"mb5_e6"`` -> (kernel 5, expansion 6)."""
    k, t = op[2:].split("_e")
    return int(k), int(t)


class MBConv(nn.Module):
    """Inverted residual: [1×1 expand-BN-ReLU6] (skipped when ``expand == 1``), k×k depthwise
    (stride) -BN-ReLU6, 1×1 project-BN; ``x + ...`` when stride 1 and ``c_in == c_out``."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: int,
        stride: int,
        expand: int,
        affine: bool,
        eps: float,
        shortcut: bool = True,
    ):
        super().__init__()
        hidden = c_in * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [
                nn.Conv2d(c_in, hidden, 1, bias=False),
                nn.BatchNorm2d(hidden, eps=eps, affine=affine),
                nn.ReLU6(inplace=True),
            ]
        layers += [
            DepthwiseConv2d(hidden, kernel, stride, kernel // 2),
            nn.BatchNorm2d(hidden, eps=eps, affine=affine),
            nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out, eps=eps, affine=affine),
        ]
        self.body = nn.Sequential(*layers)
        self.residual = shortcut and stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.residual else y


class _NoSkip(nn.Module):
    """Placeholder in the ``skip`` column of a block whose shapes change: masked out from
    construction on, so it is never called."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("skip is not a valid op on a block that changes stride or channels")


class Plan:
    """Channel and stride plan of the backbone for one ``width_mult``."""

    def __init__(
        self,
        width_mult: float = 1.0,
        stem_channels: int = 40,
        first_block_channels: int = 24,
        last_channels: int = 1728,
    ):
        self.stem = make_divisible(stem_channels * width_mult)
        self.first = make_divisible(first_block_channels * width_mult)
        # ProxylessNAS keeps the last width for width_mult <= 1 and scales it above.
        self.last = make_divisible(last_channels * width_mult) if width_mult > 1 else last_channels
        self.blocks: list[tuple[int, int, int]] = []  # (c_in, c_out, stride) per searchable block
        self.stage_of: list[int] = []
        c = self.first
        for s, (width, n, stride) in enumerate(zip(WIDTHS, REPEATS, STRIDES, strict=True)):
            w = make_divisible(width * width_mult)
            for b in range(n):
                self.blocks.append((c, w, stride if b == 0 else 1))
                self.stage_of.append(s)
                c = w

    def skip_valid(self) -> list[bool]:
        return [stride == 1 and c_in == c_out for c_in, c_out, stride in self.blocks]


class _Skeleton(nn.Module):
    """Stem, first block, 21 blocks (``make_block(i, c_in, c_out, stride)``), feature mix, GAP,
    classifier. Fixed parts have affine BNs."""

    def _build(self, plan: Plan, num_classes: int, make_block, eps: float) -> None:
        self.stem = nn.Sequential(
            nn.Conv2d(3, plan.stem, 3, 2, 1, bias=False),
            nn.BatchNorm2d(plan.stem, eps=eps),
            nn.ReLU6(inplace=True),
        )
        self.first = MBConv(
            plan.stem, plan.first, 3, 1, 1, affine=True, eps=eps, shortcut=False
        )  # ProxylessNAS: no shortcut here
        self.blocks = nn.ModuleList(make_block(i, *b) for i, b in enumerate(plan.blocks))
        c = plan.blocks[-1][1]
        self.mix = nn.Sequential(
            nn.Conv2d(c, plan.last, 1, bias=False),
            nn.BatchNorm2d(plan.last, eps=eps),
            nn.ReLU6(inplace=True),
        )
        self.classifier = nn.Linear(plan.last, num_classes)

    def _head(self, x: torch.Tensor) -> torch.Tensor:
        # global pooling after the last BN: no BN ever sees a 1×1 map
        return self.classifier(self.mix(x).mean(dim=(2, 3)))


class MobileNetSupernet(Supernet, _Skeleton):
    """Every searchable block is a :class:`~freedarts_cli.edge.MixedEdge` over the 7 ops (raw α);
    ``skip`` is masked out on the blocks where it is invalid (set here, before any score)."""

    def __init__(
        self,
        a: float,
        plan: Plan,
        num_classes: int = 1000,
        input_size: int = 224,
        bn_eps: float = 1e-3,
        depth_search: bool = True,
    ):
        super().__init__(EDGES, OPS, a, (3, input_size, input_size))

        def block(i, c_in, c_out, stride):
            ops: list[nn.Module] = [
                MBConv(c_in, c_out, k, stride, t, affine=False, eps=bn_eps)
                for k in KERNELS
                for t in EXPANSIONS
            ]
            ops.append(nn.Identity() if stride == 1 and c_in == c_out else _NoSkip())
            return MixedEdge(ops)

        self._build(plan, num_classes, block, bn_eps)
        for e, valid in enumerate(plan.skip_valid()):
            if not (valid and depth_search):
                self.mask[e, SKIP] = False
        self.active = active_ops(self.mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        alpha, active = self.alpha_weights(), self.active
        x = self.first(self.stem(x))
        for e, edge in enumerate(self.blocks):
            x = edge(x, alpha[e], active[e])
        return self._head(x)


class MobileNetNetwork(Network, _Skeleton):
    """The evaluation network of one choice: one MBConv per block (affine BNs, eps 1e-5, shortcut
    when stride 1 and equal channels), ``skip`` = block dropped."""

    def __init__(
        self, choice: Sequence[int], plan: Plan, num_classes: int = 1000, input_size: int = 224
    ):
        super().__init__()
        self.input_shape = (3, input_size, input_size)
        self.choice = list(choice)

        def block(i, c_in, c_out, stride):
            op = OPS[self.choice[i]]
            if op == "skip":
                return nn.Identity()
            k, t = op_shape(op)
            return MBConv(c_in, c_out, k, stride, t, affine=True, eps=1e-5)

        self._build(plan, num_classes, block, 1e-5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.first(self.stem(x))
        for block in self.blocks:
            x = block(x)
        return self._head(x)


class MobileNetSpace:
    """The ``space=mobilenet`` unit: 21 blocks × 7 ops (α 21×7), one op per block."""

    name = "mobilenet"
    edges = EDGES
    ops = OPS
    removals = "edge"  # iterative: the weakest op of every open block per round (6 rounds)

    def __init__(
        self,
        num_classes: int = 1000,
        input_size: int = 224,
        width_mult: float = 1.0,
        stem_channels: int = 40,
        first_block_channels: int = 24,
        last_channels: int = 1728,
        bn_eps: float = 1e-3,
        depth_search: bool = True,
    ):
        if input_size < MIN_INPUT:
            raise ValueError(
                f"input_size={input_size} leaves a 1x1 map before the last BN; "
                f"use input_size >= {MIN_INPUT}"
            )
        self.num_classes, self.input_size = int(num_classes), int(input_size)
        self.width_mult, self.bn_eps = float(width_mult), float(bn_eps)
        self.depth_search = bool(depth_search)
        self.plan = Plan(self.width_mult, stem_channels, first_block_channels, last_channels)
        skip_ok = self.plan.skip_valid()
        #: per block, the op indices a valid architecture may use
        self.valid = [
            [k for k in range(len(OPS)) if k != SKIP or (skip_ok[e] and self.depth_search)]
            for e in range(len(EDGES))
        ]

    # -- supernet and pruning rules ---------------------------------------------------------
    def build_supernet(
        self, a: float, dtype: torch.dtype, device: torch.device
    ) -> MobileNetSupernet:
        """Construct (invalid skips masked), move to ``dtype``/``device``, draw weights and α."""
        net = MobileNetSupernet(
            a, self.plan, self.num_classes, self.input_size, self.bn_eps, self.depth_search
        )
        return net.materialise(dtype, device)

    def discretise(self, scores: torch.Tensor, mask: torch.Tensor) -> list[int]:
        """Per block, the highest-scoring op still in the mask."""
        return argmax_choice(scores, mask.cpu())

    def is_discrete(self, mask: torch.Tensor) -> bool:
        return bool((mask.sum(dim=1) == 1).all())

    # -- architectures ----------------------------------------------------------------------
    def check(self, choice: Sequence[int]) -> list[int]:
        """``choice`` as a list, or a ValueError if it is not an architecture of this space."""
        choice = [int(k) for k in choice]
        if len(choice) != len(EDGES):
            raise ValueError(f"a MobileNet choice has {len(EDGES)} entries, got {len(choice)}")
        for e, k in enumerate(choice):
            if k not in self.valid[e]:
                raise ValueError(
                    f"op {OPS[k] if 0 <= k < len(OPS) else k} is not valid on block {EDGES[e]}"
                )
        return choice

    def decode(self, choice: Sequence[int]) -> str:
        """``mb3_e3-mb5_e6-skip-...``: the 21 block ops joined by ``-``."""
        return "-".join(OPS[k] for k in self.check(choice))

    def parse(self, arch: str) -> list[int]:
        """Inverse of :meth:`decode`."""
        names = arch.split("-")
        unknown = [n for n in names if n not in OPS]
        if unknown:
            raise ValueError(f"unknown op {unknown[0]!r} in {arch!r}")
        return self.check([OPS.index(n) for n in names])

    def sample(self, generator: torch.Generator) -> list[int]:
        """A uniformly random valid architecture (each block uniform over its valid ops)."""
        return [ops[int(torch.randint(len(ops), (1,), generator=generator))] for ops in self.valid]

    def mutate(self, choice: list[int], generator: torch.Generator) -> list[int]:
        """One block changed to a different valid op."""
        child = list(choice)
        e = int(torch.randint(len(EDGES), (1,), generator=generator))
        other = [k for k in self.valid[e] if k != child[e]]
        child[e] = other[int(torch.randint(len(other), (1,), generator=generator))]
        return child

    def network(
        self, choice: Sequence[int], dtype: torch.dtype, device: torch.device
    ) -> MobileNetNetwork:
        """The evaluation network of one choice, freshly initialised."""
        net = MobileNetNetwork(self.check(choice), self.plan, self.num_classes, self.input_size)
        return net.materialise(dtype, device)

    def describe(self, choice: Sequence[int]) -> dict:
        """Extra result columns: parameters (M) and multiply-adds (M) of the evaluation network
        at ``input_size``/``num_classes``, and the genotype as a JSON list of op names."""
        choice = self.check(choice)
        net = self.network(choice, torch.float32, torch.device("cpu"))
        return {
            "params_m": round(params_m(net), 6),
            "flops_m": round(macs_m(net, net.input_shape), 3),
            "genotype_json": json.dumps([OPS[k] for k in choice]),
        }

    def draw(self, choice: Sequence[int], out_dir: Path) -> list[Path]:
        """The block sequence as a picture: ``architecture.png`` and ``.pdf`` in ``out_dir``."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import FancyBboxPatch, Patch

        choice = self.check(choice)
        plan = self.plan
        colours = {3: "#9ecae1", 5: "#fdae6b", 7: "#e6550d"}
        fixed = "#d9d9d9"
        step = 1.0
        n = len(choice) + 3  # stem, first block, 21 blocks, head
        fig, ax = plt.subplots(figsize=(0.62 * n + 1.5, 3.6))

        def box(x, h, fc, label, ec="0.25", lw=0.9, fontsize=7, w=0.8, rotation=0):
            ax.add_patch(
                FancyBboxPatch(
                    (x - w / 2, -h / 2),
                    w,
                    h,
                    boxstyle="round,pad=0.02,rounding_size=0.06",
                    fc=fc,
                    ec=ec,
                    lw=lw,
                )
            )
            ax.text(
                x,
                0,
                label,
                ha="center",
                va="center",
                fontsize=fontsize,
                rotation=rotation,
                color="0.45" if rotation else "black",
            )

        box(0, 1.0, fixed, f"conv\n3×3\n{plan.stem}")
        ax.text(
            0, -0.72, "s2", ha="center", va="top", fontsize=7, color="#b30000", fontweight="bold"
        )
        box(step, 0.7, fixed, f"MB1\n3×3\n{plan.first}")
        prev_stage = -1
        for i, k_op in enumerate(choice):
            x = (i + 2) * step
            c_in, c_out, stride = plan.blocks[i]
            stage = plan.stage_of[i]
            if stage != prev_stage:
                ax.axvline(x - step / 2, color="0.55", ls="--", lw=0.8)
                ax.text(
                    x - step / 2 + 0.08,
                    1.02,
                    f"stage {stage + 1}\n{c_out} ch, s{stride}",
                    ha="left",
                    va="bottom",
                    fontsize=7.5,
                )
                prev_stage = stage
            op = OPS[k_op]
            if op == "skip":
                box(x, 0.9, "#f0f0f0", "skip", ec="0.6", lw=0.6, fontsize=6.5, w=0.3, rotation=90)
            else:
                k, t = op_shape(op)
                box(x, 0.55 + 0.12 * t, colours[k], f"k{k}\ne{t}")
            if stride != 1:
                ax.text(
                    x,
                    -0.72,
                    f"s{stride}",
                    ha="center",
                    va="top",
                    fontsize=7,
                    color="#b30000",
                    fontweight="bold",
                )
        x = (len(choice) + 2) * step
        ax.axvline(x - step / 2, color="0.55", ls="--", lw=0.8)
        box(x, 1.0, fixed, f"1×1\n{plan.last}\npool\nFC")
        ax.annotate(
            "",
            xy=(x + 0.55, 0),
            xytext=(-0.55, 0),
            zorder=0,
            arrowprops=dict(arrowstyle="-|>", color="0.6", lw=0.8),
        )
        handles = [Patch(fc=colours[k], ec="0.25", label=f"{k}×{k} depthwise") for k in KERNELS]
        handles += [
            Patch(fc="#f0f0f0", ec="0.6", label="skip (block dropped)"),
            Patch(fc=fixed, ec="0.25", label="fixed layer"),
        ]
        ax.legend(
            handles=handles,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.02),
            ncol=5,
            fontsize=7,
            frameon=False,
        )
        info = self.describe(choice)
        ax.set_title(
            f"MobileNet space, {self.input_size}×{self.input_size}: "
            f"{info['params_m']:.2f} M params, {info['flops_m']:.0f} M MACs "
            "(box height: expansion 3 / 6; s2: stride 2)",
            fontsize=9,
        )
        ax.set_xlim(-0.7, x + 0.7)
        ax.set_ylim(-1.1, 1.45)
        ax.axis("off")
        fig.tight_layout()
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = [out_dir / "architecture.png", out_dir / "architecture.pdf"]
        try:
            save_figure(fig, paths[0], dpi=150)
            save_figure(fig, paths[1])
        finally:
            plt.close(fig)
        return paths
