"""Figures from result CSVs (``freedarts figures PATH... figure=<name>``), PNG and PDF.

=============  ===================================================================================
a_study        FreeDARTS test accuracy against ``a`` (log axis), one line per pruning mode (and
               scorer), mean ± std over seeds, one panel per dataset; the papers' points at 1e-3
trajectory     accuracy of the argmax architecture after each removal round (``trajectory.csv``),
               mean ± std over seeds, one panel per dataset
sample_size    zero-cost NAS with N sampled architectures against FreeDARTS, per proxy
cost_accuracy  every method's mean search time (log axis) against its mean test accuracy
op_selection   how often each operation is chosen, per edge and overall, against ``a``
proxy_scatter  proxy study: each proxy's score against test accuracy (hexbin beyond 2,000 archs)
proxy_tau      proxy study: Kendall τ per proxy and dataset, the VKDNW re-run's values marked
=============  ===================================================================================

Every figure reads the ``result.csv`` files under the folders (as ``freedarts tables`` does);
groups whose data-dependent scores ran on random images say "synthetic" in their legend.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from .errors import UserError
from .results import save_figure
from .tables import collect, drop_duplicate_runs

DATASETS = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "imagenet16_120": "ImageNet16-120"}
EDGES = ["1<-0", "2<-0", "2<-1", "3<-0", "3<-1", "3<-2"]
OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
OP_COLOURS = {
    "none": "#bbbbbb",
    "skip_connect": "#4c72b0",
    "nor_conv_1x1": "#dd8452",
    "nor_conv_3x3": "#c44e52",
    "avg_pool_3x3": "#55a868",
}
EXTRAS = ("n_samples", "n_proposals", "n_validation", "n_models", "warmup")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed (also on a cluster node)
    import matplotlib.pyplot as plt

    return plt


def parse_arch(arch: str) -> list[str]:
    """The op on each edge (``EDGES`` order) of an NB201 string ``|op~0|+|op~0|op~1|+…``."""
    ops = re.findall(r"([a-z0-9_]+)~\d", str(arch))
    if len(ops) != len(EDGES):
        raise ValueError(f"not an NB201 architecture string: {arch!r}")
    return ops


def _datasets(df: pd.DataFrame, wanted, split: str = "test") -> list[str]:
    return [
        d
        for d in wanted
        if f"{d}_{split}" in df.columns
        and pd.to_numeric(df[f"{d}_{split}"], errors="coerce").notna().any()
    ]


def _where(df: pd.DataFrame, where) -> pd.DataFrame:
    from .tables import _select

    return _select(df, dict(where)) if where else df


def _data_tag(g: pd.DataFrame) -> str:
    return " (synthetic)" if "data" in g.columns and (g["data"] == "synthetic").any() else ""


SHORT = {
    "freedarts": "FreeDARTS",
    "zero_cost": "ZC",
    "zero_cost_pt": "ZC-PT",
    "naswot": "NASWOT",
    "tenas": "TE-NAS",
    "random": "random",
    "random_search": "RS",
    "evolution": "AE",
}


def _label(key: dict) -> str:
    """A short name for a group of runs: method, proxy, the setting that tells groups apart."""
    method = str(key.get("method", ""))
    parts = [SHORT.get(method, method)]
    scorer, pruning = key.get("scorer"), key.get("pruning")
    if method not in ("random", "naswot", "tenas") and isinstance(scorer, str):
        parts.append(scorer)
    if method == "freedarts" and isinstance(pruning, str):
        parts.append(pruning)
    if method == "zero_cost_pt" and isinstance(pruning, str):
        parts.append(pruning.replace("perturbation_", ""))
    n = key.get("n_samples")
    if method in ("zero_cost", "naswot") and n is not None and not pd.isna(n):
        parts.append(f"N={int(n)}")
    warmup = key.get("warmup")
    if method == "evolution" and warmup is not None and not pd.isna(warmup) and warmup > 0:
        parts.append("warm-up")
    return " ".join(parts)


def _studied(df: pd.DataFrame, keys: list[str], over: str) -> pd.DataFrame:
    """The groups (by ``keys``) that vary ``over`` (several values); all of them if none does."""
    varied = df.groupby(keys)[over].transform(lambda x: x.nunique() > 1)
    return df[varied] if varied.any() else df


def _legend_right(fig, ax) -> None:
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)


def _by(g: pd.DataFrame, key: str, col: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per value of ``key``: mean and population std of ``col`` (NaN ignored)."""
    x = pd.to_numeric(g[col], errors="coerce") if col in g.columns else pd.Series(np.nan, g.index)
    stats = x.groupby(g[key].astype(float)).agg(["mean", lambda v: v.std(ddof=0)])
    return (
        stats.index.to_numpy(dtype=float),
        stats.iloc[:, 0].to_numpy(),
        stats.iloc[:, 1].to_numpy(),
    )


