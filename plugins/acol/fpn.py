"""ResNet + FPN backbone: P2..P5 from C2..C5 (Fan et al. 2022 §3.2, Lin et al. 2017), built
from the shared blocks of ``wsbench.nn`` (a ResNet without dilation and the FPN head)."""

from __future__ import annotations

import torch
from torch import nn

from wsbench.errors import ParameterError
from wsbench.nn.backbones import ResNetBackbone
from wsbench.nn.heads import FPN

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
        # CT slices are one plane; no ImageNet weights to keep anyway
        self.backbone = ResNetBackbone(depth, output_stride=32, in_channels=in_channels)
        net = self.backbone.net
        widths = [_stage_width(stage) for stage in (net.layer1, net.layer2, net.layer3, net.layer4)]
        self.fpn = FPN(widths, out_channels)
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        c = self.backbone(x)  # c1..c4: strides 4..32
        return {level: p for level, p in zip(range(2, 6), self.fpn(c).values())}


def _stage_width(stage: nn.Sequential) -> int:
    last = stage[-1]
    conv = getattr(last, "conv3", None) or last.conv2  # Bottleneck or BasicBlock
    return conv.out_channels
