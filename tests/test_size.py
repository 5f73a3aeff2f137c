import pytest
from torch import nn

from freedarts_cli.size import macs_m, params_m


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)  # 8x8 out
        self.dw = nn.Conv2d(8, 8, 5, padding=2, groups=8, bias=False)  # depthwise
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 10)
        self.auxiliary = nn.Linear(8, 10)  # DARTS' auxiliary head: not counted

    def forward(self, x):
        x = self.bn(self.dw(self.conv(x))).mean(dim=(2, 3))
        return self.fc(x)


def test_params_leave_out_the_auxiliary_head():
    expected = 3 * 8 * 9 + 8 * 25 + 2 * 8 + 8 * 10 + 10
    assert params_m(Tiny()) == pytest.approx(expected / 1e6)


def test_macs_count_convolutions_and_linear_layers_only():
    # conv: 8x8 outputs x 8 channels x (3 x 3 x 3); depthwise: 8x8x8 x 25; fc: 8 x 10
    expected = 64 * 8 * 27 + 64 * 8 * 25 + 80
    model = Tiny().train()
    assert macs_m(model, (3, 16, 16)) == pytest.approx(expected / 1e6)
    assert model.training  # restored