def _stats(x) -> tuple[float, float]:
    x = pd.to_numeric(pd.Series(x), errors="coerce").dropna()
    return (x.mean(), x.std(ddof=0)) if len(x) else (np.nan, np.nan)


def _require(df: pd.DataFrame, what: str, hint: str) -> None:
    if df.empty:
        raise UserError(f"no runs for this figure: it needs {what} ({hint})")


# --------------------------------------------------------------------------------------------


def a_study(df: pd.DataFrame, datasets, plt):
    """Test accuracy against ``a`` for each (scorer, pruning) of FreeDARTS."""
    from . import published

    df = df[df["method"] == "freedarts"] if "method" in df.columns else df
    _require(df, "FreeDARTS runs at several a", "freedarts search -m experiment=a_study")
    df = _studied(df, ["scorer", "pruning"], "a")
    ds = _datasets(df, datasets)
    fig, axes = plt.subplots(1, len(ds), figsize=(4.2 * len(ds), 3.4), squeeze=False)
    paper = published.values()
    refs = {
        "oneshot": ("conf_table1", "freedarts", "paper one-shot"),
        "iterative": ("journal_table2", "freedarts", "paper iterative"),
    }
    for ax, d in zip(axes[0], ds, strict=True):
        for (scorer, pruning), g in df.groupby(["scorer", "pruning"], sort=True):
            a, m, s = _by(g, "a", f"{d}_test")
            (line,) = ax.plot(a, m, "o-", label=f"{pruning} ({scorer}){_data_tag(g)}")
            ax.fill_between(a, m - s, m + s, color=line.get_color(), alpha=0.2)
        for pruning, (table, row, text) in refs.items():
            rec = paper[(paper.table == table) & (paper.row == row) & (paper.column == f"{d}_test")]
            if not rec.empty and pruning in set(df["pruning"]):
                ax.errorbar(
                    [1e-3],
                    rec.value_f,
                    yerr=rec.std_f.fillna(0),
                    fmt="*",
                    ms=10,
                    capsize=3,
                    color="black" if pruning == "oneshot" else "grey",
                    label=text,
                )
        ax.set_xscale("log")
        ax.set_xlabel("a  (α = a · N(0, 1))")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(DATASETS[d])
        ax.grid(alpha=0.3)
    _legend_right(fig, axes[0][-1])
    fig.suptitle("FreeDARTS: accuracy against the α scale a (mean ± std over seeds)")
    return fig


def trajectory(df: pd.DataFrame, datasets, plt):
    """Accuracy of argmax(α) after each removal round, from ``trajectory.csv`` beside each run."""
    frames = []
    for _, run in df.iterrows():
        path = Path(str(run["source"])).with_name("trajectory.csv")
        if path.is_file():
            t = pd.read_csv(path)
            if len(t) > 1:
                t = t.assign(
                    scorer=run.get("scorer"),
                    pruning=run.get("pruning"),
                    a=run.get("a"),
                    seed=run.get("seed"),
                    data=run.get("data"),
                )
                frames.append(t)
    if not frames:
        raise UserError(
            "no multi-round trajectory.csv beside the result.csv files: run "
            "iterative pruning, e.g. freedarts search -m experiment=trajectory"
        )
    traj = pd.concat(frames, ignore_index=True)
    ds = _datasets(traj, datasets)
    if not ds:
        raise UserError(
            "the trajectories have no accuracies: search with a benchmark "
            "(benchmark=table benchmark.path=...)"
        )
    fig, axes = plt.subplots(1, len(ds), figsize=(4.2 * len(ds), 3.4), squeeze=False)
    random = df[df["method"] == "random"] if "method" in df.columns else df.iloc[0:0]
    for ax, d in zip(axes[0], ds, strict=True):
        for (scorer, pruning, a), g in traj.groupby(["scorer", "pruning", "a"], sort=True):
            r, m, s = _by(g, "round", f"{d}_test")
            n = g["seed"].nunique()
            (line,) = ax.plot(r, m, "-", label=f"{scorer} {pruning} a={a:g}{_data_tag(g)} (n={n})")
            ax.fill_between(r, m - s, m + s, color=line.get_color(), alpha=0.2)
        if not random.empty and f"{d}_test" in random.columns:
            mean, _ = _stats(random[f"{d}_test"])
            ax.axhline(mean, ls=":", color="grey", label="random architecture (mean)")
        ax.set_xlabel("removal round")
        ax.set_ylabel("test accuracy of argmax cell (%)")
        ax.set_title(DATASETS[d])
        ax.grid(alpha=0.3)
    _legend_right(fig, axes[0][-1])
    fig.suptitle("Pruning trajectory: the argmax architecture after each removal")
    return fig


