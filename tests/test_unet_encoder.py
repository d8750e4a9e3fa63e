"""The core unet's se_resnext50 encoder option (paper 004's SIIM-ACR segmenter)."""

from __future__ import annotations

import torch

from wsbench.nn.seresnext import SEResNeXtUNet, SqueezeExcite, se_resnext50
from wsbench.segmenters.unet import UNet, UNetSegmenter


def test_se_resnext50_has_32_groups_and_se_on_every_bottleneck():
    net = se_resnext50(in_channels=1)
    blocks = [b for layer in (net.layer1, net.layer2, net.layer3, net.layer4) for b in layer]
    assert len(blocks) == 16  # 3 + 4 + 6 + 3 bottlenecks
    assert all(isinstance(b.bn3[1], SqueezeExcite) for b in blocks)
    assert all(b.conv2.groups == 32 for b in blocks)


def test_squeeze_excite_gates_channels_in_0_1():
    se = SqueezeExcite(32, reduction=16)
    x = torch.rand(2, 32, 5, 5) + 0.1
    y = se(x)
    ratio = y / x
    assert torch.all(ratio > 0) and torch.all(ratio < 1)
    torch.testing.assert_close(ratio, ratio[:, :, :1, :1].expand_as(ratio))  # one gate per channel


def test_unet_encoder_option_builds_and_predicts_at_the_input_size():
    seg = UNetSegmenter("quick", encoder="se_resnext50")
    model = seg.build_model(1, 2)
    assert isinstance(model, SEResNeXtUNet)
    with torch.no_grad():
        out = model.eval()(torch.randn(1, 1, 40, 52))
    assert out.shape == (1, 2, 40, 52)
    assert isinstance(UNetSegmenter("quick").build_model(1, 2), UNet)  # plain stays the default
