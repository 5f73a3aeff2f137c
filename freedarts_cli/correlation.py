"""How well a proxy ranks architectures: rank correlations with trained accuracy.

The proxy study (``freedarts correlate``) scores architectures into a per-architecture table
(``proxy_scores.csv``: arch, proxy, seed, value, seconds); this module turns such tables into the
numbers the papers report. For each proxy, dataset and seed: Kendall's τ_b and Spearman's ρ
between the proxy values and the benchmark's test accuracy, and the Spearman ρ over the top 10 %
of architectures by that accuracy (the student report's Table II); then mean ± std over seeds.

Aggregates (``combined``, ``az_nas``, ``vkdnw_agg``) are computed here from their parts' columns,
per seed, over the architectures that every part scored.
"""

from __future__ import annotations

import lzma
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import UserError
from .proxies import AGGREGATES, PROXIES, ranks

SCORE_TABLE = "proxy_scores.csv"
ACCURACY_TABLE = "accuracies.csv"  # the benchmark's test accuracies of the scored archs
PROXY_TABLE = "proxies.csv"  # per proxy: dtype, and which images scored it
SCORE_COLUMNS = ("arch", "proxy", "seed", "value", "seconds")
#: An archived study's score table (:mod:`.archive`): a folder of one ``<proxy>.csv.xz`` per
#: proxy, each ``arch, seed, value, seconds``.
ARCHIVE_TABLE = "proxy_scores"
ARCHIVE_SUFFIX = ".csv.xz"
#: Beside an archived score table: ``arch,seed,source,proxies`` lines, each standing for the
#: rows a ``dedup`` study copied to ``arch`` from its isomorphic ``source``.
COPY_TABLE = "copies.csv.gz"
# dataset -> the benchmark column its correlations are measured against
DATASETS = {
    "cifar10": "cifar10_test",
    "cifar100": "cifar100_test",
    "imagenet16_120": "imagenet16_120_test",
}
# where a benchmark has no test accuracy of the scored architectures (NAS-Bench-Suite-Zero's
# DARTS and NB101 sets hold validation accuracies only), the correlation is against this one
VALID = {
    "cifar10": "cifar10_valid",
    "cifar100": "cifar100_valid",
    "imagenet16_120": "imagenet16_120_valid",
}
METRICS = ("kendall", "spearman", "top10_spearman")
TOP_FRACTION = 0.10


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's ρ: the Pearson correlation of the mid-ranks (ties share their average rank,
    -inf ranks lowest). NaN when either side is constant."""
    rx, ry = ranks(x), ranks(y)
    if len(rx) < 2 or rx.std() == 0 or ry.std() == 0:
        return math.nan
    return float(np.corrcoef(rx, ry)[0, 1])


def _tied_pairs(sorted_values: np.ndarray) -> int:
    _, counts = np.unique(sorted_values, return_counts=True)
    return int((counts * (counts - 1) // 2).sum())


def _inversions(values: np.ndarray) -> int:
    """Pairs i < j with values[i] > values[j] (strictly), by a Fenwick tree over ranks."""
    _, dense = np.unique(values, return_inverse=True)
    dense = dense.reshape(-1) + 1
    size = int(dense.max()) if len(dense) else 0
    tree = [0] * (size + 1)
    seen, total = 0, 0
    for r in dense.tolist():
        at_most, i = 0, r  # earlier values <= this one
        while i > 0:
            at_most += tree[i]
            i -= i & -i
        total += seen - at_most
        i = r
        while i <= size:
            tree[i] += 1
            i += i & -i
        seen += 1
    return total


def kendall(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's τ_b (ties in either variable corrected), O(n log n) by Knight's algorithm:
    sort by (x, y); discordant pairs are the strict inversions of y in that order.

    ``τ_b = (n0 − n1 − n2 + n3 − 2·D) / √((n0 − n1)(n0 − n2))`` with n0 all pairs, n1 / n2 the
    pairs tied in x / y, n3 those tied in both, D the discordant pairs.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n = len(x)
    if n < 2:
        return math.nan
    order = np.lexsort((y, x))
    xs, ys = x[order], y[order]
    n0 = n * (n - 1) // 2
    n1 = _tied_pairs(xs)
    n2 = _tied_pairs(ys)
    pairs = np.stack([xs, ys], axis=1)
    _, joint = np.unique(pairs, axis=0, return_counts=True)
    n3 = int((joint * (joint - 1) // 2).sum())
    if n0 == n1 or n0 == n2:
        return math.nan
    discordant = _inversions(ys)
    return float((n0 - n1 - n2 + n3 - 2 * discordant) / math.sqrt((n0 - n1) * (n0 - n2)))


def top_spearman(
    x: Sequence[float], accuracy: Sequence[float], fraction: float = TOP_FRACTION
) -> float:
    """Spearman's ρ over the architectures whose accuracy is in the top ``fraction``."""
    acc = np.asarray(accuracy, dtype=np.float64)
    k = max(2, int(math.ceil(fraction * len(acc))))
    top = np.argsort(-acc, kind="stable")[:k]
    return spearman(np.asarray(x, dtype=np.float64)[top], acc[top])


