"""The MobileNet (ProxylessNAS-like) space: layout, masking of invalid skips, raw α, scoring
and pruning with the real pruners, evaluation-network size. A small variant (width 0.5, 64 px)
keeps the supernet tests fast; sizes are checked on the full 224-px evaluation network."""

import json

import pytest
import torch

from freedarts_cli.edge import MixedEdge
from freedarts_cli.pruner import Iterative, OneShot
from freedarts_cli.scorer import SynFlow, check_scores
from freedarts_cli.size import macs_m, params_m
from freedarts_cli.spaces.mobilenet import EDGES, OPS, MobileNetSpace

CPU = torch.device("cpu")
FIRST_OF_STAGE = [0, 4, 8, 12, 16, 20]  # repeats [4, 4, 4, 4, 4, 1]
SKIP = OPS.index("skip")


def small_space(**kw) -> MobileNetSpace:
    # width 0.5: stage widths 16, 28, 56, 64, 128, 216 (all different, as at width 1.0)
    return MobileNetSpace(num_classes=10, input_size=64, width_mult=0.5, last_channels=128, **kw)


def score(net, where):
    scores = SynFlow()(net)
    check_scores(scores, net.mask, EDGES, OPS, where)
    return scores


@pytest.fixture(scope="module")
def space():
    return small_space()


@pytest.fixture(scope="module")
def net(space):
    torch.manual_seed(0)
    return space.build_supernet(1e-3, torch.float64, CPU)


def test_layout(space, net):
    assert OPS == ["mb3_e3", "mb3_e6", "mb5_e3", "mb5_e6", "mb7_e3", "mb7_e6", "skip"]
    assert len(EDGES) == 21 and space.edges == EDGES and space.ops == OPS
    assert space.name == "mobilenet" and space.removals == "edge"
    assert net.alpha.shape == (21, 7) and net.alpha.dtype == torch.float64
    assert net.input_shape == (3, 64, 64)
    assert all(isinstance(b, MixedEdge) and len(b.ops) == 7 for b in net.blocks)
    strides = [b.ops[0].body[3].stride[0] for b in net.blocks]
    assert [e for e, s in enumerate(strides) if s == 2] == [0, 4, 8, 16]


def test_full_width_plan():
    plan = MobileNetSpace().plan
    widths = [c_out for _, c_out, _ in plan.blocks]
    assert widths == [32] * 4 + [56] * 4 + [112] * 4 + [128] * 4 + [256] * 4 + [432]
    assert [s for _, _, s in plan.blocks] == [
        2,
        1,
        1,
        1,
        2,
        1,
        1,
        1,
        2,
        1,
        1,
        1,
        1,
        1,
        1,
        1,
        2,
        1,
        1,
        1,
        1,
    ]
    assert [e for e, ok in enumerate(plan.skip_valid()) if not ok] == FIRST_OF_STAGE
    assert (plan.stem, plan.first, plan.last) == (40, 24, 1728)


def test_skip_masked_exactly_on_first_blocks_of_stages(net):
    mask = net.mask
    assert mask.sum() == 21 * 7 - 6
    assert [e for e in range(21) if not mask[e, SKIP]] == FIRST_OF_STAGE
    assert mask[:, :SKIP].all()
    assert all(SKIP not in net.active[e] for e in FIRST_OF_STAGE)


def test_no_depth_search_masks_every_skip():
    torch.manual_seed(0)
    space = small_space(depth_search=False)
    net = space.build_supernet(1e-3, torch.float64, CPU)
    assert not net.mask[:, SKIP].any() and net.mask[:, :SKIP].all()
    assert all(SKIP not in ops for ops in space.valid)


def test_forward_gives_logits(net):
    out = net(torch.randn(2, 3, 64, 64, dtype=torch.float64))
    assert out.shape == (2, 10) and torch.isfinite(out).all()


def test_input_too_small_is_refused():
    with pytest.raises(ValueError, match="input_size"):
        MobileNetSpace(input_size=32)


def test_alpha_is_raw_not_softmaxed(net):
    # Scaling α by c scales the block's mixture by c: nothing normalises it.
    block = net.blocks[1]  # stride 1, equal channels: every op incl. skip is active
    x = torch.randn(1, block.ops[0].body[0].in_channels, 16, 16, dtype=torch.float64)
    alpha = list(net.alpha.detach()[1].unbind())
    net.eval()
    try:
        out1 = block(x, alpha, net.active[1])
        out2 = block(x, [3 * a for a in alpha], net.active[1])
        only_skip = block(x, alpha, [SKIP])
    finally:
        net.train()
    assert torch.allclose(out2, 3 * out1)
    assert torch.allclose(only_skip, alpha[SKIP] * x)  # skip is the plain identity


def test_residual_inside_each_mbconv(net):
    ops = net.blocks[1].ops
    assert all(op.residual for op in list(ops)[:SKIP])
    assert not any(op.residual for op in list(net.blocks[0].ops)[:SKIP])


def test_oneshot_synflow_gives_finite_scores_and_a_valid_choice(space, net):
    torch.manual_seed(0)
    net.initialise()
    result = OneShot()(net, score, space)
    scores = result.rounds[0].scores
    assert scores.shape == (21, 7)
    assert torch.isfinite(scores[net.mask]).all() and (scores[net.mask] > 0).all()
    assert torch.isnan(scores[~net.mask]).all()
    choice = result.choice
    assert len(choice) == 21 and all(choice[e] != SKIP for e in FIRST_OF_STAGE)
    assert space.parse(space.decode(choice)) == choice


