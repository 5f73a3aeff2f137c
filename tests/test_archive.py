"""A study archived in the repository: pack merges shards bit-exactly, unpack lets a run resume,
and the correlation report reads the archive as it reads a run folder."""

import lzma

import pandas as pd
import pytest

from freedarts_cli import correlation
from freedarts_cli.archive import pack, unpack
from freedarts_cli.errors import UserError

ARCHS = [f"|op{i}~0|" for i in range(6)]
VALUES = [0.1 + 0.2, 1 / 3, 2.860554803895927e24, -1e-300, float("-inf"), 7.0]


def _run(folder, archs, proxies=("p", "q")):
    folder.mkdir(parents=True)
    rows = [
        (a, p, 0, VALUES[ARCHS.index(a)] * (1 if p == "p" else -1), 0.5)
        for a in archs
        for p in proxies
    ]
    pd.DataFrame(rows, columns=correlation.SCORE_COLUMNS).to_csv(
        folder / correlation.SCORE_TABLE, index=False
    )
    pd.DataFrame({"arch": archs, "cifar10_test": range(len(archs))}).to_csv(
        folder / correlation.ACCURACY_TABLE, index=False
    )
    return rows


def test_pack_merges_shards_bit_exactly_and_unpack_resumes(tmp_path):
    a = _run(tmp_path / "shard1", ARCHS[::2])
    b = _run(tmp_path / "shard2", ARCHS[1::2])
    archive = tmp_path / "archive"
    assert pack([tmp_path / "shard1", tmp_path / "shard2"], archive) == 12
    first = _bytes(archive)
    assert sorted(first) == ["p.csv.xz", "q.csv.xz"]  # one table per proxy
    assert pack([tmp_path / "shard1"], archive) == 12  # packing again adds nothing
    assert _bytes(archive) == first  # and is byte-stable
    packed = correlation.read_scores([archive / "proxy_scores"])
    got = {(r.arch, r.proxy): r.value for r in packed.itertuples()}
    assert got == {(x, p): v for x, p, _, v, _ in a + b}  # the same floats, not rounded ones
    assert len(pd.read_csv(archive / "accuracies.csv.gz")) == 6

    run = tmp_path / "session2"
    _run(run, ARCHS[:1])
    assert unpack(archive, run) == 10  # everything but the two rows it had
    assert unpack(archive, run) == 0
    assert len(correlation.read_scores([run / "proxy_scores.csv"])) == 12
    assert lzma.decompress(first["p.csv.xz"]).startswith(b"arch,seed,value,seconds\n")


def test_rows_already_in_the_archive_win_over_a_folder_s_copy_of_them(tmp_path):
    _run(tmp_path / "run", ARCHS[:2], proxies=("p",))
    archive = tmp_path / "archive"
    pack([tmp_path / "run"], archive)
    later = tmp_path / "later"  # the same key again, as a dedup copy (seconds NaN)
    _run(later, ARCHS[:2], proxies=("p",))
    table = pd.read_csv(later / correlation.SCORE_TABLE)
    table["seconds"] = float("nan")
    table.to_csv(later / correlation.SCORE_TABLE, index=False)
    pack([later], archive)
    packed = correlation.read_scores([archive / "proxy_scores"])
    assert list(packed["seconds"]) == [0.5, 0.5]


def _bytes(archive):
    return {f.name: f.read_bytes() for f in (archive / "proxy_scores").iterdir()}


def test_seconds_keep_three_digits_and_a_new_proxy_leaves_the_others_untouched(tmp_path):
    run = tmp_path / "run"
    _run(run, ARCHS[:2], proxies=("p",))
    table = pd.read_csv(run / correlation.SCORE_TABLE)
    table["seconds"] = [0.123456789, 12345.678]
    table.to_csv(run / correlation.SCORE_TABLE, index=False)
    archive = tmp_path / "archive"
    pack([run], archive)
    p_file = archive / "proxy_scores" / "p.csv.xz"
    stamp = p_file.stat().st_mtime_ns
    assert list(correlation.read_scores([archive / "proxy_scores"])["seconds"]) == [0.123, 12300.0]
    _run(tmp_path / "later", ARCHS[:2], proxies=("q",))
    assert pack([tmp_path / "later"], archive) == 4
    assert p_file.stat().st_mtime_ns == stamp  # not rewritten


