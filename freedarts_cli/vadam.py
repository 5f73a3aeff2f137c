"""Variational Adam: a Gaussian posterior over α learned by natural-gradient VI (BaLeNAS).

Khan et al. 2018, "Fast and Scalable Bayesian Deep Learning by Weight-Perturbation in Adam",
Algorithm 1 (Vadam), as BaLeNAS uses it for the architecture parameters: the posterior is
``q(α) = N(μ, σ²)`` with ``σ = 1/√(N·s + λ)``, ``N`` the number of training examples and ``λ``
the prior precision (prior ``N(0, 1/λ)``). Each step

* evaluates the gradient ``g`` of the loss at ``μ + σ ⊙ ε``, ``ε ~ N(0, I)`` (the caller averages
  ``g`` over M such samples: BaLeNAS' "MCMC sampling number");
* ``m ← β1·m + (1−β1)·(g + λ·μ/N)``, ``s ← β2·s + (1−β2)·g²``;
* ``μ ← μ − lr · m̂ / (√ŝ + λ/N)`` with the bias-corrected ``m̂ = m/(1−β1^t)``,
  ``ŝ = s/(1−β2^t)``.

``s`` starts at ``(init_precision − λ)/N`` (Khan et al.'s ``prec_init``): with both at 1 (their
defaults) ``s = 0`` and ``σ = 1`` before the first step.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .errors import UserError


class VariationalAdam:
    """The state ``(μ, m, s, t)`` of Vadam for one tensor (α), and its update (module docstring)."""

    def __init__(
        self,
        mu: torch.Tensor,
        n_data: int,
        lr: float = 3e-4,
        betas: Sequence[float] = (0.5, 0.999),
        prior_precision: float = 1.0,
        init_precision: float = 1.0,
    ):
        if not n_data >= 1:
            raise UserError(f"VAdam needs N >= 1 training examples, got {n_data}")
        if not prior_precision > 0 or not init_precision >= prior_precision:
            raise UserError(
                f"VAdam needs prior_precision > 0 and init_precision >= "
                f"prior_precision (got {prior_precision}, {init_precision}): use "
                "e.g. prior_precision=1.0 init_precision=1.0"
            )
        self.n, self.lr = float(n_data), float(lr)
        self.beta1, self.beta2 = (float(b) for b in betas)
        self.prior = float(prior_precision)
        self.mu = mu.detach().clone()
        self.m = torch.zeros_like(self.mu)
        self.s = torch.full_like(self.mu, (init_precision - prior_precision) / self.n)
        self.t = 0

    def sigma(self) -> torch.Tensor:
        """The posterior's standard deviation ``σ = 1/√(N·s + λ)``."""
        return (self.n * self.s + self.prior).rsqrt()

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """One draw ``μ + σ ⊙ ε`` from the posterior (``ε`` from ``generator``, on the CPU in
        float64 so a draw does not depend on α's dtype or device)."""
        eps = torch.randn(self.mu.shape, generator=generator, dtype=torch.float64)
        return self.mu + self.sigma() * eps.to(self.mu.device, self.mu.dtype)

    @torch.no_grad()
    def step(self, grad: torch.Tensor) -> None:
        """One Vadam update of ``μ`` from ``grad``, the loss gradient at the sampled α
        (averaged over the step's samples)."""
        self.t += 1
        g = grad.detach().to(self.mu.dtype)
        self.m.mul_(self.beta1).add_(g + self.prior * self.mu / self.n, alpha=1 - self.beta1)
        self.s.mul_(self.beta2).addcmul_(g, g, value=1 - self.beta2)
        m_hat = self.m / (1 - self.beta1**self.t)
        s_hat = self.s / (1 - self.beta2**self.t)
        self.mu.sub_(self.lr * m_hat / (s_hat.sqrt() + self.prior / self.n))

    def state_dict(self) -> dict:
        return {"mu": self.mu.clone(), "m": self.m.clone(), "s": self.s.clone(), "t": self.t}

    def load_state_dict(self, state: dict) -> None:
        for key in ("mu", "m", "s"):
            getattr(self, key).copy_(state[key])
        self.t = int(state["t"])
