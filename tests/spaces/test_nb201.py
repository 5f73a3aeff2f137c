import pytest
import torch

from freedarts_cli.spaces.nb201 import EDGES, OPS, NB201Space, SearchCell


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return NB201Space().build_supernet(1e-3, torch.float64, torch.device("cpu"))


def test_layout_matches_the_authors_supernet(net):
    assert EDGES == ["1<-0", "2<-0", "2<-1", "3<-0", "3<-1", "3<-2"]
    assert OPS == ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
    assert net.alpha.shape == (6, 5)
    assert sum(isinstance(c, SearchCell) for c in net.cells) == 15
    # TinyNetworkDartsV1 prints "Params = 1.69 MB": weights plus the 30 entries of α.
    n = sum(p.numel() for p in net.parameters())
    assert 1.68e6 < n < 1.70e6
    assert net.alpha.dtype == torch.float64


def test_cell_bns_are_not_affine_and_outer_bns_are(net):
    cell_bns = [
        m
        for c in net.cells
        if isinstance(c, SearchCell)
        for m in c.modules()
        if isinstance(m, torch.nn.BatchNorm2d)
    ]
    assert cell_bns and not any(bn.affine for bn in cell_bns)
    assert net.stem[1].affine and net.lastact[0].affine


def test_forward_gives_logits(net):
    out = net(torch.randn(2, 3, 32, 32, dtype=torch.float64))
    assert out.shape == (2, 10)


def test_alpha_is_raw_not_softmaxed(net):
    # Scaling α by c scales each edge's mixture by c: nothing normalises it.
    cell = net.cells[0]
    x = torch.randn(1, 16, 8, 8, dtype=torch.float64)
    alpha = net.alpha.detach()
    net.eval()
    out1 = cell.edges[0](x, alpha[0], [1, 4])
    out2 = cell.edges[0](x, 3 * alpha[0], [1, 4])
    net.train()
    assert torch.allclose(out2, 3 * out1)


def test_pruned_op_leaves_the_sum():
    torch.manual_seed(1)
    net = NB201Space(N=1).build_supernet(1e-3, torch.float64, torch.device("cpu"))
    x = torch.ones(1, 3, 32, 32, dtype=torch.float64)
    before = net(x)
    net.remove(3, 2)
    assert not net.mask[3, 2] and 2 not in net.active[3]
    assert not torch.allclose(before, net(x))


def test_initialise_is_seeded():
    space = NB201Space(N=1)
    nets = []
    for _ in range(2):
        torch.manual_seed(7)
        nets.append(space.build_supernet(1e-3, torch.float64, torch.device("cpu")))
    for (k, a), (_, b) in zip(
        nets[0].state_dict().items(), nets[1].state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), k
    nets[0].initialise()
    assert not torch.equal(nets[0].alpha, nets[1].alpha)


def test_decode_and_stopping_rule():
    space = NB201Space()
    assert space.decode([3] * 6).count("nor_conv_3x3") == 6
    mask = torch.zeros(6, 5, dtype=torch.bool)
    mask[:, 2] = True
    assert space.is_discrete(mask)
    mask[0, 3] = True
    assert not space.is_discrete(mask)


def test_architectures_are_the_whole_space_once():
    archs = NB201Space().architectures()
    assert len(archs) == 5**6 == len({tuple(c) for c in archs})


def test_isomorphism_classes_are_the_tables_unique_strings(shared_table):
    """Our own canonical form gives the table's 6,466 classes of 15,625 cells, class by class
    (the key also equals the table's UniqueString spelling)."""
    import pandas as pd

    space = NB201Space()
    table = pd.read_csv(shared_table)
    ours = [space.canonical(space.parse(a)) for a in table["ArchitectureString"]]
    assert len(set(ours)) == table["UniqueString"].nunique() == 6466
    pairs = set(zip(ours, table["UniqueString"], strict=True))
    assert len(pairs) == 6466  # the same partition: no class of one is split by the other


def test_the_key_drops_what_never_reaches_the_output():
    space = NB201Space()
    a = space.parse("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|skip_connect~2|")
    b = space.parse("|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|skip_connect~2|")
    c = space.parse("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|skip_connect~2|")
    assert space.canonical(a) != space.canonical(b)  # conv -> skip vs input -> skip
    d = space.parse("|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|none~1|none~2|")
    e = space.parse("|none~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|none~1|none~2|")
    f = space.parse("|avg_pool_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|none~1|none~2|")
    assert space.canonical(d) == space.canonical(e) == space.canonical(f)  # node 1 unused
    assert space.canonical(c) != space.canonical(a)