METRIC_FUNCTIONS = {"kendall": kendall, "spearman": spearman, "top10_spearman": top_spearman}


def score_tables(paths: Iterable) -> list[Path]:
    """Every score table under ``paths``: run folders' ``proxy_scores.csv`` and archives'
    ``proxy_scores/`` folders."""
    return find(paths, SCORE_TABLE) + [d for d in find(paths, ARCHIVE_TABLE) if d.is_dir()]


def _read_table(path: Path, proxy: str | None) -> pd.DataFrame:
    """One score file; an archive's file holds one ``proxy``, named by the file."""
    try:
        df = pd.read_csv(path, dtype={"arch": str})
    except (
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
        UnicodeDecodeError,
        lzma.LZMAError,
        EOFError,
    ) as err:
        raise UserError(
            f"{path}: not a proxy score table ({type(err).__name__}): delete it "
            "or rerun freedarts correlate into that folder"
        ) from None
    if proxy is not None:
        df["proxy"] = proxy
    missing = [c for c in SCORE_COLUMNS if c not in df.columns]
    if missing:
        raise UserError(f"{path}: not a proxy score table (no column {', '.join(missing)})")
    return df[list(SCORE_COLUMNS)]


def read_scores(paths: Iterable[Path]) -> pd.DataFrame:
    """The score tables (:func:`score_tables`), concatenated; an (arch, proxy, seed) scored in
    two tables (two shards that overlapped, a copied folder) is kept once: its scored row before a
    dedup copy, else the first table's. A table that is not a score table is named."""
    frames = []
    for path in map(Path, paths):
        if path.is_dir():
            parts = [
                _read_table(f, f.name[: -len(ARCHIVE_SUFFIX)])
                for f in sorted(path.glob("*" + ARCHIVE_SUFFIX))
            ]
            df = pd.concat(parts, ignore_index=True) if parts else _empty()
        else:
            df = _read_table(path, None)
        copies = path.parent / COPY_TABLE
        frames.append(with_copies(df, pd.read_csv(copies)) if copies.is_file() else df)
    if not frames:
        return _empty()
    scores = pd.concat(frames, ignore_index=True)
    scores["value"] = pd.to_numeric(scores["value"], errors="coerce")
    # a scored row beats a dedup copy of it (seconds NaN) whichever table lists it first: the
    # copy carries no timing, and the scored row is what the copy was made from
    scored_first = scores["seconds"].isna().sort_values(kind="stable").index
    kept = scores.loc[scored_first].drop_duplicates(["arch", "proxy", "seed"], keep="first")
    return kept.sort_index()


def _empty() -> pd.DataFrame:
    return pd.DataFrame(columns=list(SCORE_COLUMNS))


