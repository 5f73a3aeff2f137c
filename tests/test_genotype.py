import pytest
import torch

from freedarts_cli.genotype import argmax_choice, nb201_string, parse_nb201
from freedarts_cli.spaces.nb201 import OPS

ALL_3X3 = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+"
    "|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
)


def test_string_follows_the_edge_order():
    # edges 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2 take ops 0..5 (mod 5)
    arch = nb201_string([0, 1, 2, 3, 4, 0], OPS)
    assert arch == (
        "|none~0|+|skip_connect~0|nor_conv_1x1~1|+|nor_conv_3x3~0|avg_pool_3x3~1|none~2|"
    )
    assert nb201_string([3] * 6, OPS) == ALL_3X3


def test_parse_inverts_string():
    for choice in ([0, 1, 2, 3, 4, 0], [3] * 6, [4, 4, 1, 2, 0, 3]):
        assert parse_nb201(nb201_string(choice, OPS), OPS) == choice
    with pytest.raises(ValueError):
        parse_nb201("|nor_conv_3x3~1|+|x~0|", OPS)


def test_argmax_respects_mask_and_breaks_ties_to_the_first_op():
    scores = torch.tensor([[0.0, 2.0, 2.0, 1.0, 0.5], [9.0, 1.0, 0.0, 0.0, 0.0]])
    mask = torch.ones(2, 5, dtype=torch.bool)
    assert argmax_choice(scores, mask) == [1, 0]
    mask[1, 0] = False
    mask[0, 1] = False
    assert argmax_choice(scores, mask) == [2, 1]


# --- DARTS genotypes: parse_genotype refuses every malformed cell with one named ValueError ----

from freedarts_cli.genotype import parse_genotype  # noqa: E402
from freedarts_cli.spaces.darts import OPS as DARTS_OPS  # noqa: E402

from .conftest import freedarts  # noqa: E402

NORMAL = (
    "[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
    "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)]"
)
REDUCE = (
    "[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), "
    "('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)]"
)


def darts_genotype(
    normal=NORMAL,
    normal_concat="[2, 3, 4, 5]",
    reduce=REDUCE,
    reduce_concat="range(2, 6)",
    extra="",
):
    return (
        f"Genotype(normal={normal}, normal_concat={normal_concat}, reduce={reduce}, "
        f"reduce_concat={reduce_concat}{extra})"
    )


def nodes(count):
    """``count`` intermediate nodes, each reading the two previous cells."""
    return "[" + ", ".join("('sep_conv_3x3', 0), ('sep_conv_3x3', 1)" for _ in range(count)) + "]"


def test_a_well_formed_darts_genotype_still_parses():
    g = parse_genotype(darts_genotype(), DARTS_OPS)
    assert list(g.normal_concat) == list(g.reduce_concat) == [2, 3, 4, 5]
    assert len(g.normal) == len(g.reduce) == 8 and g.normal[7] == ("dil_conv_3x3", 2)
    assert parse_genotype(str(g), DARTS_OPS) == g


@pytest.mark.parametrize(
    "concat,message",
    [
        (
            "5",
            "normal_concat=5 is not a range or list of node indices: use normal_concat=range(2, 6)",
        ),
        ("range('a')", "normal_concat=range('a') is not a range of node numbers"),
        ("range(2, 6.0)", "normal_concat=range(2, 6.0) is not a range of node numbers"),
        ("range(2, 6, 0)", "normal_concat=range(2, 6, 0) has step 0"),
        ("range(0, 1000000000000)", "lists 1000000000000 nodes"),  # refused before it is expanded
        ("range(2, 2)", "normal_concat=range(2, 2) lists no node"),
        ("'2345'", "normal_concat='2345' is not a range or list"),
        ("[2, 3, 4, 9]", "names node 9, which is not an intermediate node of the cell (2..5)"),
        ("[0, 1, 2]", "names node 0"),
        ("[2, 3, 3, 5]", "lists node 3 twice"),
        ("[True, 3, 4, 5]", "normal_concat=[True, 3, 4, 5] is not a range or list"),
        ("range(2, 10**3)", "normal_concat=range(2, 10 ** 3) is not a range of node numbers"),
        ("sorted([5, 4, 3, 2])", "normal_concat=sorted([5, 4, 3, 2]) is not a literal"),
    ],
)
def test_genotype_concat_must_be_distinct_intermediate_nodes(concat, message):
    with pytest.raises(ValueError, match="use normal_concat=range\\(2, 6\\)") as err:
        parse_genotype(darts_genotype(normal_concat=concat), DARTS_OPS)
    assert message in str(err.value)


@pytest.mark.parametrize("count", [1, 3, 5, 104, 5000])
def test_genotype_with_the_wrong_number_of_nodes_is_refused_quickly(count):
    with pytest.raises(ValueError) as err:
        parse_genotype(darts_genotype(normal=nodes(count)), DARTS_OPS)
    message = str(err.value)
    assert f"normal has {2 * count} (op, input) pairs ({count} node" in message
    assert "the DARTS cell has 4 intermediate nodes: list 8 (op, input) pairs" in message


@pytest.mark.parametrize(
    "reduce,message",
    [
        (REDUCE[:-1] + ", ('skip_connect', 0)]", "reduce has 9 (op, input) pairs (4.5 nodes)"),
        (
            REDUCE.replace("('max_pool_3x3', 1)", "('max_pool_3x3', 2)", 1),
            "reduce[1]=('max_pool_3x3', 2): node 2 cannot read input 2: its inputs are 0..1",
        ),
        ("[('max_pool_3x3', -1)]", "node 2 cannot read input -1"),
        ("[('max_pool_3x3', True)]", "reduce[0]=('max_pool_3x3', True) is not an (op, input) pair"),
        ("[('max_pool_3x3', 0, 1)]", "is not an (op, input) pair"),
        ("[('conv_9x9', 0)]", "op 'conv_9x9' is not known: use one of none, max_pool_3x3"),
        ("{'a': 1}", "reduce={'a': 1} is not a list of (op, input) pairs"),
        ("[x for x in y]", "is not a literal"),
    ],
)
def test_genotype_pairs_name_the_bad_entry(reduce, message):
    with pytest.raises(ValueError) as err:
        parse_genotype(darts_genotype(reduce=reduce), DARTS_OPS)
    assert message in str(err.value)


@pytest.mark.parametrize(
    "extra,message",
    [
        (", foo=1", "Genotype has no field foo"),
        (", normal=[]", "Genotype field normal is given twice"),
        (", **{'a': 1}", "Genotype has no field **{'a': 1}"),
    ],
)
def test_genotype_unknown_or_repeated_fields_are_refused(extra, message):
    with pytest.raises(ValueError, match=message.replace("*", "\\*")):
        parse_genotype(darts_genotype(extra=extra), DARTS_OPS)


@pytest.mark.parametrize(
    "normal,normal_concat,message",
    [
        (
            NORMAL,
            "5",
            "normal_concat=5 is not a range or list of node indices: use normal_concat=range(2, 6)",
        ),
        (nodes(104), "range(2, 6)", "normal has 208 (op, input) pairs (104 nodes)"),
        (NORMAL, "[2, 3, 4]", "normal_concat=[2, 3, 4] is not supported"),
    ],
)
def test_genotype_info_refuses_a_malformed_genotype_in_one_line(normal, normal_concat, message):
    out = freedarts(
        "genotype-info", darts_genotype(normal=normal, normal_concat=normal_concat), timeout=60
    )
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], out.stderr
    assert "Traceback" not in out.stderr and out.stdout == ""
