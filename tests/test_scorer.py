import copy

import pytest
import torch
import torch.nn.functional as F

from freedarts_cli.data import Synthetic
from freedarts_cli.scorer import GraSP, ScoreError, Snip, SynFlow, check_scores
from freedarts_cli.spaces.nb201 import EDGES, OPS, NB201Space

CPU = torch.device("cpu")


def small_net(a=1e-3, dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    return NB201Space(N=1).build_supernet(a, dtype, CPU)


def batch(n=8):
    return Synthetic(batch_size=n).batch(0, torch.float64, CPU)


def test_synflow_matches_an_independent_computation():
    net = small_net()
    scores = SynFlow()(net)
    # Independently: a copy with every floating tensor made absolute, full backward.
    ref = copy.deepcopy(net)
    with torch.no_grad():
        for t in ref.state_dict().values():
            if t.is_floating_point():
                t.abs_()
    ref.train()
    ref(torch.ones(1, 3, 32, 32, dtype=torch.float64)).sum().backward()
    expected = (ref.alpha * ref.alpha.grad).abs()
    assert torch.allclose(scores, expected.detach(), rtol=1e-10, atol=0)


def test_synflow_restores_the_network_and_ignores_signs():
    net = small_net()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    first = SynFlow()(net)
    for k, v in net.state_dict().items():  # (BN's integer batch counter does move)
        assert not v.is_floating_point() or torch.equal(v, state[k]), k
    with torch.no_grad():  # flipping signs of weights and α cannot change |W|-based scores
        for p in net.parameters():
            p.neg_()
    assert torch.allclose(SynFlow()(net), first, rtol=1e-12)
    assert all(p.requires_grad for p in net.parameters())


def test_none_scores_exactly_zero_and_others_positive():
    scores = SynFlow()(small_net())
    assert torch.all(scores[:, 0] == 0)
    assert torch.all(scores[:, 1:] > 0)


def test_pruned_ops_score_nan():
    net = small_net()
    net.remove(2, 4)
    scores = SynFlow()(net)
    assert torch.isnan(scores[2, 4]) and torch.isfinite(scores[2, :4]).all()


def test_float32_underflow_is_an_error_not_a_silent_argmax():
    net = small_net(a=1e-30, dtype=torch.float32)
    scores = SynFlow()(net)
    with pytest.raises(ScoreError, match="edge 1<-0.*float64"):
        check_scores(scores, net.mask, EDGES, OPS)


def test_non_finite_scores_are_an_error():
    scores = torch.ones(6, 5)
    scores[4, 2] = float("nan")
    with pytest.raises(ScoreError, match="non-finite.*3<-1.*nor_conv_1x1"):
        check_scores(scores, torch.ones(6, 5, dtype=torch.bool), EDGES, OPS)


def test_snip_is_alpha_times_cross_entropy_gradient():
    net, b = small_net(), batch()
    scores = Snip()(net, b)
    ref = copy.deepcopy(net)
    ref.train()
    F.cross_entropy(ref(b.images), b.labels).backward()
    assert torch.allclose(scores, (ref.alpha * ref.alpha.grad).abs().detach(), rtol=1e-10)
    assert torch.all(scores[:, 0] == 0)


def test_random_labels_change_the_scores():
    net, b = small_net(), batch()
    assert not torch.equal(b.labels, b.random_labels)
    assert not torch.allclose(Snip()(net, b), Snip(random_labels=True)(net, b))
    assert Snip(random_labels=True).name == "snip_random_labels"


def test_grasp_hessian_vector_product_matches_finite_differences():
    net, b = small_net(), batch()
    scores = GraSP()(net, b)

    def grad_at(alpha):
        with torch.no_grad():
            net.alpha.copy_(alpha)
        net.zero_grad()
        F.cross_entropy(net(b.images), b.labels).backward()
        return net.alpha.grad.clone()

    alpha0 = net.alpha.detach().clone()
    g = grad_at(alpha0)
    # The loss is very curved in α at init: only tiny central-difference steps are accurate.
    errors = []
    for rel in (1e-7, 1e-8):
        eps = rel * alpha0.abs().max() / g.abs().max()
        hg = (grad_at(alpha0 + eps * g) - grad_at(alpha0 - eps * g)) / (2 * eps)
        expected = -(hg * alpha0)
        active = ~torch.isnan(scores)
        errors.append(((scores[active] - expected[active]).abs().max()
                       / expected[active].abs().max()).item())
    assert min(errors) < 1e-5, errors


def test_label_scorers_need_a_batch():
    with pytest.raises(Exception, match="data"):
        Snip()(small_net(), None)


def test_each_scorer_declares_its_numerics_and_freedarts_takes_them():
    from freedarts_cli.methods.freedarts import FreeDARTS
    from freedarts_cli.pruner import OneShot
    from freedarts_cli.runner import resolve_dtype

    assert SynFlow().dtype == "float64"  # a product over 15 cells of O(a) terms
    assert Snip().dtype == Snip(random_labels=True).dtype == GraSP().dtype == "float32"
    assert resolve_dtype(None, FreeDARTS(Snip(), OneShot())) == ("float32", torch.float32)
    assert resolve_dtype(None, FreeDARTS(SynFlow(), OneShot())) == ("float64", torch.float64)
    assert resolve_dtype("float64", FreeDARTS(Snip(), OneShot())) == ("float64", torch.float64)
