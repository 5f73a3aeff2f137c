"""benchmark=arch_table: a list of any space's architectures with accuracies, keyed canonically;
a malformed file is one error line."""

import csv

import pytest

from freedarts_cli.benchmark.arch_table import ArchTableBenchmark
from freedarts_cli.errors import UserError
from freedarts_cli.spaces.darts import DartsSpace
from freedarts_cli.spaces.nb101 import NB101Space
from freedarts_cli.spaces.nb201 import NB201Space

NB201_A = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|none~1|avg_pool_3x3~2|"
NB201_B = "|none~0|+|nor_conv_1x1~0|skip_connect~1|+|skip_connect~0|none~1|avg_pool_3x3~2|"
GENOTYPE = (
    "Genotype(normal=[('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 0), "
    "('sep_conv_3x3', 1), ('skip_connect', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
    "('skip_connect', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
    "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 0), ('max_pool_3x3', 0), "
    "('skip_connect', 2), ('skip_connect', 2), ('avg_pool_3x3', 0)], reduce_concat=[2, 3, 4, 5])"
)
MATRIX = "0111101000001100000010000110000001100000000000000"
OPS = "input,maxpool3x3,maxpool3x3,conv3x3-bn-relu,conv3x3-bn-relu,conv3x3-bn-relu,output"


def write(path, header, *rows):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_the_shared_sets_read_with_their_defaults(darts_set, nb101_set):
    darts = ArchTableBenchmark(darts_set, DartsSpace())
    nb101 = ArchTableBenchmark(nb101_set, NB101Space())
    assert len(darts) == len(nb101) == 500
    for bench, space in ((darts, DartsSpace()), (nb101, NB101Space())):
        assert bench.covers(space.name) and not bench.covers("nb201")
        accs = [bench.query(a)["cifar10_valid"] for a in bench.architectures()]
        assert all(70 < a < 95 for a in accs)
        # keys are canonical: what the space decodes of a parsed key is the key
        assert all(space.decode(space.parse(a)) == a for a in bench.architectures())
    # the NB101 key is the file's two columns side by side
    assert nb101.architectures()[0] == f"{MATRIX}|{OPS}"


def test_a_genotype_is_found_however_the_file_spells_it(tmp_path):
    space = DartsSpace()
    bench = ArchTableBenchmark(
        write(tmp_path / "t.csv", ["genotype", "acc"], [GENOTYPE, "93.1"]),
        space,
        columns={"cifar10_test": "acc"},
    )
    key = space.decode(space.parse(GENOTYPE))
    assert key != GENOTYPE and "range(2, 6)" in key  # pairs by input, concat as a range
    assert bench.query(key)["cifar10_test"] == 93.1
    assert bench.architectures() == [key]


def test_columns_are_options(tmp_path):
    path = write(tmp_path / "t.csv", ["cell", "c100"], [NB201_A, "70.5"], [NB201_B, ""])
    bench = ArchTableBenchmark(path, NB201Space(), columns={"cifar100_test": "c100"})
    assert bench.query(NB201_A)["cifar100_test"] == 70.5  # the cell column found by content
    assert bench.query(NB201_B)["cifar100_test"] != bench.query(NB201_B)["cifar100_test"]  # NaN
    two = write(tmp_path / "two.csv", ["m", "o", "val_accuracy"], [MATRIX, OPS, "91"])
    bench = ArchTableBenchmark(two, NB101Space(), arch_column=["m", "o"])
    assert bench.query(f"{MATRIX}|{OPS}")["cifar10_valid"] == 91.0


