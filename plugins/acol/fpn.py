"""ResNet + FPN backbone: P2..P5 from C2..C5 (Fan et al. 2022 §3.2, Lin et al. 2017)."""

from __future__ import annotations

from collections import OrderedDict

import torch
import torchvision
from torch import nn
from torchvision.ops import FeaturePyramidNetwork

from wsbench.errors import ParameterError

BACKBONES = ("resnet18", "resnet34", "resnet50", "resnet101")


class ResNetFPN(nn.Module):
    """A torchvision ResNet (random init, ``in_channels`` input planes) and an FPN on its four
    stages. ``forward`` returns ``{2: P2, 3: P3, 4: P4, 5: P5}`` at strides 4, 8, 16, 32."""

    def __init__(self, depth: str = "resnet50", out_channels: int = 256, in_channels: int = 1):
        super().__init__()
        if depth not in BACKBONES:
            raise ParameterError(
                f"backbone {depth!r} is not known; choose one of {', '.join(BACKBONES)}"
            )
        net = getattr(torchvision.models, depth)(weights=None)
        if in_channels != 3:  # CT slices are one plane; no ImageNet weights to keep anyway
            net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        self.stages = nn.ModuleList([net.layer1, net.layer2, net.layer3, net.layer4])
        widths = [_stage_width(stage) for stage in self.stages]
        self.fpn = FeaturePyramidNetwork(widths, out_channels)
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        x = self.stem(x)
        c = OrderedDict()
        for level, stage in enumerate(self.stages, start=2):
            x = stage(x)
            c[str(level)] = x
        return {int(k): v for k, v in self.fpn(c).items()}


def _stage_width(stage: nn.Sequential) -> int:
    last = stage[-1]
    conv = getattr(last, "conv3", None) or last.conv2  # Bottleneck or BasicBlock
    return conv.out_channels
