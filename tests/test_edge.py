import torch

from freedarts_cli.edge import MixedEdge, WeightedSum
from freedarts_cli.op import NB201_OPS

OPS = list(NB201_OPS)


def _edge_and_input():
    torch.manual_seed(0)
    edge = MixedEdge([make(4) for make in NB201_OPS.values()]).double()
    x = torch.randn(3, 4, 6, 6, dtype=torch.float64, requires_grad=True)
    alpha = torch.randn(len(OPS), dtype=torch.float64, requires_grad=True)
    return edge, x, alpha


def test_mixed_edge_is_the_raw_alpha_weighted_sum_none_included():
    edge, x, alpha = _edge_and_input()
    ours = edge(x, list(alpha.unbind()), list(range(len(OPS))))
    full = sum(alpha[k] * op(x) for k, op in enumerate(edge.ops))  # none's 0·x too
    assert torch.allclose(ours, full, rtol=1e-14, atol=1e-15)
    upstream = torch.randn_like(ours)
    g_ours = torch.autograd.grad(ours, (x, alpha), upstream)
    g_full = torch.autograd.grad(full, (x, alpha), upstream)
    for a, b in zip(g_ours, g_full, strict=True):
        assert torch.allclose(a, b, rtol=1e-12, atol=0)
    assert g_ours[1][OPS.index("none")] == 0  # none's α gets the exact zero it always had


def test_an_edge_left_with_only_none_outputs_zeros_of_its_input_shape():
    edge, x, alpha = _edge_and_input()
    out = edge(x, list(alpha.unbind()), [OPS.index("none")])
    assert out.shape == x.shape and not out.any()
    (g,) = torch.autograd.grad(out.sum(), alpha)
    assert g[OPS.index("none")] == 0


def test_weighted_sum_gradients_of_first_and_second_order():
    """The hand-written backward (∂/∂y = w·g, ∂/∂w = ⟨g, y⟩) and GraSP-α's derivative of it."""
    torch.manual_seed(1)
    w = torch.randn(3, dtype=torch.float64, requires_grad=True)
    ys = [torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True) for _ in range(3)]
    f = lambda w, *ys: WeightedSum.apply(w, *ys) ** 2  # noqa: E731
    assert torch.autograd.gradcheck(f, (w, *ys))
    assert torch.autograd.gradgradcheck(f, (w, *ys))