@pytest.mark.parametrize(
    "space, header, rows, options, needles",
    [
        (NB201Space(), ["arch", "acc"], [[NB201_A, "90"]], {}, ["no accuracy column"]),
        (NB201Space(), ["x", "val_accuracy"], [["abc", "90"]], {}, ["no column of space=nb201"]),
        (
            NB201Space(),
            ["arch", "val_accuracy"],
            [[NB201_A, "90"]],
            {"arch_column": "cell"},
            ["no column 'cell'", "benchmark.arch_column"],
        ),
        (
            NB201Space(),
            ["arch", "val_accuracy"],
            [[NB201_A, "90"], [NB201_B, "ninety"]],
            {},
            ["line 3", "'ninety'", "not a number"],
        ),
        (
            NB201Space(),
            ["arch", "val_accuracy"],
            [[NB201_A, "90"], [NB201_B, "91"], [NB201_A, "92"]],
            {},
            ["lines 2 and 4", "same architecture", "one row per architecture"],
        ),
        (
            DartsSpace(),
            ["genotype", "val_accuracy"],
            [[GENOTYPE, "90"], [GENOTYPE.replace("sep_conv_3x3", "sep_conv_9x9", 1), "91"]],
            {},
            ["line 3", "sep_conv_9x9", "not a space=darts architecture"],
        ),
        (
            DartsSpace(),
            ["genotype", "val_accuracy"],
            [[GENOTYPE.replace("'max_pool_3x3', 1", "'max_pool_3x3', 0", 1), "90"]],
            {},
            ["line 2", "two different inputs"],
        ),
        (
            NB101Space(),
            ["matrix", "ops", "val_accuracy"],
            [[MATRIX[:-1], OPS, "90"]],
            {},
            ["line 2", "is not 7x7"],
        ),
        (
            NB101Space(),
            ["matrix", "ops", "val_accuracy"],
            [[MATRIX, OPS.replace("maxpool3x3", "conv5x5", 1), "90"]],
            {},
            ["'conv5x5' is not a NAS-Bench-101 op"],
        ),
        (
            NB101Space(),
            ["matrix", "ops", "val_accuracy"],
            [["0" * 49, OPS, "90"]],
            {},
            ["no path from the input to the output"],
        ),
        (
            NB101Space(),
            ["matrix", "ops", "val_accuracy"],
            [[MATRIX, OPS, "90"], ["", OPS, "91"]],
            {},
            ["line 3", "no architecture"],
        ),
        (
            NB201Space(),
            ["arch", "val_accuracy"],
            [[NB201_A, "90"]],
            {"columns": {"cifar10_valid": "acc"}},
            ["no column 'acc'", "benchmark.columns.cifar10_valid"],
        ),
        (NB201Space(), ["arch", "val_accuracy"], [], {}, ["no rows"]),
    ],
)
def test_a_malformed_file_is_one_line(tmp_path, space, header, rows, options, needles):
    path = write(tmp_path / "bad.csv", header, *rows)
    with pytest.raises(UserError) as err:
        ArchTableBenchmark(path, space, **options)
    message = str(err.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message


def test_not_a_table_and_no_path_are_one_line(tmp_path):
    pth = tmp_path / "x.csv"
    pth.write_bytes(b"\x80\x04\x95" + bytes(range(256)))
    with pytest.raises(UserError, match="not a CSV"):
        ArchTableBenchmark(pth, NB201Space())
    with pytest.raises(UserError, match="benchmark.path"):
        ArchTableBenchmark(None, NB201Space())
    with pytest.raises(UserError, match="not found"):
        ArchTableBenchmark(tmp_path / "missing.csv", NB201Space())


def test_an_unquoted_genotype_is_named(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(f"genotype,val_accuracy\n{GENOTYPE},90\n")  # its commas split it
    with pytest.raises(UserError, match="more fields than the header.*quote"):
        ArchTableBenchmark(path, DartsSpace())


def test_a_look_up_of_an_unknown_architecture_is_one_line(tmp_path):
    bench = ArchTableBenchmark(
        write(tmp_path / "t.csv", ["arch", "val_accuracy"], [NB201_A, "90"]), NB201Space()
    )
    with pytest.raises(UserError, match="is not in benchmark table"):
        bench.query(NB201_B)