def with_copies(scores: pd.DataFrame, copies: pd.DataFrame) -> pd.DataFrame:
    """``scores`` plus the rows each line of ``copies`` (``arch, seed, source, proxies``) stands
    for: ``source``'s rows of that seed and those proxies under the name ``arch``, seconds NaN
    (copied, not scored); rows ``scores`` already holds win."""
    if copies.empty:
        return scores
    wanted = pd.DataFrame(
        [
            (a, int(seed), source, p)
            for a, seed, source, names in copies.itertuples(index=False)
            for p in str(names).split()
        ],
        columns=["arch", "seed", "source", "proxy"],
    )
    rows = wanted.merge(
        scores.drop(columns="arch").assign(source=scores["arch"]),
        on=["source", "proxy", "seed"],
        how="inner",
    )
    rows["seconds"] = math.nan
    return pd.concat([scores, rows[list(SCORE_COLUMNS)]], ignore_index=True).drop_duplicates(
        ["arch", "proxy", "seed"], keep="first"
    )


def columns_for(scores: pd.DataFrame, proxy: str, seed) -> pd.Series:
    """Values of ``proxy`` by architecture for one seed; an aggregate's score comes from its
    parts' columns over the architectures every part scored (finitely or -inf)."""
    at_seed = scores[scores["seed"] == seed]
    if proxy in AGGREGATES:
        agg = AGGREGATES[proxy]
        wide = at_seed.pivot_table(index="arch", columns="proxy", values="value", aggfunc="first")
        if any(p not in wide.columns for p in agg.parts):
            return pd.Series(dtype=np.float64)
        wide = wide[list(agg.parts)].dropna()
        return pd.Series(agg.combine([wide[p].to_numpy() for p in agg.parts]), index=wide.index)
    one = at_seed[at_seed["proxy"] == proxy].set_index("arch")["value"]
    return one.dropna()


def study_units() -> dict:
    """The spaces a proxy study can hold, by name (imported late: the space units import torch
    models this module does not otherwise need)."""
    from .spaces.darts import DartsSpace
    from .spaces.nb101 import NB101Space
    from .spaces.nb201 import NB201Space

    return {"nb201": NB201Space, "darts": DartsSpace, "nb101": NB101Space}


def study_space(scores: pd.DataFrame) -> str | None:
    """The search space whose architectures every row of ``scores`` holds, told from the strings
    alone (an archived study carries no config): nb201, darts, nb101, or None (another space,
    or a mix)."""
    archs = scores["arch"].astype(str)
    for space, unit in study_units().items():
        if archs.str.fullmatch(unit.arch_pattern).all():
            return space
    return None


def space_title(space: str | None) -> str:
    """How figures name a study's space (its unit's ``title``; empty for an unknown space)."""
    unit = study_units().get(space or "")
    return unit.title if unit else ""


#: ``freedarts tables per=...``: every architecture string, or one per isomorphism class.
PER = ("arch", "class")


def one_per_class(scores: pd.DataFrame) -> pd.DataFrame:
    """The rows of one architecture per isomorphism class (the space's ``canonical``): the
    class member a ``dedup`` study scored (a finite ``seconds``; its copies have none), the
    smallest string among several. The population of published re-runs that score each distinct
    network once (the VKDNW re-run: NB201's 15,625 strings are 6,466 classes)."""
    space = study_space(scores)
    unit = study_units().get(space or "")
    if unit is None or not hasattr(unit, "canonical"):
        raise UserError(
            f"per=class: the study's architectures ({space or 'no single known space'}) have no "
            "isomorphism classes to group by: use per=arch"
        )
    space_unit = unit()
    archs = scores.groupby("arch")["seconds"].apply(lambda s: bool(s.notna().any()))
    table = pd.DataFrame({"arch": archs.index, "scored": archs.to_numpy()})
    table["key"] = [space_unit.canonical(space_unit.parse(a)) for a in table["arch"]]
    table = table.sort_values(["scored", "arch"], ascending=[False, True])
    keep = set(table.drop_duplicates("key")["arch"])
    return scores[scores["arch"].isin(keep)]