def test_iterative_ends_discrete_with_valid_skips(space):
    torch.manual_seed(1)
    net = space.build_supernet(1e-3, torch.float64, CPU)
    result = Iterative()(net, score, space)
    assert space.is_discrete(net.mask)
    assert max(r.round for r in result.rounds) == 6
    assert len(result.rounds) == 21 * 7 - 6 - 21
    assert all(r.removed[1] != SKIP or r.removed[0] not in FIRST_OF_STAGE for r in result.rounds)
    assert not net.mask[FIRST_OF_STAGE, SKIP].any()
    assert result.choice == [int(row.nonzero()) for row in net.mask]
    space.check(result.choice)


def test_same_seed_same_choice(space):
    choices = []
    for _ in range(2):
        torch.manual_seed(7)
        net = space.build_supernet(1e-3, torch.float64, CPU)
        choices.append(OneShot()(net, score, space).choice)
    assert choices[0] == choices[1]


def _mbconv_params(c_in: int, c_out: int, k: int, t: int) -> int:
    """Hand count of one MBConv with affine BNs (2 parameters per channel), no biases."""
    h = c_in * t
    expand = c_in * h + 2 * h if t != 1 else 0
    return expand + h * k * k + 2 * h + h * c_out + 2 * c_out


def test_evaluation_network_size_matches_a_hand_count():
    space = MobileNetSpace()  # 224 px, 1000 classes, stem 40, first block 24, last 1728
    widths = [32] * 4 + [56] * 4 + [112] * 4 + [128] * 4 + [256] * 4 + [432]
    expected = 3 * 9 * 40 + 2 * 40 + _mbconv_params(40, 24, 3, 1)
    c = 24
    for w in widths:
        expected += _mbconv_params(c, w, 3, 6)
        c = w
    expected += 432 * 1728 + 2 * 1728 + 1728 * 1000 + 1000
    choice = [OPS.index("mb3_e6")] * 21
    net = space.network(choice, torch.float32, CPU)
    assert params_m(net) == pytest.approx(expected / 1e6, abs=1e-9)
    # a skipped block leaves the network: one mb3_e6 block 32 -> 32 fewer
    choice[1] = SKIP
    fewer = space.network(choice, torch.float32, CPU)
    assert params_m(net) - params_m(fewer) == pytest.approx(
        _mbconv_params(32, 32, 3, 6) / 1e6, abs=1e-9
    )


def test_published_networks():
    space = MobileNetSpace()
    # ProxylessNAS-GPU (published 7.1 M parameters, 465 M multiply-adds)
    gpu = (
        "mb5_e3-skip-skip-skip-mb7_e3-skip-skip-mb3_e3-mb7_e6-skip-skip-mb5_e3-mb5_e6-skip-"
        "mb3_e3-mb5_e3-mb7_e6-mb7_e6-mb7_e6-mb5_e6-mb7_e6"
    )
    info = space.describe(space.parse(gpu))
    assert info["params_m"] == pytest.approx(7.119848, abs=1e-6)
    assert info["flops_m"] == pytest.approx(465, abs=1)
    assert json.loads(info["genotype_json"]) == gpu.split("-")
    # the FreeDARTS authors' SynFlow architecture: "params 6.261360 MB" in their retrain log
    authors = [int(v) for v in "0 2 0 4 2 3 3 4 4 3 4 4 3 3 5 1 0 4 3 0 2".split()]
    net = space.network(authors, torch.float32, CPU)
    assert params_m(net) == pytest.approx(6.261360, abs=1e-6)


def test_decode_and_checks(space):
    choice = [OPS.index("mb5_e6")] * 21
    choice[3] = SKIP
    arch = space.decode(choice)
    assert arch.split("-")[3] == "skip" and len(arch.split("-")) == 21
    assert space.parse(arch) == choice
    bad = list(choice)
    bad[4] = SKIP
    with pytest.raises(ValueError, match="s2b1"):
        space.decode(bad)
    with pytest.raises(ValueError):
        space.parse("mb9_e3-" * 20 + "mb3_e3")
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        sampled = space.sample(gen)
        space.check(sampled)
        space.check(space.mutate(sampled, gen))


def test_describe_small(space):
    choice = [OPS.index("mb3_e3")] * 21
    info = space.describe(choice)
    net = space.network(choice, torch.float32, CPU)
    assert info["params_m"] == pytest.approx(params_m(net), abs=1e-6)
    assert info["flops_m"] == pytest.approx(macs_m(net, (3, 64, 64)), abs=1e-3)
    assert json.loads(info["genotype_json"]) == ["mb3_e3"] * 21


def test_draw_writes_png_and_pdf(space, tmp_path):
    choice = [k % 6 for k in range(21)]
    choice[5] = choice[13] = SKIP
    paths = space.draw(choice, tmp_path)
    assert [p.name for p in paths] == ["architecture.png", "architecture.pdf"]
    assert all(p.is_file() and p.stat().st_size > 1000 for p in paths)