def sample_size(df: pd.DataFrame, datasets, plt):
    """Zero-cost NAS test accuracy against N (log axis), FreeDARTS as a band, per proxy."""
    if "method" not in df.columns or "n_samples" not in df.columns:
        raise UserError(
            "no zero-cost NAS runs with n_samples: freedarts search -m experiment=sample_size"
        )
    zc = df[df["method"] == "zero_cost"]
    fd = df[df["method"] == "freedarts"]
    if "a" in fd.columns and np.isclose(fd["a"].astype(float), 1e-3).any():
        fd = fd[np.isclose(fd["a"].astype(float), 1e-3)]  # the papers' a, if an a-sweep is mixed in
    _require(zc, "zero-cost NAS runs", "freedarts search -m experiment=sample_size")
    proxies = sorted(set(zc["scorer"]))
    ds = _datasets(zc, datasets)
    fig, axes = plt.subplots(
        len(ds), len(proxies), figsize=(3.6 * len(proxies), 3.0 * len(ds)), squeeze=False
    )
    for i, d in enumerate(ds):
        for j, proxy in enumerate(proxies):
            ax = axes[i][j]
            g = zc[zc["scorer"] == proxy]
            n, m, s = _by(g, "n_samples", f"{d}_test")
            ax.errorbar(n, m, yerr=s, fmt="o-", capsize=3, label=f"zero-cost NAS{_data_tag(g)}")
            for pruning, f in fd[fd["scorer"] == proxy].groupby("pruning"):
                fm, fs = _stats(f[f"{d}_test"])
                line = ax.axhline(
                    fm,
                    ls="--",
                    label=f"FreeDARTS {pruning}{_data_tag(f)}",
                    color="C1" if pruning == "oneshot" else "C2",
                )
                ax.axhspan(fm - fs, fm + fs, color=line.get_color(), alpha=0.15)
            ax.set_xscale("log")
            ax.set_title(f"{proxy}: {DATASETS[d]}", fontsize=9)
            ax.set_xlabel("N (architectures sampled)")
            ax.set_ylabel("test accuracy (%)")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=6)
    fig.suptitle("Sample size: zero-cost NAS with N samples vs FreeDARTS (mean ± std)")
    return fig