def study_proxies(scores: pd.DataFrame) -> list[str]:
    """The proxies a score table can report: its network proxies, then every aggregate whose
    parts it holds (in registry order)."""
    present = [p for p in dict.fromkeys(scores["proxy"])]
    aggregates = [a for a, agg in AGGREGATES.items() if all(p in present for p in agg.parts)]
    return present + aggregates


def correlations(
    scores: pd.DataFrame,
    accuracy: pd.DataFrame,
    proxies: Sequence[str] | None = None,
    common: bool = False,
) -> pd.DataFrame:
    """One row per proxy × dataset × metric × seed: the correlation over the architectures both
    scored by the proxy and known to the benchmark (``accuracy``: indexed by arch, with the
    :data:`DATASETS` columns). ``failed``: architectures whose value was not finite (left out).

    ``common``: only the architectures that every seed scoring the proxy scored, so that a mean
    and spread over seeds compare the same networks (a study may score seed 0 on 500 and seeds
    1–2 on the first 100)."""
    rows = []
    seeds = sorted(scores["seed"].unique())
    for proxy in proxies or study_proxies(scores):
        by_seed = {seed: columns_for(scores, proxy, seed) for seed in seeds}
        if common:
            sets = [set(v.index) for v in by_seed.values() if len(v)]
            shared = set.intersection(*sets) if sets else set()
            by_seed = {seed: v[v.index.isin(shared)] for seed, v in by_seed.items()}
        for seed, values in by_seed.items():
            mine = scores[(scores["seed"] == seed) & (scores["proxy"] == proxy)]
            if values.empty and mine.empty:
                continue  # this seed did not score the proxy (or, for an aggregate, its parts)
            failed = int(mine["value"].isna().sum())
            for dataset in DATASETS:
                column = measured_column(accuracy, dataset)
                if column is None:
                    continue
                acc = accuracy[column].reindex(values.index)
                known = acc.notna().to_numpy()
                x, y = values.to_numpy()[known], acc.to_numpy()[known]
                for metric, fn in METRIC_FUNCTIONS.items():
                    rows.append(
                        {
                            "proxy": proxy,
                            "dataset": dataset,
                            "metric": metric,
                            "seed": seed,
                            "value": fn(x, y) if len(x) > 1 else math.nan,
                            "n_archs": int(len(x)),
                            "failed": failed,
                        }
                    )
    return pd.DataFrame(
        rows, columns=["proxy", "dataset", "metric", "seed", "value", "n_archs", "failed"]
    )


def measured_column(accuracy: pd.DataFrame, dataset: str) -> str | None:
    """The accuracy column a dataset's correlations use: the test accuracy (:data:`DATASETS`),
    or the validation accuracy (:data:`VALID`) where the benchmark holds no test accuracy."""
    for column in (DATASETS[dataset], VALID[dataset]):
        if column in accuracy.columns and accuracy[column].notna().any():
            return column
    return None


def summarise(per_seed: pd.DataFrame) -> pd.DataFrame:
    """Mean ± population std over seeds of each proxy × dataset × metric."""
    if per_seed.empty:
        return pd.DataFrame(
            columns=["proxy", "dataset", "metric", "mean", "std", "n_seeds", "n_archs", "failed"]
        )
    grouped = per_seed.groupby(["proxy", "dataset", "metric"], sort=False)
    out = grouped.agg(
        mean=("value", "mean"),
        std=("value", lambda v: float(np.std(v))),
        n_seeds=("seed", "nunique"),
        n_archs=("n_archs", "min"),
        failed=("failed", "max"),
    ).reset_index()
    return out


def even_seeds(scores: pd.DataFrame) -> bool:
    """Whether every seed that scored a proxy scored the same architectures."""
    sets = scores.groupby(["proxy", "seed"])["arch"].agg(frozenset)
    return bool((sets.groupby(level="proxy").nunique() <= 1).all())


