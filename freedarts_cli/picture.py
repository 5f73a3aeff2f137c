"""Pictures of found architectures: a cell as a labelled DAG (PNG and PDF, matplotlib).

DARTS draws cells with graphviz; a binary dependency for one picture is not worth it, so nodes
are laid out here by depth (inputs on the left, the output on the right) and edges are straight
arrows labelled with their op.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

INPUT_COLOUR, NODE_COLOUR, OUTPUT_COLOUR = "#c6dbef", "#fdd0a2", "#c7e9c0"


def _depths(n: int, edges: Sequence[tuple[int, int, str]]) -> list[int]:
    """Longest path from an input to each node (nodes are numbered in topological order)."""
    depth = [0] * n
    for src, dst, _ in sorted(edges, key=lambda e: e[1]):
        depth[dst] = max(depth[dst], depth[src] + 1)
    return depth


def draw_dag(names: Sequence[str], edges: Sequence[tuple[int, int, str]], stem: Path,
             title: str = "") -> list[Path]:
    """Draw nodes ``names`` (in topological order; nodes without incoming edges are inputs, the
    last node is the output) and edges ``(src, dst, label)``; write ``stem``.png and .pdf."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(names)
    depth = _depths(n, edges)
    columns: dict[int, list[int]] = {}
    for v in range(n):
        columns.setdefault(depth[v], []).append(v)
    pos = {}
    for d, nodes in columns.items():
        for i, v in enumerate(nodes):
            pos[v] = (d * 2.6, (len(nodes) - 1) / 2 - i * 1.4 + (0.35 * (d % 2) if d else 0))

    width = 2.6 * (max(depth) + 1) + 1
    height = 1.4 * max(len(c) for c in columns.values()) + 1.2
    fig, ax = plt.subplots(figsize=(min(width, 14), min(height, 9)))
    incoming = {v for _, v, _ in edges}
    for src, dst, label in edges:
        (x0, y0), (x1, y1) = pos[src], pos[dst]
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops=dict(arrowstyle="-|>", color="0.35", lw=1.1,
                                    shrinkA=16, shrinkB=16))
        if label:
            ax.text(x0 + 0.55 * (x1 - x0), y0 + 0.55 * (y1 - y0), label, fontsize=7,
                    ha="center", va="center", bbox=dict(boxstyle="round,pad=0.15", fc="white",
                                                        ec="none", alpha=0.85))
    for v, name in enumerate(names):
        colour = (OUTPUT_COLOUR if v == n - 1 else
                  INPUT_COLOUR if v not in incoming else NODE_COLOUR)
        ax.text(*pos[v], name, ha="center", va="center", fontsize=9,
                bbox=dict(boxstyle="round,pad=0.4", fc=colour, ec="0.3"))
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - 0.9, max(xs) + 0.9)
    ax.set_ylim(min(ys) - 0.8, max(ys) + 0.8)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    for path in paths:
        fig.savefig(path, dpi=150)
    plt.close(fig)
    return paths