def cost_accuracy(df: pd.DataFrame, datasets, plt):
    """Each method group's mean search time (log axis) against its mean test accuracy; hollow
    markers are groups whose scores read synthetic images."""
    _require(df, "runs of any method", "e.g. freedarts search -m experiment=cost_accuracy")
    keys = [k for k in ("method", "scorer", "pruning", *EXTRAS) if k in df.columns]
    ds = _datasets(df, datasets)
    if not ds:
        raise UserError("the runs have no test accuracies: search with a benchmark")
    fig, axes = plt.subplots(1, len(ds), figsize=(5.2 * len(ds), 4.4), squeeze=False)
    markers = "osD^v<>pPXh*"
    methods = sorted(set(df["method"])) if "method" in df.columns else [""]
    groups = []
    for key, g in df.groupby(keys, dropna=False, sort=True):
        key = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        groups.append((key, g, _stats(g["search_seconds"])))
    for ax, d in zip(axes[0], ds, strict=True):
        for key, g, (tm, ts) in groups:
            am, as_ = _stats(g[f"{d}_test"])
            if pd.isna(am) or pd.isna(tm):
                continue
            k = methods.index(key.get("method", "")) if key.get("method", "") in methods else 0
            colour, x = f"C{k % 10}", max(tm, 1e-4)
            ax.errorbar(
                [x],
                [am],
                xerr=[[min(ts, x * 0.9)], [ts]],
                yerr=[as_],
                capsize=2,
                ms=6,
                fmt=markers[k % len(markers)],
                color=colour,
                mfc="none" if _data_tag(g) else colour,
            )
            note = ax.annotate(
                _label(key),
                (x, am),
                fontsize=6,
                xytext=(4, 3),
                textcoords="offset points",
                annotation_clip=True,
            )
            note.set_in_layout(False)
        ax.set_xscale("log")
        ax.margins(x=0.15)
        ax.set_xlabel("search time (s, mean over runs; log scale)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(DATASETS[d])
        ax.grid(alpha=0.3, which="both")
    for k, m in enumerate(methods):
        axes[0][-1].plot(
            [], [], markers[k % len(markers)], color=f"C{k % 10}", label=SHORT.get(m, m)
        )
    if any(_data_tag(g) for _, g, _ in groups):
        axes[0][-1].plot([], [], "o", color="grey", mfc="none", label="synthetic data")
    _legend_right(fig, axes[0][-1])
    fig.suptitle("Search cost against accuracy (mean ± std over runs)")
    return fig


def op_selection(df: pd.DataFrame, datasets, plt):
    """Fraction of runs choosing each op, per edge and over all edges, against ``a``."""
    df = df[df["method"] == "freedarts"] if "method" in df.columns else df
    df = df[df["arch"].notna()] if "arch" in df.columns else df.iloc[0:0]
    _require(df, "FreeDARTS runs at several a", "freedarts search -m experiment=op_selection")
    df = _studied(df, ["scorer", "pruning"], "a")
    ops = pd.DataFrame([parse_arch(a) for a in df["arch"]], columns=EDGES, index=df.index)
    df = pd.concat([df[["scorer", "pruning", "a"]], ops], axis=1)
    groups = sorted(df.groupby(["scorer", "pruning"]).groups)
    a_values = sorted(set(df["a"].astype(float)))
    panels = EDGES + ["all edges"]
    fig, axes = plt.subplots(
        len(groups),
        len(panels),
        figsize=(2.3 * len(panels), 2.4 * len(groups)),
        squeeze=False,
        sharey=True,
    )
    x = np.arange(len(a_values))
    for i, (scorer, pruning) in enumerate(groups):
        g = df[(df["scorer"] == scorer) & (df["pruning"] == pruning)]
        for j, panel in enumerate(panels):
            ax = axes[i][j]
            bottom = np.zeros(len(a_values))
            for op in OPS:
                frac = []
                for a in a_values:
                    ga = g[np.isclose(g["a"].astype(float), a)]
                    cols = EDGES if panel == "all edges" else [panel]
                    chosen = ga[cols].to_numpy().ravel()
                    frac.append((chosen == op).mean() if len(chosen) else 0.0)
                ax.bar(x, frac, bottom=bottom, color=OP_COLOURS[op], label=op, width=0.8)
                bottom += np.array(frac)
            ticks = [f"{a:g}" for a in a_values]
            if panel == "all edges":  # how much of the space the runs reach: distinct cells
                ticks = [
                    f"{t}\n{_distinct(g, a)} cells" for t, a in zip(ticks, a_values, strict=True)
                ]
            ax.set_xticks(x, ticks, rotation=60 if panel != "all edges" else 0, fontsize=6)
            if i == 0:
                ax.set_title(panel if panel == "all edges" else f"edge {panel}", fontsize=9)
            if j == 0:
                ax.set_ylabel(f"{scorer} {pruning}\nfraction of runs", fontsize=8)
            if i == len(groups) - 1:
                ax.set_xlabel("a", fontsize=8)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(OPS), fontsize=7)
    fig.suptitle("Operations chosen by FreeDARTS against a (per edge and overall)")
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    return fig


