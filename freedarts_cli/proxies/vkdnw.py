"""VKDNW (Týbl & Neumann, \"Training-free Neural Architecture Search through Variance of Knowledge
of Deep Network Weights\", CVPR 2025, arXiv 2502.04975): the entropy of the spectrum of an
empirical Fisher information matrix at initialisation, and the rankings built on it.

Semantics are those of the authors' NAS-Bench-201 code (github ondratybl/VKDNW,
``NB201/ZeroShotProxy/compute_vkdnw_score.py`` as of commit 779a3a8, the Nov 12 2024 runs its
Table 1 reports for VKDNW_single/VKDNW_agg; equal to the final code with ``p=1``), driven by
``NB201/tss_general_.py`` with its defaults (``--batch_size 64``, ``--params_grad_len 128``,
Gaussian input: ``vkdnw`` is not among its ``real_input_metrics``), and of its rankings
(``NB201/tss_utils.py`` ``get_scores``, ``NB201/paper_preparation.ipynb``; both removed from
the repository in its last code commit 2b67433, read at its parent). The final
``compute_vkdnw_score`` samples ``p`` evenly spaced elements per tensor, and its driver's default
``--p 0`` samples none; Table 1 came from the earlier single-element version used here.

Deliberate deviations: the per-sample Jacobian is obtained with per-sample perturbation
variables (:func:`sample_jacobian`) rather than ``vmap(jacrev(functional_call))`` (the same
numbers, without per-sample copies of whole weight tensors); the Fisher matrix and its
eigenvalues in float64 (the authors: float32, where their ``torch.svd`` failing falls back to
zero eigenvalues, i.e. entropy 0); α = 0.05 exactly (the authors hold it in float16).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, jvp
from torch.nn.modules.batchnorm import _BatchNorm

from ..data import Batch
from ..errors import UserError
from . import aggregate, ranks
from .az_nas import gaussian_input, kaiming_reinit
from .base import proxy, removing

#: Images per score: ``tss_general_.py --batch_size 64`` (Gaussian, ``trainloader=None``).
BATCH = 64
#: Parameter tensors sampled, in ``named_parameters()`` order: ``--params_grad_len 128``.
TENSORS = 128
#: Label smoothing of the predictive distribution: ``cholesky_covariance``'s ``alpha``.
ALPHA = 0.05
#: Deciles of the spectrum the entropy is taken over (``torch.arange(0.1, 1., 0.1)``).
DECILES = 9
#: ``+ 1e-10`` in the normalisation and inside the log (the authors').
EPS = 1e-10


def sampled_parameters(net: nn.Module, count: int = TENSORS) -> list[torch.Tensor]:
    """The authors' sample: the first element (flattened index 0) of each of the first
    ``count`` parameter tensors, in ``named_parameters()`` order (every weight, bias and BN
    affine tensor is one entry; on NB201 ``21 + 45k`` tensors for k convolutions per cell)."""
    return [p for _, p in list(net.named_parameters())[:count]]


def first_element_tangent(
    module: nn.Module, name: str, args: tuple, output: torch.Tensor
) -> torch.Tensor:
    """``∂ module(*args) / ∂ θ``, θ the first element of ``module.<name>`` (a tensor shaped like
    the output). Closed forms for the layers whose output is affine in each parameter (Conv2d
    with zero padding, Linear, eval-mode BatchNorm on running statistics: only channel 0
    moves); forward-mode AD on the module alone (``torch.func.jvp``) for any other."""
    x = args[0] if args else None
    t = torch.zeros_like(output)
    if isinstance(module, nn.Conv2d) and module.padding_mode == "zeros" and x is not None:
        if name == "bias":
            t[:, 0] = 1
        else:  # weight[0, 0, 0, 0]: output channel 0 reads input channel 0 at kernel tap (0, 0)
            tap = torch.zeros((1, 1, *module.kernel_size), dtype=x.dtype, device=x.device)
            tap.view(-1)[0] = 1
            t[:, 0:1] = F.conv2d(
                x[:, 0:1], tap, None, module.stride, module.padding, module.dilation
            )
        return t
    if isinstance(module, nn.Linear) and x is not None:
        t[..., 0] = 1 if name == "bias" else x[..., 0]
        return t
    if (
        isinstance(module, _BatchNorm)
        and not module.training
        and x is not None
        and module.running_mean is not None
    ):
        if name == "bias":
            t[:, 0] = 1
        else:
            t[:, 0] = (x[:, 0] - module.running_mean[0]) / torch.sqrt(
                module.running_var[0] + module.eps
            )
        return t
    p = module._parameters[name]
    direction = torch.zeros_like(p)
    direction.view(-1)[0] = 1
    _, t = jvp(lambda q: functional_call(module, {name: q}, args), (p.detach(),), (direction,))
    return t


def sample_jacobian(
    net: nn.Module, x: torch.Tensor, params: Sequence[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits ``z`` [N, C] of ``x`` in the network's current mode and the per-sample Jacobian
    ``J[n, c, k] = ∂z[n, c] / ∂θ_k`` [N, C, K], θ_k the first element of ``params[k]``.

    The network must treat samples independently (eval-mode BN). Each module owning a sampled
    tensor gets, per sample n, the output ``y_n + δ_{k,n} t_{k,n}`` with ``δ = 0`` and
    ``t = ∂y/∂θ_k`` (forward-mode, on that module alone), so ``∂z/∂δ_{k,n} = ∂z_n/∂θ_k``; a
    module called several times adds the term at every call, a tensor no module uses gets 0.
    """
    n = x.shape[0]
    p0 = next(net.parameters())
    deltas = [torch.zeros(n, dtype=p0.dtype, device=p0.device, requires_grad=True) for _ in params]
    index = {id(p): k for k, p in enumerate(params)}
    owned: dict[nn.Module, list[tuple[str, int]]] = {}
    for module in net.modules():
        for name, p in module._parameters.items():
            if p is not None and id(p) in index:
                owned.setdefault(module, []).append((name, index[id(p)]))
    busy: set[int] = set()

    def perturb(module, args, output):
        if id(module) in busy:  # the tangent's own call of the module
            return None
        if not isinstance(output, torch.Tensor):
            raise UserError(
                f"vkdnw: {type(module).__name__} owns a sampled parameter but returns no tensor"
            )
        frozen = tuple(a.detach() if isinstance(a, torch.Tensor) else a for a in args)
        for name, k in owned[module]:
            busy.add(id(module))
            try:
                t = first_element_tangent(module, name, frozen, output)
            finally:
                busy.discard(id(module))
            output = output + deltas[k].view(-1, *[1] * (output.dim() - 1)) * t.detach()
        return output

    with removing([m.register_forward_hook(perturb) for m in owned]):
        z = net(x)
    columns = []
    for c in range(z.shape[1]):
        g = torch.autograd.grad(
            z[:, c].sum(), deltas, retain_graph=c + 1 < z.shape[1], allow_unused=True
        )
        columns.append(
            torch.stack(
                [
                    torch.zeros(n, dtype=p0.dtype, device=p0.device) if gi is None else gi
                    for gi in g
                ],
                dim=1,
            )
        )
    return z.detach(), torch.stack(columns, dim=1)


