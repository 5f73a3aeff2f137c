"""Pictures of found architectures: a cell as a labelled DAG (PNG and PDF, matplotlib).

DARTS draws cells with graphviz; a binary dependency for one picture is not worth it, so nodes
are laid out here in node order (inputs on the left, the output on the right) and edges are
straight arrows labelled with their op.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .results import save_figure

INPUT_COLOUR, NODE_COLOUR, OUTPUT_COLOUR = "#c6dbef", "#fdd0a2", "#c7e9c0"


def _layout(n: int, edges: Sequence[tuple[int, int, str]]) -> dict[int, tuple[float, float]]:
    """Inputs stacked on the left; every other node in its own column, in order, alternating
    above and below the middle line so that arrows skipping a node do not run through it; the
    output on the middle line at the right."""
    incoming = {dst for _, dst, _ in edges}
    inputs = [v for v in range(n - 1) if v not in incoming]
    inner = [v for v in range(n - 1) if v in incoming]
    pos = {v: (0.0, (len(inputs) - 1) / 2 * 2.0 - 2.0 * i) for i, v in enumerate(inputs)}
    for i, v in enumerate(inner):
        pos[v] = (2.2 * (i + 1), 0.9 if i % 2 == 0 else -0.9)
    pos[n - 1] = (2.2 * (len(inner) + 1), 0.0)
    return pos


def draw_dag(
    names: Sequence[str], edges: Sequence[tuple[int, int, str]], stem: Path, title: str = ""
) -> list[Path]:
    """Draw nodes ``names`` (in topological order; nodes without incoming edges are inputs, the
    last node is the output) and edges ``(src, dst, label)``; write ``stem``.png and .pdf."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(names)
    pos = _layout(n, edges)
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    fig, ax = plt.subplots(
        figsize=(
            min(2.0 + 1.6 * (max(xs) - min(xs)) / 2.2, 14),
            min(1.5 + 0.9 * (max(ys) - min(ys)), 8),
        )
    )
    incoming = {v for _, v, _ in edges}
    for src, dst, label in edges:
        (x0, y0), (x1, y1) = pos[src], pos[dst]
        ax.annotate(
            "",
            xy=(x1, y1),
            xytext=(x0, y0),
            arrowprops=dict(arrowstyle="-|>", color="0.35", lw=1.1, shrinkA=16, shrinkB=16),
        )
        if label:
            ax.text(
                x0 + 0.55 * (x1 - x0),
                y0 + 0.55 * (y1 - y0),
                label,
                fontsize=7,
                ha="center",
                va="center",
                bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.85),
            )
    for v, name in enumerate(names):
        colour = OUTPUT_COLOUR if v == n - 1 else INPUT_COLOUR if v not in incoming else NODE_COLOUR
        ax.text(
            *pos[v],
            name,
            ha="center",
            va="center",
            fontsize=9,
            bbox=dict(boxstyle="round,pad=0.4", fc=colour, ec="0.3"),
        )
    ax.set_xlim(min(xs) - 0.9, max(xs) + 0.9)
    ax.set_ylim(min(ys) - 0.8, max(ys) + 0.8)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    try:
        for path in paths:
            save_figure(fig, path, dpi=150)
    finally:
        plt.close(fig)
    return paths
