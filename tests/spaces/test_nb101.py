"""space=nb101: NAS-Bench-101 cells as "<matrix>|<ops>", their module hash, their network."""

import csv

import numpy as np
import pytest
import torch

from freedarts_cli.errors import UserError
from freedarts_cli.spaces.nb1shot1 import NB1Shot1Space, choice_from
from freedarts_cli.spaces.nb101 import NB101Network, NB101Space, vertex_channels

CPU = torch.device("cpu")
INCEPTION = (
    "0111010000000100000010000100000000100000010000000|input,conv1x1-bn-relu,conv3x3-bn-relu,"
    "conv3x3-bn-relu,conv3x3-bn-relu,maxpool3x3,output"
)


def rows(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_every_shared_string_round_trips(nb101_set):
    space = NB101Space()
    for row in rows(nb101_set):
        arch = f"{row['matrix']}|{row['ops']}"
        choice = space.parse(arch)
        assert space.decode(choice) == arch
        assert len(space.canonical(choice)) == 32


def test_the_hash_is_the_one_nb1shot1_names_its_cells():
    ops = ["conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3", "conv3x3-bn-relu", "maxpool3x3"]
    parents = {2: [0], 3: [1], 4: [1, 2], 5: [0, 3], 6: [4, 5]}
    shot = NB1Shot1Space()
    choice = choice_from(parents, ops)
    info = shot.describe(choice)
    arch = f"{info['adjacency'].replace('|', '')}|{info['ops']}"
    assert NB101Space().canonical(NB101Space().parse(arch)) == shot.decode(choice)


def test_isomorphic_and_padded_cells_share_a_hash():
    space = NB101Space()
    matrix = "0110000010000100000100000"  # input -> 1, 2 -> 3 -> output
    a = space.parse(f"{matrix}|input,conv3x3-bn-relu,conv1x1-bn-relu,maxpool3x3,output")
    swapped = space.parse(f"{matrix}|input,conv1x1-bn-relu,conv3x3-bn-relu,maxpool3x3,output")
    other = space.parse(f"{matrix}|input,conv1x1-bn-relu,conv3x3-bn-relu,conv3x3-bn-relu,output")
    assert space.canonical(a) == space.canonical(swapped) != space.canonical(other)
    assert space.decode(a) != space.decode(swapped)  # distinct strings, one class
    chain = space.parse("010001000|input,conv3x3-bn-relu,output")
    padded = space.parse(
        "0100000001000000000000000|input,conv3x3-bn-relu,maxpool3x3,maxpool3x3,output"
    )
    assert space.canonical(chain) == space.canonical(padded)  # vertices 2, 3 pruned


@pytest.mark.parametrize(
    "arch, needle",
    [
        ("0100", "no '|'"),
        ("010|input,output", "is not 2x2"),
        ("0110|input,output", "not strictly upper triangular"),
        ("0100|output,input", "must start with input"),
        ("0" * 64 + "|" + ",".join(["input"] + ["maxpool3x3"] * 6 + ["output"]), "2..7"),
        ("0000|input,output", "no path from the input to the output"),
    ],
)
def test_bad_strings_are_refused(arch, needle):
    with pytest.raises(ValueError, match=needle.replace("(", r"\(")):
        NB101Space().parse(arch)


def test_the_network_is_nb101s_evaluation_network():
    space = NB101Space()
    choice = space.parse(INCEPTION)
    with torch.device("meta"):
        net = NB101Network(*_spec(choice))
    # NAS-Bench-101's README query of this cell: trainable_parameters 2694282
    assert sum(p.numel() for p in net.parameters()) == 2_694_282
    small = NB101Space(stem_channels=8, stacks=2, cells_per_stack=1, input_size=16)
    net = small.network(choice, torch.float32, CPU)
    assert net(torch.randn(2, 3, 16, 16)).shape == (2, 10)
    assert len(net.downsample) == 1  # a max-pool before the second stack only


def test_cut_channels_where_the_output_splits_unevenly():
    # vertices 1, 2, 3 feed the output: 16 channels split 6, 5, 5; vertex 1 also feeds vertex
    # 2, which cuts its 6 channels to 5 (NAS-Bench-101's truncate)
    arch = "0111000101000010000100000|input,conv3x3-bn-relu,conv1x1-bn-relu,maxpool3x3,output"
    choice = NB101Space().parse(arch)
    matrix = np.array([int(b) for b in choice[0]]).reshape(5, 5)
    assert vertex_channels(16, 16, matrix) == [16, 6, 5, 5, 16]
    space = NB101Space(stem_channels=16, stacks=1, cells_per_stack=1, input_size=8)
    net = space.network(choice, torch.float32, CPU)
    assert net(torch.randn(2, 3, 8, 8)).shape == (2, 10)


def _spec(choice):
    bits, labels = choice
    n = len(labels)
    return np.array([int(b) for b in bits]).reshape(n, n), list(labels)


@pytest.mark.slow
def test_every_shared_architecture_builds_and_runs(nb101_set):
    """All 500 at a small size (the full size takes about 0.2 s to build each)."""
    space = NB101Space(stem_channels=8, stacks=2, cells_per_stack=1, input_size=8)
    x = torch.randn(2, 3, 8, 8)
    for row in rows(nb101_set):
        net = space.network(space.parse(f"{row['matrix']}|{row['ops']}"), torch.float32, CPU)
        assert torch.isfinite(net(x)).all()


def test_archai_init_is_nas_bench_101s_own_draw():
    """network_init=archai: convs N(0, 2/(k²·C_out)), classifier N(0, 0.01²), zero bias, as the
    PyTorch port NASLib scores Suite-Zero's cells with; the default stays PyTorch's; a seed
    gives the same weights."""
    from torch import nn

    arch = INCEPTION

    def build(init):
        space = NB101Space(stem_channels=32, stacks=1, cells_per_stack=1, network_init=init)
        torch.manual_seed(0)
        return space.network(space.parse(arch), torch.float32, CPU)

    net = build("archai")
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    for conv in convs:
        want = (2.0 / (conv.kernel_size[0] * conv.kernel_size[1] * conv.out_channels)) ** 0.5
        assert abs(conv.weight.std().item() / want - 1) < 0.15, conv
    assert abs(net.classifier.weight.std().item() / 0.01 - 1) < 0.15
    assert not net.classifier.bias.any()
    assert torch.equal(net._flat, build("archai")._flat)
    default = build("torch")
    bound = 1 / convs[0].weight[0].numel() ** 0.5
    assert default.stem[0].weight.abs().max() <= bound  # PyTorch's U(±1/√fan_in)
    assert net.stem[0].weight.abs().max() > bound
    with pytest.raises(UserError, match="network_init=xavier"):
        NB101Space(network_init="xavier")
