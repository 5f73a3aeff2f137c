"""scorer=grasp_authors: GraSP-α as the authors' NB201 notebook computes it (AUTHORS_CODE.md §1.7,
bugs B4/B5), checked step by step against plain autograd and torch.optim.Adam."""

import pandas as pd
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from freedarts_cli.data import Batch, Synthetic
from freedarts_cli.scorer import GraSP, GraSPAuthors
from freedarts_cli.spaces.nb201 import NB201Space

from .conftest import freedarts, loss_gradient_at

CPU = torch.device("cpu")


class Tiny(nn.Module):
    """A supernet-like module with what a scorer uses (``alpha``, ``mask``, train mode, other
    parameters): 2 edges × 3 ops, op 0 is ``none``, loss curved in α (a Hessian with cross
    terms). logits = W2 · (Σ_k α[1,k] · tanh(op_k(Σ_k α[0,k] · op_k(W1 x))))."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.w1 = nn.Parameter(torch.randn(4, 3, generator=g, dtype=torch.float64))
        self.w2 = nn.Parameter(torch.randn(3, 4, generator=g, dtype=torch.float64))
        self.alpha = nn.Parameter(0.1 * torch.randn(2, 3, generator=g, dtype=torch.float64))
        self.mask = torch.ones(2, 3, dtype=torch.bool)

    @staticmethod
    def ops(h):
        return [0 * h, h, torch.sin(2 * h)]  # none, identity, a non-linear op

    def forward(self, x):
        h = x @ self.w1.T
        h = sum(a * o for a, o in zip(self.alpha[0], self.ops(h), strict=True))
        h = sum(a * o for a, o in zip(self.alpha[1], self.ops(torch.tanh(h)), strict=True))
        return h @ self.w2.T


def tiny_batch():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(5, 3, generator=g, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 1, 0])
    return Batch(x, y, y)


def test_scores_equal_the_recipe_written_out_with_plain_autograd():
    net, b = Tiny(), tiny_batch()
    scores = GraSPAuthors()(net, b)

    # §1.7 step by step, on a separate leaf α (the notebook's a_optimizer and p_model)
    def loss(alpha):
        ref = Tiny()
        del ref.alpha
        ref.alpha = alpha
        return F.cross_entropy(ref(b.images), b.labels)

    alpha = net.alpha.detach().clone().requires_grad_()
    alpha0 = alpha.detach().clone()  # 1. α0
    loss(alpha).backward()  # 2. g at α0
    g = alpha.grad.detach().clone()
    torch.optim.Adam([alpha], lr=3e-2, betas=(0.5, 0.999), weight_decay=1e-3).step()  # 3. α1
    assert (alpha.detach() - alpha0).abs().max() == pytest.approx(0.03, rel=1e-3)
    alpha.grad = None  # p_model: no .grad
    (big_g,) = torch.autograd.grad(loss(alpha), alpha, create_graph=True)  # 4. G at α1
    # 5. their zip(grads, vector) truncates to one pair, row 0 of g (B4): unequal on purpose
    pairs = list(zip((big_g,), g, strict=False))
    assert len(pairs) == 1 and torch.equal(pairs[0][1], g[0])
    prod = sum((gi * vi).sum() for gi, vi in pairs)
    (hv,) = torch.autograd.grad(prod, alpha)
    expected = torch.stack([alpha0[e] * hv[e] for e in range(2)])  # 6. α0[e] ⊙ (Hṽ)[e]
    assert torch.allclose(scores, expected, rtol=1e-10, atol=0)
    assert torch.all(scores[:, 0] == 0) and (scores[:, 1:] < 0).any()


def test_hessian_vector_product_matches_central_differences():
    """Hṽ at α1 by differences of plain gradients (no double backward anywhere)."""
    net, b = Tiny(), tiny_batch()
    scorer = GraSPAuthors()
    scores = scorer(net, b)

    def grad_at(alpha):
        return loss_gradient_at(net, b, alpha)

    alpha0 = net.alpha.detach().clone()
    g = grad_at(alpha0)
    alpha1 = scorer.adam_step(alpha0, g)
    v, eps = g[0].expand(2, 3), 1e-5
    hv = (grad_at(alpha1 + eps * v) - grad_at(alpha1 - eps * v)) / (2 * eps)
    assert torch.allclose(scores, alpha0 * hv, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_adam_step_is_torch_optim_adams_first_step(dtype):
    torch.manual_seed(0)
    alpha0 = 1e-3 * torch.randn(6, 5, dtype=dtype)
    g = torch.randn(6, 5, dtype=dtype) * torch.logspace(-6, 0, 30, dtype=dtype).view(6, 5)
    g[0, 0] = 0.0  # `none`: zero gradient, the step is then the weight decay's
    for kw in ({}, {"lr": 0.1, "betas": (0.9, 0.99), "weight_decay": 0.0}):
        p = torch.nn.Parameter(alpha0.clone())
        p.grad = g.clone()
        torch.optim.Adam(
            [p], **{"lr": 0.03, "betas": (0.5, 0.999), "weight_decay": 1e-3, **kw}
        ).step()
        ours = GraSPAuthors(**kw).adam_step(alpha0, g)
        assert torch.allclose(ours, p.detach(), rtol=0, atol=4 * torch.finfo(dtype).eps)
    # the closed form of the first step: α0 − lr·d/(|d| + eps), d = g + wd·α0
    d = g + 1e-3 * alpha0
    closed = alpha0 - 0.03 * d / (d.abs() + 1e-8)
    assert torch.allclose(
        GraSPAuthors().adam_step(alpha0, g), closed, rtol=0, atol=4 * torch.finfo(dtype).eps
    )


def test_alpha_and_training_flags_are_unchanged_after_scoring():
    torch.manual_seed(0)
    net = NB201Space(N=1).build_supernet(1e-3, torch.float32, CPU)
    b = Synthetic(batch_size=8).batch(0, torch.float32, CPU)
    net.remove(3, 2)
    alpha = net.alpha.detach().clone()
    net.eval()
    flags = [p.requires_grad for p in net.parameters()]
    first = GraSPAuthors()(net, b)
    assert torch.equal(net.alpha.detach(), alpha) and net.alpha.grad is None
    assert not net.training and flags == [p.requires_grad for p in net.parameters()]
    assert torch.isnan(first[3, 2]) and torch.isfinite(first[3, :2]).all()
    assert torch.all(first[:, 0].nan_to_num(0) == 0)  # `none` scores exactly 0 and competes
    # the same call again (iterative pruning with reinit=False) gives the same scores
    assert torch.allclose(GraSPAuthors()(net, b), first, equal_nan=True, rtol=1e-5, atol=1e-7)
    # and it is not the textbook score
    assert not torch.allclose(GraSP()(net, b), first, equal_nan=True)


def test_alpha_is_restored_when_the_pass_fails():
    net, b = Tiny(), tiny_batch()
    alpha = net.alpha.detach().clone()
    bad = Batch(b.images, torch.tensor([0, 1, 2, 1, 7]), b.labels)  # label 7 of 3 classes
    with pytest.raises((IndexError, RuntimeError)):
        GraSPAuthors()(net, bad)
    assert torch.equal(net.alpha.detach(), alpha)


def test_bad_betas_are_a_user_error():
    from freedarts_cli.errors import UserError

    with pytest.raises(UserError, match="betas"):
        GraSPAuthors(betas=(1.0, 0.999))


@pytest.mark.parametrize("space", [["space=nb201"], ["space=nb1shot1", "space.cells_per_stack=1"]])
def test_cli_runs_grasp_authors(tmp_path, space):
    out = freedarts(
        "search",
        *space,
        "scorer=grasp_authors",
        "data=synthetic",
        "data.batch_size=8",
        "benchmark=none",
        "threads=1",
        f"hydra.run.dir={tmp_path}/r",
    )
    assert out.returncode == 0, out.stderr
    row = pd.read_csv(tmp_path / "r" / "result.csv").iloc[0]
    assert row["scorer"] == "grasp_authors" and row["dtype"] == "float32"
    assert row["data"] == "synthetic"


def test_cli_prints_the_authors_optimizer_settings():
    out = freedarts("search", "scorer=grasp_authors", "--cfg", "job")
    assert out.returncode == 0, out.stderr
    assert "GraSPAuthors" in out.stdout and "lr: 0.03" in out.stdout
    assert "weight_decay: 0.001" in out.stdout