def test_the_report_reads_an_archive_like_a_run_folder(tmp_path):
    _run(tmp_path / "run", ARCHS)
    pack([tmp_path / "run"], tmp_path / "archive")
    from_run = correlation.load([tmp_path / "run"])
    from_archive = correlation.load([tmp_path / "archive"])
    pd.testing.assert_frame_equal(
        from_run.scores.sort_values(["arch", "proxy"]).reset_index(drop=True),
        from_archive.scores.sort_values(["arch", "proxy"]).reset_index(drop=True),
    )
    assert list(from_archive.accuracy.index) == sorted(ARCHS)


def test_errors_name_the_folder(tmp_path):
    with pytest.raises(UserError, match="no proxy_scores.csv under"):
        pack([tmp_path], tmp_path / "archive")
    with pytest.raises(UserError, match="does not exist"):
        unpack(tmp_path / "nothing", tmp_path / "run")
    _run(tmp_path / "run", ARCHS)
    pack([tmp_path / "run"], tmp_path / "archive")
    (tmp_path / "archive" / "proxy_scores" / "q.csv.xz").write_bytes(b"\xfd7zXZ\x00 cut short")
    with pytest.raises(UserError, match=r"q\.csv\.xz: not a proxy score table \(LZMAError\)"):
        correlation.load([tmp_path / "archive"])


def test_dedup_copies_are_stored_as_one_line_each_and_read_back_exactly(tmp_path):
    """A dedup study's copied rows (no seconds, the value of a scored isomorphic network) are
    packed as ``arch, seed, source, proxies`` lines and read back as the same rows; a copy
    whose value matches no class member stays a row, and a copy holding fewer proxies than its
    source gains none."""
    from freedarts_cli.spaces.nb201 import NB201Space

    space = NB201Space()
    classes: dict[str, list[str]] = {}
    for choice in space.architectures():
        classes.setdefault(space.canonical(choice), []).append(space.decode(choice))
    pairs = [m for m in classes.values() if len(m) == 2][:4]
    nan = float("nan")
    rows = []
    for i, (rep, twin) in enumerate(pairs):
        for p, v in (("p", i / 3), ("q", nan), ("r", -float(i))):
            rows.append((rep, p, 0, v, 0.25))
            if not (i == 1 and p == "r"):  # pair 1: the twin has no copy of r yet
                rows.append((twin, p, 0, v + 1 if (i == 2 and p == "p") else v, nan))
    scores = pd.DataFrame(rows, columns=correlation.SCORE_COLUMNS)
    run = tmp_path / "run"
    run.mkdir()
    scores.to_csv(run / correlation.SCORE_TABLE, index=False)
    archive = tmp_path / "archive"
    assert pack([run], archive) == len(rows)
    lines = pd.read_csv(archive / correlation.COPY_TABLE)
    assert sorted(lines["arch"]) == sorted(pairs[i][1] for i in (0, 1, 3))  # pair 2 mismatches
    assert dict(zip(lines["arch"], lines["proxies"], strict=True))[pairs[1][1]] == "p q"
    stored = [pd.read_csv(f) for f in (archive / "proxy_scores").iterdir()]
    assert sum(map(len, stored)) == 4 * 3 + 3  # the scored rows and pair 2's twin

    def ordered(df):
        return df.sort_values(["arch", "proxy"]).reset_index(drop=True)

    back = correlation.read_scores([archive / "proxy_scores"])
    pd.testing.assert_frame_equal(
        ordered(back), ordered(correlation.read_scores([run / correlation.SCORE_TABLE]))
    )
    first = _bytes(archive)
    assert pack([run], archive) == len(rows)  # packing the archive again: the same bytes
    assert _bytes(archive) == first
    assert unpack(archive, tmp_path / "next") == len(rows)