def seconds_per_arch(scores: pd.DataFrame) -> pd.DataFrame:
    """Median and total proxy seconds per architecture (network proxies only)."""
    timed = scores[scores["proxy"].isin(PROXIES)]
    g = timed.groupby("proxy", sort=False)["seconds"]
    return pd.DataFrame({"median_s": g.median(), "total_s": g.sum(), "n": g.size()}).reset_index()


def accuracy_table(benchmark, archs: Iterable[str]) -> pd.DataFrame:
    """The benchmark's test and validation accuracies of ``archs`` (NaN where it does not know
    one)."""
    columns = [*DATASETS.values(), *VALID.values()]
    rows: list[Mapping] = []
    for arch in archs:
        row = benchmark.query(arch)
        rows.append({"arch": arch, **{c: row.get(c, math.nan) for c in columns}})
    return pd.DataFrame(rows).set_index("arch")


DATASET_LABELS = {"cifar10": "C10", "cifar100": "C100", "imagenet16_120": "IN16"}
METRIC_LABELS = {"kendall": "τ", "spearman": "ρ", "top10_spearman": "top-10% ρ"}


def markdown(
    summary: pd.DataFrame, published: Mapping | None = None, images: Mapping[str, str] | None = None
) -> str:
    """One row per proxy, one column per dataset × metric: ``mean ± std`` over seeds, and the
    published value after a bar where ``published[(proxy, dataset, metric)]`` has one."""
    if summary.empty:
        return "(no scores yet)"
    published = published or {}
    cols = [
        (d, m)
        for d in DATASETS
        for m in METRICS
        if ((summary["dataset"] == d) & (summary["metric"] == m)).any()
    ]
    head = ["proxy", "n archs", "seeds"] + [
        f"{DATASET_LABELS[d]} {METRIC_LABELS[m]}" for d, m in cols
    ]
    if images:
        head.append("images")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for proxy, rows in summary.groupby("proxy", sort=False):
        cells = [proxy, f"{int(rows['n_archs'].min()):,}", str(int(rows["n_seeds"].max()))]
        for d, m in cols:
            hit = rows[(rows["dataset"] == d) & (rows["metric"] == m)]
            cell = (
                ""
                if hit.empty
                else _pm(hit["mean"].iloc[0], hit["std"].iloc[0], int(hit["n_seeds"].iloc[0]))
            )
            paper = published.get((proxy, d, m))
            cells.append(f"{cell} \\| {paper:.3f}" if paper is not None and cell else cell)
        if images:
            cells.append(images.get(proxy, ""))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _pm(mean: float, std: float, n: int) -> str:
    if math.isnan(mean):
        return "n/a"
    return f"{mean:.3f}" if n < 2 else f"{mean:.3f} ± {std:.3f}"


def find(paths: Iterable, name: str) -> list[Path]:
    """Every file called ``name`` under the folders (or the files themselves), each once."""
    found: dict[str, Path] = {}
    for p in map(Path, paths):
        for f in (
            [p] if p.is_file() and p.name == name else sorted(p.rglob(name)) if p.is_dir() else []
        ):
            found.setdefault(str(f.resolve()), f)
    return list(found.values())


@dataclass
class Study:
    """Every ``correlate`` folder under some paths, merged: the score table, the accuracies of
    its architectures, which images scored each proxy, the number of score tables, and how many
    architecture strings the tables hold (``scores`` may keep one per class of them)."""

    scores: pd.DataFrame
    accuracy: pd.DataFrame
    images: dict
    tables: int
    strings: int
    per: str = "arch"

    def counted(self) -> str:
        """``"N architectures"``, or ``"K isomorphism classes of N architectures"``."""
        n = f"{self.strings:,} architectures"
        return (
            f"{self.scores['arch'].nunique():,} isomorphism classes of {n}"
            if self.per == "class"
            else n
        )


