"""Proxies read from activations and input Jacobians: NASWOT (Mellor et al., \"Neural
Architecture Search without Training\", ICML 2021) and its arXiv-v1 predecessor jacob_cov."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..data import Batch
from .base import proxy, removing
from .shared import BATCH, relu_kernel_hooks


@proxy("jacob_cov", needs_data=True, floor=True, uses=BATCH, reads=("input_jacobian",))
def jacob_cov(net: nn.Module, batch: Batch, shared: dict):
    """Jacobian covariance (Mellor et al., arXiv v1 of NASWOT, 2020): ``J_n = ∂(Σ f(x_n))/∂x_n``,
    ``Σ_J`` the correlation matrix of the rows of J, eigenvalues λ;
    ``S = −Σ_i (log(λ_i + k) + 1/(λ_i + k))``, ``k = 1e-5``.

    A network whose output ignores its input (every path from the input crosses ``none``) has
    zero Jacobians, whose correlation is undefined: it scores -inf (the lowest), not an error.
    """
    jac = shared["input_jacobian"]
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
    kernel = torch.zeros(len(images), len(images), dtype=torch.float64, device=images.device)
    with removing(relu_kernel_hooks(net, kernel)), torch.no_grad():
        net(images)
    return kernel


@proxy("nwot", needs_data=True, floor=True, uses=BATCH, reads=("relu_kernel",))
def nwot(net: nn.Module, batch: Batch, shared: dict):
    """NASWOT / ``hook_logdet`` (Mellor et al., ICML 2021): ``S = log |det K_H|`` of
    :func:`relu_kernel` on one batch. A singular K (two images with identical codes at every
    ReLU, e.g. when no ReLU sees the input) gives -inf, the lowest score, as in the paper's code
    (``np.linalg.slogdet``). The kernel is the shared pass's (:data:`.shared.BATCH`), counted
    during its forward."""
    return torch.linalg.slogdet(shared["relu_kernel"]).logabsdet
