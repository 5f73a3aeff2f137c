import copy

import pytest
import torch
import torch.nn.functional as F

from freedarts_cli.data import Synthetic
from freedarts_cli.scorer import GraSP, ScoreError, Snip, SynFlow, check_scores
from freedarts_cli.spaces.nb201 import EDGES, OPS, NB201Space

from .conftest import freedarts, loss_gradient_at

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


def healthy_scores():
    """NB201-shaped scores as SynFlow-α gives them: ``none`` exactly 0, the others normal."""
    scores = torch.full((6, 5), 1e-3, dtype=torch.float64)
    scores[:, 0] = 0
    return scores, torch.ones(6, 5, dtype=torch.bool)


def test_subnormal_float32_scores_are_an_error_naming_count_edges_and_fix():
    scores, mask = healthy_scores()
    check_scores(scores, mask, EDGES, OPS, dtype=torch.float32)  # none's 0 is no underflow
    scores[2, 3] = 1e-40  # subnormal in float32 (tiny 1.18e-38), normal in float64
    scores[4, 1] = -3e-42  # GraSP scores are signed: the magnitude counts
    with pytest.raises(ScoreError) as err:
        check_scores(scores, mask, EDGES, OPS, " at round 3", torch.float32)
    message = str(err.value)
    assert "scores at round 3 underflowed in float32: 2 of 30 are subnormal" in message
    assert "on edges 2<-1, 3<-1;" in message
    assert "use dtype=float64 (same a) or a larger a" in message
    check_scores(scores, mask, EDGES, OPS, dtype=torch.float64)  # full precision there


def test_subnormal_scores_are_found_in_a_float32_tensor_itself():
    scores = torch.tensor([[0.0, 2e-39, 3e-39, 1.0, 1.0]], dtype=torch.float32)
    with pytest.raises(ScoreError, match="2 of 5 are subnormal .* on edge 1<-0; .*float64"):
        check_scores(scores, torch.ones(1, 5, dtype=torch.bool), EDGES[:1], OPS)


def test_scores_underflowed_to_exactly_zero_on_a_real_op_are_an_error():
    scores, mask = healthy_scores()
    scores[5, 2] = 0.0  # nor_conv_1x1 cannot score 0: its gradient underflowed
    with pytest.raises(
        ScoreError, match="1 of 30 is exactly 0 on ops that cannot score 0, on edge 3<-2"
    ):
        check_scores(scores, mask, EDGES, OPS, dtype=torch.float32)
    mask[5, 2] = False  # a pruned op is not compared
    check_scores(scores, mask, EDGES, OPS, dtype=torch.float32)


def test_subnormal_float64_scores_ask_for_a_larger_a():
    scores, mask = healthy_scores()
    scores[0, 4] = 1e-310
    with pytest.raises(ScoreError, match="underflowed in float64.*: use a larger a"):
        check_scores(scores, mask, EDGES, OPS, dtype=torch.float64)


@pytest.mark.parametrize(
    "scorer,dtype",
    [
        (SynFlow(), torch.float64),
        (SynFlow(), torch.float32),
        (Snip(), torch.float32),
        (GraSP(), torch.float32),
    ],
)
def test_default_a_scores_are_never_taken_for_underflow(scorer, dtype):
    net = small_net(dtype=dtype)
    b = Synthetic(batch_size=8).batch(0, dtype, CPU) if scorer.needs_data else None
    check_scores(scorer(net, b), net.mask, EDGES, OPS, dtype=dtype)


def test_search_with_subnormal_float32_scores_exits_2_in_one_line(tmp_path):
    # The reproduction (15 cells): 20 of 22 non-zero float32 scores were subnormal.
    out = freedarts(
        "search",
        "space=nb201",
        "scorer=synflow",
        "dtype=float32",
        "a=3e-7",
        "benchmark=none",
        f"hydra.run.dir={tmp_path}/run",
    )
    assert out.returncode == 2, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert "underflowed in float32" in lines[0] and "subnormal" in lines[0], lines[0]
    assert "dtype=float64" in lines[0]
    assert not (tmp_path / "run" / "result.csv").exists()


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
        return loss_gradient_at(net, b, alpha)

    alpha0 = net.alpha.detach().clone()
    g = grad_at(alpha0)
    # The loss is very curved in α at init: only tiny central-difference steps are accurate.
    errors = []
    for rel in (1e-7, 1e-8):
        eps = rel * alpha0.abs().max() / g.abs().max()
        hg = (grad_at(alpha0 + eps * g) - grad_at(alpha0 - eps * g)) / (2 * eps)
        expected = -(hg * alpha0)
        active = ~torch.isnan(scores)
        errors.append(
            ((scores[active] - expected[active]).abs().max() / expected[active].abs().max()).item()
        )
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
