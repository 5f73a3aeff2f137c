"""Proxies read from activations and input Jacobians: NASWOT (Mellor et al., \"Neural
Architecture Search without Training\", ICML 2021) and its arXiv-v1 predecessor jacob_cov."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..data import Batch
from .base import data, grad, proxy, removing


@proxy("jacob_cov", needs_data=True, floor=True)
def jacob_cov(net: nn.Module, batch: Batch):
    """Jacobian covariance (Mellor et al., arXiv v1 of NASWOT, 2020): ``J_n = ∂(Σ f(x_n))/∂x_n``,
    ``Σ_J`` the correlation matrix of the rows of J, eigenvalues λ;
    ``S = −Σ_i (log(λ_i + k) + 1/(λ_i + k))``, ``k = 1e-5``.

    A network whose output ignores its input (every path from the input crosses ``none``) has
    zero Jacobians, whose correlation is undefined: it scores -inf (the lowest), not an error.
    """
    x, _ = data(net, batch)
    x = x.clone().requires_grad_(True)
    (jac,) = grad(net(x).sum(), [x])
    jac = jac.reshape(len(jac), -1).to(torch.float64)
    if bool((jac.std(dim=1) == 0).any()):
        return -math.inf
    eig = torch.linalg.eigvalsh(torch.corrcoef(jac))  # symmetric: real eigenvalues
    k = 1e-5
    return -(torch.log(eig + k) + 1.0 / (eig + k)).sum()


def relu_kernel(net: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """NASWOT's ``K_H`` (Mellor et al. 2021, eq. 2) in float64: for every ReLU, the binary code
    ``c`` of each image (``input > 0``, flattened), and ``K[i, j] = Σ_ReLU c_i·c_j +
    (1−c_i)·(1−c_j)``, the number of units on which images i and j agree. The network runs once
    in its current mode (the ``nwot`` proxy runs it in train mode)."""
    n = len(images)
    kernel = torch.zeros(n, n, dtype=torch.float64, device=images.device)

    def count(module, inputs, output):
        # With s = 2c − 1 ∈ {±1}: agreements = (D + s·s')/2, one matmul instead of two. Float32
        # is exact here: every partial sum is an integer below 2^24.
        s = (inputs[0].detach().reshape(n, -1) > 0).to(torch.float32) * 2 - 1
        kernel.add_((s @ s.T + s.shape[1]).to(torch.float64) / 2)

    with (
        removing([m.register_forward_hook(count) for m in net.modules() if isinstance(m, nn.ReLU)]),
        torch.no_grad(),
    ):
        net(images)
    return kernel


@proxy("nwot", needs_data=True, floor=True)
def nwot(net: nn.Module, batch: Batch):
    """NASWOT / ``hook_logdet`` (Mellor et al., ICML 2021): ``S = log |det K_H|`` of
    :func:`relu_kernel` on one batch. A singular K (two images with identical codes at every
    ReLU, e.g. when no ReLU sees the input) gives -inf, the lowest score, as in the paper's code
    (``np.linalg.slogdet``)."""
    x, _ = data(net, batch)
    return torch.linalg.slogdet(relu_kernel(net, x)).logabsdet
