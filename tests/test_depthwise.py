import pytest
import torch
import torch.nn.functional as F

from freedarts_cli.depthwise import DepthwiseConv2d


@pytest.mark.parametrize(
    "batch,channels,height,width,kernel,stride,padding,dilation",
    [
        (1, 16, 32, 32, 3, 1, 1, 1),  # sep_conv_3x3
        (1, 16, 32, 32, 5, 1, 2, 1),  # sep_conv_5x5
        (1, 8, 16, 16, 3, 1, 2, 2),  # dil_conv_3x3
        (1, 8, 16, 16, 5, 1, 4, 2),  # dil_conv_5x5
        (2, 6, 15, 17, 3, 2, 1, 1),  # stride 2, odd and unequal sizes, a batch
        (3, 4, 12, 9, 5, 2, 4, 2),  # stride 2 and dilation
        (2, 5, 9, 11, 7, 2, 3, 1),  # MobileNet's 7x7
        (1, 3, 8, 8, 3, 1, 0, 1),  # no padding
    ],
)
def test_float64_taps_equal_pytorchs_depthwise_conv(
    batch, channels, height, width, kernel, stride, padding, dilation
):
    torch.manual_seed(0)
    conv = DepthwiseConv2d(channels, kernel, stride, padding, dilation).double()
    x = torch.randn(batch, channels, height, width, dtype=torch.float64, requires_grad=True)
    ours = conv(x)
    theirs = F.conv2d(x, conv.weight, None, stride, padding, dilation, groups=channels)
    assert ours.shape == theirs.shape
    assert torch.allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    upstream = torch.randn_like(ours)
    grads = torch.autograd.grad((ours * upstream).sum(), (x, conv.weight))
    expected = torch.autograd.grad((theirs * upstream).sum(), (x, conv.weight))
    for g, e in zip(grads, expected, strict=True):
        assert torch.allclose(g, e, rtol=1e-10, atol=1e-12)


def test_input_gradient_alone_is_what_the_scores_need():
    conv = DepthwiseConv2d(4, 3, 1, 1).double().requires_grad_(False)
    x = torch.randn(1, 4, 6, 6, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(conv(x).sum(), x)
    (e,) = torch.autograd.grad(F.conv2d(x, conv.weight, None, 1, 1, 1, 4).sum(), x)
    assert torch.allclose(g, e, rtol=1e-12)


def test_float32_uses_pytorchs_kernel():
    conv = DepthwiseConv2d(4, 3, 2, 1)
    x = torch.randn(1, 4, 7, 7)
    assert torch.equal(conv(x), F.conv2d(x, conv.weight, None, 2, 1, 1, 4))
    assert conv.weight.shape == (4, 1, 3, 3) and conv.bias is None


@pytest.mark.parametrize("stride,dilation", [(1, 1), (2, 2)])
def test_second_derivatives_for_grasp(stride, dilation):
    # GraSP-α differentiates the gradient again (Hessian-vector product): the tap kernel's
    # backward must itself be differentiable.
    torch.manual_seed(0)
    conv = DepthwiseConv2d(3, 3, stride, dilation, dilation).double()
    x = torch.randn(2, 3, 6, 7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(conv, (x,))
    assert torch.autograd.gradgradcheck(conv, (x,))