def load(paths: Sequence, per: str = "arch") -> Study | None:
    """The studies under ``paths`` (shards merged); ``None`` when no ``proxy_scores.csv``.
    ``per="class"``: the rows of one architecture per isomorphism class (:func:`one_per_class`)."""
    if per not in PER:
        raise UserError(f"per={per} is not one of {', '.join(PER)}: use per=arch or per=class")
    files = score_tables(paths)
    if not files:
        return None
    scores = read_scores(files)
    acc_files = [
        f.parent / name
        for f in files
        for name in (ACCURACY_TABLE, ACCURACY_TABLE + ".gz")
        if (f.parent / name).is_file()
    ]
    if not acc_files:
        raise UserError(
            f"{files[0].parent}: no {ACCURACY_TABLE} beside {SCORE_TABLE}: rerun "
            "freedarts correlate into that folder (it resumes) to write it"
        )
    accuracy = pd.concat([pd.read_csv(f) for f in acc_files]).drop_duplicates("arch")
    images: dict[str, str] = {}
    for f in files:
        if (f.parent / PROXY_TABLE).is_file():
            meta = pd.read_csv(f.parent / PROXY_TABLE)
            images.update(dict(zip(meta["proxy"], meta["images"], strict=True)))
    for agg in AGGREGATES.values():
        images.setdefault(agg.name, "; ".join(dict.fromkeys(images.get(p, "") for p in agg.parts)))
    strings = scores["arch"].nunique()
    if per == "class":
        scores = one_per_class(scores)
    return Study(scores, accuracy.set_index("arch"), images, len(files), strings, per)


def report(paths: Sequence, per: str = "arch") -> tuple[str, pd.DataFrame] | None:
    """The correlation report of every study under ``paths`` (shards merged): our table, then
    each published table beside ours; ``None`` when no ``proxy_scores.csv`` is there.
    ``per="class"``: over one architecture per isomorphism class (:func:`one_per_class`)."""
    from .published import correlation_tables, correlation_values

    study = load(paths, per)
    if study is None:
        return None
    scores, accuracy, images, files = study.scores, study.accuracy, study.images, study.tables
    per_seed = correlations(scores, accuracy)
    parts = [
        f"## Proxy study: {study.counted()}, seeds "
        f"{', '.join(map(str, sorted(scores['seed'].unique())))} ({files} score table"
        f"{'s' if files > 1 else ''})",
        "",
    ]
    if even_seeds(scores):
        summary = widest = summarise(per_seed)
        parts.append(markdown(summary, images=images))
    else:
        # A mean over seeds that scored different architectures would mix samples: the main
        # table keeps the architectures every seed scored, then each seed alone on all of its.
        summary = summarise(correlations(scores, accuracy, common=True))
        parts += [
            "Every seed on the architectures all of a proxy's seeds scored (mean ± std):",
            "",
            markdown(summary, images=images),
        ]
        alone = {seed: summarise(rows) for seed, rows in per_seed.groupby("seed")}
        for seed, seed_summary in alone.items():
            parts += [
                "",
                f"### Seed {seed} alone, every architecture it scored",
                "",
                markdown(seed_summary, images=images),
            ]
        # the published tables meet our widest single-seed table (the most architectures)
        widest = alone[per_seed.groupby("seed")["n_archs"].max().idxmax()]
    published = correlation_values()
    for table_id, title in correlation_tables(study_space(scores)).items():
        rows = published[published["table"] == table_id]
        rows = rows[rows["proxy"].isin(set(widest["proxy"]))]
        if rows.empty:
            continue
        paper = {(r.proxy, r.dataset, r.metric): r.value for r in rows.itertuples()}
        keys = zip(widest["proxy"], widest["dataset"], widest["metric"], strict=True)
        mine = widest[[key in paper for key in keys]]
        parts += ["", f"### {title}: ours \\| paper", "", markdown(mine, published=paper)]
    cost = seconds_per_arch(scores)
    parts += [
        "",
        "### Cost per architecture (proxy call, network build excluded)",
        "",
        "| proxy | median s | total s | values |",
        "|---|---|---|---|",
    ]
    parts += [
        f"| {r.proxy} | {r.median_s:.3f} | {r.total_s:.0f} | {r.n:,} |" for r in cost.itertuples()
    ]
    return "\n".join(parts), summary
