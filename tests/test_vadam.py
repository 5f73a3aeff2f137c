"""Variational Adam (Khan et al. 2018, Alg. 1): the update against a hand-computed example."""

from __future__ import annotations

import math

import pytest
import torch

from freedarts_cli.errors import UserError
from freedarts_cli.vadam import VariationalAdam


def two_steps() -> VariationalAdam:
    # N = 10, λ = 2, s0 = (2 - 2)/10 = 0, lr 0.1, betas (0.5, 0.9)
    opt = VariationalAdam(
        torch.tensor([1.0, -2.0], dtype=torch.float64),
        n_data=10,
        lr=0.1,
        betas=(0.5, 0.9),
        prior_precision=2.0,
        init_precision=2.0,
    )
    opt.step(torch.tensor([0.5, -1.0], dtype=torch.float64))
    return opt


def test_first_step_by_hand():
    # m = 0.5·(g + λμ/N) = 0.5·([0.5, -1] + 0.2·[1, -2]) = [0.35, -0.7]
    # s = 0.1·g² = [0.025, 0.1]; m̂ = m/0.5 = [0.7, -1.4]; ŝ = s/0.1 = [0.25, 1.0]
    # μ = μ - 0.1·m̂/(√ŝ + λ/N) = [1 - 0.1·0.7/0.7, -2 + 0.1·1.4/1.2] = [0.9, -1.883333...]
    opt = two_steps()
    assert torch.allclose(opt.m, torch.tensor([0.35, -0.7], dtype=torch.float64))
    assert torch.allclose(opt.s, torch.tensor([0.025, 0.1], dtype=torch.float64))
    assert torch.allclose(opt.mu, torch.tensor([0.9, -2 + 0.14 / 1.2], dtype=torch.float64))


def test_second_step_by_hand():
    # g + λμ/N = [0.1 + 0.2·0.9, 0.2 + 0.2·(-1.883333)] = [0.28, -0.1766667]
    # m = 0.5·[0.35, -0.7] + 0.5·[0.28, -0.1766667] = [0.315, -0.4383333]
    # s = 0.9·[0.025, 0.1] + 0.1·[0.01, 0.04] = [0.0235, 0.094]
    # m̂ = m/0.75 = [0.42, -0.5844444]; ŝ = s/0.19 = [0.1236842, 0.4947368]
    # μ = [0.9 - 0.1·0.42/(0.3516876 + 0.2), -1.8833333 + 0.1·0.5844444/(0.7033753 + 0.2)]
    #   = [0.8238700, -1.8186377];  σ = 1/√(N·s + λ) = [1/√2.235, 1/√2.94]
    opt = two_steps()
    opt.step(torch.tensor([0.1, 0.2], dtype=torch.float64))
    assert opt.t == 2
    assert torch.allclose(opt.m, torch.tensor([0.315, -0.4383333333], dtype=torch.float64))
    assert torch.allclose(opt.s, torch.tensor([0.0235, 0.094], dtype=torch.float64))
    assert torch.allclose(
        opt.mu, torch.tensor([0.8238700, -1.8186377], dtype=torch.float64), atol=1e-7
    )
    assert torch.allclose(
        opt.sigma(), torch.tensor([1 / math.sqrt(2.235), 1 / math.sqrt(2.94)], dtype=torch.float64)
    )


def test_sigma_starts_at_init_precision():
    opt = VariationalAdam(torch.zeros(3), n_data=100, prior_precision=1.0, init_precision=5.0)
    assert torch.allclose(opt.sigma(), torch.full((3,), 1 / math.sqrt(5.0)))


def test_sampling_is_seeded_and_follows_the_posterior():
    opt = two_steps()
    draw = lambda seed: opt.sample(torch.Generator().manual_seed(seed))  # noqa: E731
    assert torch.equal(draw(0), draw(0))
    assert not torch.equal(draw(0), draw(1))
    gen = torch.Generator().manual_seed(0)
    many = torch.stack([opt.sample(gen) for _ in range(20000)])
    assert torch.allclose(many.mean(0), opt.mu, atol=0.02)
    assert torch.allclose(many.std(0), opt.sigma(), rtol=0.03)


def test_state_dict_round_trip_continues_identically():
    a, b = two_steps(), two_steps()
    c = VariationalAdam(
        torch.zeros(2, dtype=torch.float64),
        n_data=10,
        lr=0.1,
        betas=(0.5, 0.9),
        prior_precision=2.0,
        init_precision=2.0,
    )
    c.load_state_dict(b.state_dict())
    g = torch.tensor([0.3, -0.3], dtype=torch.float64)
    a.step(g)
    c.step(g)
    assert torch.equal(a.mu, c.mu) and torch.equal(a.s, c.s) and a.t == c.t


@pytest.mark.parametrize(
    "options",
    [dict(n_data=0), dict(prior_precision=0.0), dict(prior_precision=2.0, init_precision=1.0)],
)
def test_bad_options_are_one_error(options):
    with pytest.raises(UserError):
        VariationalAdam(torch.zeros(2), **{"n_data": 10, **options})