def covariance_factor(logits: torch.Tensor, alpha: float = ALPHA) -> torch.Tensor:
    """The authors' ``cholesky_covariance``: per sample, the lower-triangular L [C, C] with
    ``L Lᵀ = diag(p) − p pᵀ`` (Tanabe & Sagae 1992), p the softmax smoothed to
    ``(1 − α) softmax(z) + α/C``: ``q_j = 1 − Σ_{i≤j} p_i`` (q_{C−1} = 0, q_{−1} = 1),
    ``d_j = sqrt(p_j q_j / q_{j−1})``, ``L_jj = d_j``, ``L_ij = −p_i d_j / q_j`` for i > j
    (0 where q_j = 0), 0 above the diagonal. Float64."""
    z = logits.to(torch.float64)
    c = z.shape[1]
    p = torch.softmax(z, dim=1) * (1 - alpha) + alpha / c
    q = 1 - torch.cumsum(p, dim=1)
    q[:, -1] = 0
    q_prev = torch.cat([torch.ones_like(q[:, :1]), q[:, :-1]], dim=1)
    d = torch.sqrt(torch.clamp(p * q / q_prev, min=0))
    safe_q = torch.where(q > 0, q, torch.ones_like(q))
    below = -p.unsqueeze(2) * torch.where(q > 0, d / safe_q, torch.zeros_like(q)).unsqueeze(1)
    strict = torch.tril(torch.ones(c, c, dtype=torch.bool, device=z.device), diagonal=-1)
    return torch.where(strict, below, torch.zeros_like(below)) + torch.diag_embed(d)


