"""Heads shared by paper plugins: ASPP, FPN and the DeepLabV3+ decoder.

ASPP and FPN are torchvision's own modules behind a small, named interface; the
DeepLabV3+ decoder follows Chen et al. (ECCV 2018, §3.1): ASPP on the deep features,
4x bilinear upsampling, concatenation with 1x1-reduced (48 channels) low-level
features at stride 4, two 3x3 convolutions and a 1x1 classifier.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.segmentation.deeplabv3 import ASPP as _TorchvisionASPP
from torchvision.ops import FeaturePyramidNetwork

ASPP_RATES_OS16 = (6, 12, 18)  # DeepLabV3 at output stride 16
ASPP_RATES_OS8 = (12, 24, 36)  # doubled at output stride 8


def aspp_rates(output_stride: int) -> tuple[int, int, int]:
    """DeepLabV3's atrous rates for an output stride (16: 6/12/18, 8: 12/24/36)."""
    return ASPP_RATES_OS8 if output_stride == 8 else ASPP_RATES_OS16


class ASPP(_TorchvisionASPP):
    """Atrous spatial pyramid pooling: a 1x1 branch, one 3x3 branch per rate in ``rates``,
    image pooling, then a 1x1 projection to ``out_channels`` (dropout 0.5, as torchvision).
    Its pooling branch holds batch norm on a 1x1 map: train it on batches of two or more."""

    def __init__(
        self, in_channels: int, rates: Sequence[int] = ASPP_RATES_OS16, out_channels: int = 256
    ):
        super().__init__(in_channels, list(rates), out_channels)
        self.rates, self.out_channels = tuple(rates), out_channels


class FPN(nn.Module):
    """Feature pyramid (Lin et al. 2017) over named maps, finest first: ``forward({"c1": ...,
    "c4": ...})`` returns the same keys, each with ``out_channels`` channels."""

    def __init__(self, in_channels: Sequence[int], out_channels: int = 256):
        super().__init__()
        self.fpn = FeaturePyramidNetwork(list(in_channels), out_channels)
        self.out_channels = out_channels

    def forward(self, features: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return dict(self.fpn(OrderedDict(features)))


def _conv_bn_relu(cin: int, cout: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class DeepLabV3PlusDecoder(nn.Module):
    """ASPP on ``high`` features, upsampled to the ``low`` features' grid, merged with them
    and classified: ``forward(low, high) -> logits`` at the low-level resolution."""

    def __init__(
        self,
        low_channels: int,
        high_channels: int,
        num_classes: int,
        rates: Sequence[int] = ASPP_RATES_OS16,
        aspp_channels: int = 256,
        low_reduced: int = 48,
        decoder_channels: int = 256,
    ):
        super().__init__()
        self.aspp = ASPP(high_channels, rates, aspp_channels)
        self.reduce = _conv_bn_relu(low_channels, low_reduced, 1)
        self.fuse = nn.Sequential(
            _conv_bn_relu(aspp_channels + low_reduced, decoder_channels, 3),
            _conv_bn_relu(decoder_channels, decoder_channels, 3),
        )
        self.classifier = nn.Conv2d(decoder_channels, num_classes, 1)

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        context = self.aspp(high)
        context = F.interpolate(context, size=low.shape[-2:], mode="bilinear", align_corners=False)
        return self.classifier(self.fuse(torch.cat([context, self.reduce(low)], dim=1)))


class DeepLabV3Plus(nn.Module):
    """A backbone (``wsbench.nn.backbones``) and the DeepLabV3+ decoder on its ``c1`` and
    ``c4`` maps; logits are upsampled bilinearly to the input size."""

    def __init__(self, backbone: nn.Module, num_classes: int, rates: Sequence[int], **decoder):
        super().__init__()
        self.backbone = backbone
        ch = backbone.channels
        self.decoder = DeepLabV3PlusDecoder(ch["c1"], ch["c4"], num_classes, rates, **decoder)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.backbone(x)
        logits = self.decoder(features["c1"], features["c4"])
        return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)
