import pytest
import torch

from freedarts_cli.genotype import argmax_choice, nb201_string, parse_nb201
from freedarts_cli.spaces.nb201 import OPS

ALL_3X3 = ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+"
           "|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|")


def test_string_follows_the_edge_order():
    # edges 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2 take ops 0..5 (mod 5)
    arch = nb201_string([0, 1, 2, 3, 4, 0], OPS)
    assert arch == ("|none~0|+|skip_connect~0|nor_conv_1x1~1|+"
                    "|nor_conv_3x3~0|avg_pool_3x3~1|none~2|")
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