def fisher_matrix(logits: torch.Tensor, jacobian: torch.Tensor) -> torch.Tensor:
    """The authors' Fisher matrix [K, K], float64: ``F = mean_n (L_n J_n)ᵀ (L_n J_n)`` with
    L_n :func:`covariance_factor` of sample n and J_n its [C, K] Jacobian.

    As their code computes it: ``(L J)ᵀ(L J) = Jᵀ LᵀL J``. The Fisher information of the
    categorical likelihood the paper states is ``Jᵀ (diag p − p pᵀ) J = Jᵀ L Lᵀ J`` (their
    ``cholesky_covariance`` back-tests ``L Lᵀ``); ``LᵀL`` is not that matrix, and this follows
    the code, which produced the published numbers."""
    a = covariance_factor(logits) @ jacobian.to(torch.float64)
    return (a.transpose(1, 2) @ a).mean(dim=0)


def decile_entropy(eigenvalues: torch.Tensor) -> torch.Tensor:
    """VKDNW's entropy: the deciles ``λ_(0.1), …, λ_(0.9)`` of the spectrum (linear
    interpolation, ``torch.quantile``), ``λ̃ = λ_(·) / (Σ|λ_(·)| + 1e-10)``,
    ``−Σ λ̃ log(λ̃ + 1e-10)``. In [0, log 9]: 0 for a zero spectrum."""
    lam = eigenvalues.to(torch.float64)
    levels = torch.linspace(0.1, 0.9, DECILES, dtype=torch.float64, device=lam.device)
    quant = torch.quantile(lam, levels)
    tilde = quant / (quant.abs().sum() + EPS)
    return -(tilde * torch.log(tilde + EPS)).sum()


@proxy("vkdnw", needs_data=False)
def vkdnw(net: nn.Module, batch: Batch | None = None):
    """VKDNW (Týbl & Neumann, CVPR 2025; the code's ``vkdnw_entropy``): the
    :func:`decile_entropy` of the eigenvalues (the code's singular values, i.e. their absolute
    values) of :func:`fisher_matrix`, for the first element of each of the first 128 parameter
    tensors (:func:`sampled_parameters`), 64 standard-Gaussian images, after the authors' Kaiming
    re-initialisation (:func:`.az_nas.kaiming_reinit`, undone afterwards), BN in eval mode (the
    code's ``model.eval()``: the network's running statistics, fresh ones on a new network)."""
    with kaiming_reinit(net):
        x = gaussian_input(net, BATCH)
        net.eval()
        logits, jac = sample_jacobian(net, x, sampled_parameters(net))
        lam = torch.linalg.eigvalsh(fisher_matrix(logits, jac)).abs()
    return decile_entropy(lam)


def dense_ranks(keys: Sequence[tuple]) -> np.ndarray:
    """1-based dense ranks of tuples, ascending in lexicographic order (pandas'
    ``.rank(method='dense')`` of a column of tuples): equal tuples share a rank, the next
    distinct tuple gets the next integer."""
    order = sorted(set(keys))
    position = {key: i + 1 for i, key in enumerate(order)}
    return np.array([position[k] for k in keys], dtype=np.float64)


def single_ranks(layers: Sequence[float], entropy: Sequence[float]) -> np.ndarray:
    """VKDNW_single (the code's ``vkdnw_rank``): the dense rank of ``(ℵ, VKDNW)`` in
    lexicographic order: the number of trainable layers first, the entropy among ties."""
    return dense_ranks(list(zip(map(float, layers), map(float, entropy), strict=True)))


@aggregate("vkdnw_single", ("trainable_layers", "vkdnw"))
def vkdnw_single(columns: Sequence[Sequence[float]]) -> np.ndarray:
    """VKDNW_single of Table 1: :func:`single_ranks` of ℵ (``trainable_layers``, the code's
    ``vkdnw_dim``) and ``vkdnw``."""
    layers, entropy = columns
    return single_ranks(layers, entropy)


@aggregate(
    "vkdnw_agg",
    ("trainable_layers", "vkdnw", "jacob_cov", "az_expressivity", "az_trainability", "flops"),
)
def vkdnw_agg(columns: Sequence[Sequence[float]]) -> np.ndarray:
    """VKDNW_agg of Table 1 (the code's ``vkdnw_comb_rank``, the ``flops_expressivity_
    trainability_jacov_vkdnw_`` row of ``paper_preparation.ipynb``'s "Ablation: add
    components"): ``log rank(VKDNW_single) + Σ_{jacov, AZ expressivity, AZ trainability, FLOPs}
    log rank``, VKDNW_single's rank dense (:func:`single_ranks`), the others ascending with ties
    at their average rank (pandas' ``.rank()``), -inf lowest. The authors replace a NaN jacov
    by the column's minimum (a tie with it); ``jacob_cov`` scores such a network -inf, just
    below it."""
    layers, entropy, *others = columns
    return np.log(single_ranks(layers, entropy)) + sum(np.log(ranks(c)) for c in others)