def _distinct(g: pd.DataFrame, a: float) -> int:
    ga = g[np.isclose(g["a"].astype(float), a)]
    return len(ga[EDGES].drop_duplicates())


def _score_axis(values: np.ndarray) -> tuple[np.ndarray, str]:
    """Raw values, or log10 of them when they are non-negative and the positive ones span more
    than three decades (synflow spans tens); a zero (a network whose every path crosses
    ``none``) is drawn one decade below the smallest positive value, and -inf (a floored
    degenerate network) is left out of the plot."""
    finite = values[np.isfinite(values)]
    positive = finite[finite > 0]
    if len(positive) and finite.min() >= 0 and positive.max() / positive.min() > 1e3:
        floor = np.log10(positive.min()) - 1
        with np.errstate(divide="ignore"):
            logged = np.where(values > 0, np.log10(np.where(values > 0, values, 1.0)), floor)
        logged[~np.isfinite(values)] = -np.inf
        label = "log10 score" + (" (0 at the bottom)" if (finite == 0).any() else "")
        return logged, label
    return values, "score"


def proxy_scatter(study, datasets, plt):
    """One panel per proxy: score against the first dataset's test accuracy, a hexbin (log
    counts) beyond 2,000 architectures, with the mean Kendall τ over seeds in the title."""
    from .correlation import DATASETS as ACC
    from .correlation import columns_for, kendall, measured_column, study_proxies

    dataset = next((d for d in datasets if d in ACC), "cifar10")
    column = measured_column(study.accuracy, dataset) or ACC[dataset]  # DARTS/NB101: valid
    proxies = study_proxies(study.scores)
    seed = sorted(study.scores["seed"].unique())[0]
    cols = min(4, len(proxies))
    rows = int(np.ceil(len(proxies) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.0 * rows), squeeze=False)
    for ax in axes.flat[len(proxies) :]:
        ax.set_visible(False)
    for ax, proxy in zip(axes.flat, proxies, strict=True):
        values = columns_for(study.scores, proxy, seed)
        acc = study.accuracy[column].reindex(values.index).to_numpy()
        y, ylabel = _score_axis(values.to_numpy(dtype=np.float64))
        keep = np.isfinite(y) & np.isfinite(acc)
        if keep.sum() > 2000:
            ax.hexbin(acc[keep], y[keep], gridsize=45, bins="log", cmap="viridis", mincnt=1)
        else:
            ax.scatter(acc[keep], y[keep], s=6, alpha=0.6)
        tau = kendall(values.to_numpy(), acc)
        # pad: clear of the axis' offset text ("1e8"), which sits above its top-left corner
        ax.set_title(f"{proxy} (τ = {tau:.3f}, n = {int(keep.sum()):,})", fontsize=9, pad=14)
        kind = "validation" if column.endswith("_valid") else "test"
        ax.set_xlabel(f"{DATASETS[dataset]} {kind} accuracy (%)", fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(f"Proxy score against accuracy, seed {seed}")
    return fig


def proxy_tau(study, datasets, plt):
    """Kendall τ per proxy (mean ± std over seeds as error bars), one bar per dataset, proxies
    ranked by the first dataset's mean τ, best at the top; a published Kendall τ for the
    study's space (the VKDNW re-run on NB201) marked with a black cross beside each bar it has."""
    from .correlation import correlations, measured_column, space_title, study_space, summarise
    from .published import CORRELATION_TABLES, correlation_tables, correlation_values

    # error bars over seeds compare the same networks: the architectures every seed scored
    summary = summarise(correlations(study.scores, study.accuracy, common=True))
    summary = summary[(summary["metric"] == "kendall") & summary["dataset"].isin(datasets)]
    shown = [d for d in datasets if d in set(summary["dataset"])]
    first = summary[summary["dataset"] == shown[0]].set_index("proxy")["mean"] if shown else None
    proxies = [] if first is None else list(first.sort_values(ascending=False).index)
    space = study_space(study.scores)
    tables = correlation_tables(space)
    paper = correlation_values()
    paper = paper[paper["table"].isin(tables) & (paper["metric"] == "kendall")]
    marks = {(r.proxy, r.dataset): (r.value, r.table) for r in paper.itertuples()}
    # Horizontal bars, one row per proxy: its name always fits, however many proxies.
    height = 0.8 / max(1, len(shown))
    fig, ax = plt.subplots(figsize=(7.5, max(3.0, 0.22 * len(proxies) * max(1, len(shown)))))
    y = np.arange(len(proxies))
    marked: set[str] = set()
    for k, dataset in enumerate(shown):
        rows = summary[summary["dataset"] == dataset].set_index("proxy").reindex(proxies)
        pos = y + (k - (len(shown) - 1) / 2) * height
        ax.barh(pos, rows["mean"], height, xerr=rows["std"], capsize=2, label=DATASETS[dataset])
        for yi, proxy in zip(pos, proxies, strict=True):
            if (proxy, dataset) in marks:
                value, table = marks[(proxy, dataset)]
                label = None if table in marked else CORRELATION_TABLES[table].split(":")[0]
                ax.plot(value, yi, "kx", ms=5, label=label)
                marked.add(table)
    ax.axvline(0, color="black", lw=0.6)
    ax.set_yticks(y)
    ax.set_yticklabels(proxies, fontsize=8)
    ax.invert_yaxis()
    column = measured_column(study.accuracy, shown[0]) if shown else None
    kind = "validation" if column and column.endswith("_valid") else "test"
    ax.set_xlabel(f"Kendall τ with {kind} accuracy (mean ± std over seeds)")
    # a proxy scored on fewer seeds is averaged over more architectures: give the range
    counts = sorted(set(summary["n_archs"].astype(int))) or [0]
    n = f"{counts[0]:,}" if len(counts) == 1 else f"{counts[0]:,}–{counts[-1]:,}"
    where = space_title(space)
    what = "isomorphism classes of" if study.per == "class" else ""
    ax.set_title(
        f"Kendall τ per proxy ({n} {what} {where} architectures, "
        f"{study.scores['seed'].nunique()} seed(s))".replace("  ", " "),
        fontsize=10,
    )
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


# Figures of the proxy study read the ``freedarts correlate`` folders, not result.csv files.
STUDY_FIGURES = {"proxy_scatter": proxy_scatter, "proxy_tau": proxy_tau}

FIGURES = {
    "a_study": a_study,
    "trajectory": trajectory,
    "sample_size": sample_size,
    "cost_accuracy": cost_accuracy,
    "op_selection": op_selection,
}


def make_figure(cfg: DictConfig) -> str:
    """``freedarts figures PATH... figure=<name>``: write ``<name>.png`` and ``<name>.pdf``."""
    paths = list(cfg.paths)
    if not paths:
        raise UserError(
            "no folders given: freedarts figures outputs/multirun/<date> "
            f"figure=<{'|'.join(FIGURES)}>"
        )
    name = str(cfg.figure)
    if name not in FIGURES and name not in STUDY_FIGURES:
        raise UserError(
            f"figure={name} is not known: use one of {', '.join([*FIGURES, *STUDY_FIGURES])}"
        )
    plt = _pyplot()
    if name in STUDY_FIGURES:
        from .correlation import load

        study = load(paths, str(cfg.get("per", "arch")))
        if study is None:
            raise UserError(
                f"figure={name} reads freedarts correlate folders: no "
                f"proxy_scores.csv under {', '.join(map(str, paths))}"
            )
        fig, what = (
            STUDY_FIGURES[name](study, list(cfg.datasets), plt),
            study.counted(),
        )
    else:
        df, _ = drop_duplicate_runs(collect(paths))
        df = _where(df, cfg.get("where") or {})
        fig, what = FIGURES[name](df, list(cfg.datasets), plt), f"{len(df)} runs"
    out = (
        Path(cfg.out)
        if cfg.out
        else Path(paths[0] if os.path.isdir(paths[0]) else os.path.dirname(paths[0]) or ".")
    )
    out.mkdir(parents=True, exist_ok=True)
    written = []
    try:
        if not fig.get_tight_layout() and name != "op_selection":
            fig.tight_layout(rect=(0, 0, 1, 0.94))
        for ext in cfg.formats:
            path = out / f"{name}.{ext}"
            # a title wider than axes squeezed by an outside legend would be cut at the edge
            written.append(str(save_figure(fig, path, dpi=int(cfg.dpi), bbox_inches="tight")))
    finally:
        plt.close(fig)
    return f"{name}: {what}; wrote {', '.join(written)}"
