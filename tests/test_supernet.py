import math

import torch
from torch import nn

from freedarts_cli.spaces.nb201 import NB201Space


def build(seed=0):
    torch.manual_seed(seed)
    return NB201Space(N=1).build_supernet(1e-3, torch.float64, torch.device("cpu"))


def test_every_floating_tensor_but_alpha_lives_in_the_flat_weights():
    net = build()
    flat = net._flat
    lo, hi = flat.data_ptr(), flat.data_ptr() + flat.numel() * flat.element_size()
    covered = 0
    for name, t in net.state_dict().items():
        if not t.is_floating_point():
            continue
        if name == "alpha":
            continue
        assert lo <= t.data_ptr() < hi, name
        covered += t.numel()
    assert covered == flat.numel()


def test_initialisation_follows_pytorch_defaults():
    net = build()
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            bound = 1 / math.sqrt(m.weight[0].numel())
            assert m.weight.abs().max() <= bound
            assert m.weight.abs().max() > 0.8 * bound  # really spread over the range
        if isinstance(m, nn.BatchNorm2d):
            assert torch.all(m.running_mean == 0) and torch.all(m.running_var == 1)
            if m.affine:
                assert torch.all(m.weight == 1) and torch.all(m.bias == 0)
    assert net.classifier.bias.abs().max() <= 1 / math.sqrt(64)


def test_reinitialise_draws_new_weights_and_alpha_deterministically():
    a, b = build(3), build(3)
    assert torch.equal(a._flat, b._flat) and torch.equal(a.alpha, b.alpha)
    before = a._flat.clone()
    a.initialise()
    assert not torch.equal(a._flat, before)


def test_absolute_is_restored_and_parameters_stay_views():
    net = build()
    w = net.cells[0].edges[0].ops[3][1].weight
    before = w.detach().clone()
    with net.absolute():
        assert torch.all(w >= 0) and torch.all(net.alpha >= 0)
    assert torch.equal(w, before) and (before < 0).any()
    assert w.data_ptr() >= net._flat.data_ptr()


def test_softmax_mixing_equals_raw_mixing_by_softmax_alpha():
    """DARTS mixing (``softmax=True``, BaLeNAS) is the raw mixing of FreeDARTS with α replaced by
    softmax(α) over the ops still present."""
    net = build()
    net.remove(0, 1)
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    net.train()
    net.softmax = True
    with torch.no_grad():
        net.alpha.mul_(300)  # far from uniform
        mixed = net(x)
        weights = net.alpha.masked_fill(~net.mask, float("-inf")).softmax(dim=-1)
        net.alpha.copy_(weights)
    net.softmax = False
    with torch.no_grad():
        assert torch.allclose(net(x), mixed, rtol=1e-10, atol=1e-12)
