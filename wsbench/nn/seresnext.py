"""SE-ResNeXt-50 (32x4d) encoder and a U-Net decoder on it: paper 004's best SIIM-ACR segmenter.

SE-ResNeXt-50 is torchvision's ResNeXt-50 32x4d (Xie et al. 2017) with a squeeze-and-
excitation block (Hu et al. 2018, reduction 16) on the residual branch of every bottleneck,
before the addition. ``SEResNeXtUNet`` reads the encoder's stem and four stages (strides 2,
4, 8, 16, 32), upsamples by 2 five times, concatenating the skip of the same stride, and
predicts at the input size; inputs are padded to a multiple of 32. Random init, one input
plane; nothing is downloaded.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torchvision
from torch import nn


class SqueezeExcite(nn.Module):
    """Channel gates ``sigmoid(W2 ReLU(W1 GAP(x)))`` (Hu et al. 2018)."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.fc2(F.relu(self.fc1(x.mean(dim=(2, 3), keepdim=True)))))
        return x * gate


def se_resnext50(in_channels: int = 1) -> nn.Module:
    """ResNeXt-50 32x4d with SE on every bottleneck; ``avgpool``/``fc`` removed."""
    net = torchvision.models.resnext50_32x4d(weights=None)
    del net.avgpool, net.fc
    if in_channels != 3:
        net.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
    for layer in (net.layer1, net.layer2, net.layer3, net.layer4):
        for block in layer:
            block.bn3 = nn.Sequential(block.bn3, SqueezeExcite(block.bn3.num_features))
    return net


def _conv_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class SEResNeXtUNet(nn.Module):
    """U-Net with an SE-ResNeXt-50 encoder; decoder widths ``decoder`` (deep to shallow)."""

    skips = (1024, 512, 256, 64, 0)  # stage 3, 2, 1, stem, none

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        decoder: tuple[int, ...] = (256, 128, 64, 32, 16),
    ):
        super().__init__()
        self.encoder = se_resnext50(in_channels)
        blocks, cin = [], 2048
        for skip, width in zip(self.skips, decoder, strict=True):
            blocks.append(_conv_block(cin + skip, width))
            cin = width
        self.decoder = nn.ModuleList(blocks)
        self.head = nn.Conv2d(cin, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        pad_h, pad_w = -height % 32, -width % 32
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        n = self.encoder
        stem = n.relu(n.bn1(n.conv1(x)))
        c1 = n.layer1(n.maxpool(stem))
        c2 = n.layer2(c1)
        c3 = n.layer3(c2)
        y = n.layer4(c3)
        for block, skip in zip(self.decoder, (c3, c2, c1, stem, None), strict=True):
            y = F.interpolate(y, scale_factor=2, mode="nearest")
            y = block(y if skip is None else torch.cat([y, skip], dim=1))
        return self.head(y)[..., :height, :width]
