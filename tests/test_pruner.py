import torch

from freedarts_cli.pruner import Iterative, OneShot
from freedarts_cli.scorer import SynFlow, check_scores
from freedarts_cli.spaces.nb201 import EDGES, OPS, NB201Space

CPU = torch.device("cpu")


def run(pruner, seed=0, N=1):
    space = NB201Space(N=N)
    torch.manual_seed(seed)
    net = space.build_supernet(1e-3, torch.float64, CPU)

    def score(net, where):
        s = SynFlow()(net)
        check_scores(s, net.mask, EDGES, OPS, where)
        return s

    return space, net, pruner(net, score, space)


def test_oneshot_is_the_argmax_of_one_scoring():
    _, net, pruned = run(OneShot())
    assert len(pruned.rounds) == 1
    scores = pruned.rounds[0].scores
    assert pruned.choice == [int(row.argmax()) for row in scores]
    assert 0 not in pruned.choice  # none scores 0, never the argmax


def test_iterative_removes_one_op_per_round_down_to_one_per_edge():
    space, net, pruned = run(Iterative())
    assert len(pruned.rounds) == 24  # 6 edges x 4 removals
    removed = [r.removed for r in pruned.rounds]
    assert len(set(removed)) == 24
    # `none` scores exactly 0, so it is the first op removed on every edge
    assert sorted(removed[:6]) == [(e, 0) for e in range(6)]
    assert all(r.removed_score == 0 for r in pruned.rounds[:6])
    assert net.mask.sum(dim=1).tolist() == [1] * 6
    assert pruned.choice == [int(row.nonzero()) for row in net.mask]
    # the weakest op is never taken from an edge that already holds one op
    for r in pruned.rounds:
        e, k = r.removed
        assert r.mask[e].sum() >= 1
        assert r.removed_score == float(r.scores[e, k])


def test_iterative_reinitialises_every_round_unless_asked_not_to():
    _, _, fresh = run(Iterative(reinit=True))
    _, _, kept = run(Iterative(reinit=False))
    assert Iterative(reinit=False).name == "iterative_keep_init"
    # the first round scores the same initial supernet either way
    assert torch.equal(fresh.rounds[0].scores, kept.rounds[0].scores)
    assert not torch.equal(fresh.rounds[7].scores, kept.rounds[7].scores)


def test_same_seed_same_architecture():
    assert run(Iterative(), seed=3)[2].choice == run(Iterative(), seed=3)[2].choice
    assert run(OneShot(), seed=5)[2].choice == run(OneShot(), seed=5)[2].choice
