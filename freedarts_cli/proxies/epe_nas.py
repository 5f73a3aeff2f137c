"""EPE-NAS (Lopes, Alirezazadeh, Alexandre, \"EPE-NAS: Efficient Performance Estimation Without
Training for Neural Architecture Search\", ICANN 2021): NASWOT's input Jacobians, correlated
within each class."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..data import Batch
from .base import data, proxy
from .shared import BATCH

K = 1e-5  # the authors' k inside the log


def per_class_score(jac: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``Σ_c |Σ_{i,j ∈ c} log(|ρ_ij| + k)|`` in float64: ρ the Pearson correlation between the
    rows (images) of ``jac`` [N, D], i and j images of the same class c; classes absent from the
    batch add nothing. A class with one image has ρ = [[1]] and adds log(1 + k), as
    ``np.corrcoef`` of one row does in the authors' code. -inf when some row is constant (its
    correlations are undefined: NaN in the authors' code, which then never picks the network)."""
    jac = jac.reshape(len(jac), -1).to(torch.float64)
    centred = jac - jac.mean(dim=1, keepdim=True)
    norms = centred.norm(dim=1)
    degenerate = (norms == 0).any()
    z = centred / torch.where(norms == 0, 1.0, norms)[:, None]
    corr = (z @ z.T).clamp(-1.0, 1.0)  # np.corrcoef clips to [-1, 1] too
    same = labels[:, None] == labels[None, :]
    terms = torch.where(same, torch.log(corr.abs() + K), 0.0).sum(dim=1)  # per image i
    classes = torch.zeros(int(labels.max()) + 1, dtype=torch.float64, device=jac.device)
    per_class = classes.index_add(0, labels, terms)
    return torch.where(degenerate, -math.inf, per_class.abs().sum())


@proxy(
    "epe_nas",
    needs_data=True,
    needs_labels=True,
    floor=True,
    uses=BATCH,
    reads=("input_jacobian",),
)
def epe_nas(net: nn.Module, batch: Batch, shared: dict):
    """EPE-NAS (Lopes et al., ICANN 2021; the per-class score of the paper's method section as
    the authors' ``search.py`` computes it, ``eval_score_perclass`` with its default
    ``n_classes=10``, i.e. the sum-of-absolute-values branch): ``J_n = ∂(Σ_k f_k(x_n))/∂x_n``
    (one backward of the summed logits, BN in train mode as the authors' freshly built network),
    ``S = Σ_c |Σ_{i,j: y_i = y_j = c} log(|corr(J_i, J_j)| + 10⁻⁵)|``; see
    :func:`per_class_score`.

    A network whose output ignores its input (zero Jacobians) scores -inf, the lowest.
    Deviation: the authors used 256 images (``--evaluate_size 256``); here the batch given.
    """
    _, y = data(net, batch)
    return per_class_score(shared["input_jacobian"], y)
