"""The Siamese co-segmentation network and the FCN-32 baseline (Agarwal et al. 2020).

``CosegNet``: one encoder (a dilated ResNet from ``wsbench.nn``; DRN-101 is ResNet-101
at output stride 8, DRN-MG-101 adds multi-grid rates 2/4/8 on its last stage) applied
to both images, the pair attention in the bottleneck (``attention.PairAttention``) and
one decoder applied to each attended map:

- ``d1``: the decoder of Chen et al. 2018 with fewer convolutions: a 1x1 reduction,
  then per factor of two a bilinear 2x upsampling and one 3x3 conv-BN-ReLU (channels
  halving), then a 1x1 classifier;
- ``d2``: the DeepLabV3+ decoder (core ``DeepLabV3PlusDecoder``) on the attended map
  and the image's own stride-4 features, upsampled 4x.

``FCN32``: the same encoder, FCN's head (3x3 conv-BN-ReLU, dropout 0.1, 1x1 classifier)
on the deepest map and one bilinear upsampling to the input (no skip connections).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from wsbench.nn.backbones import build_backbone
from wsbench.nn.heads import DeepLabV3PlusDecoder

from .attention import PairAttention

DECODERS = ("d1", "d2")


def _cbr(cin: int, cout: int, k: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)
    )


class D1Decoder(nn.Module):
    def __init__(self, channels: int, num_classes: int, width: int, stride: int):
        super().__init__()
        steps = int(round(math.log2(stride)))
        layers: list[nn.Module] = [_cbr(channels, width, 1)]
        for _ in range(steps):
            layers += [
                nn.Upsample(scale_factor=2, mode="bilinear"),
                _cbr(width, max(8, width // 2), 3),
            ]
            width = max(8, width // 2)
        self.body = nn.Sequential(*layers)
        self.classifier = nn.Conv2d(width, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.body(x))


def encoder(name: str, output_stride: int, multi_grid: tuple[int, ...]) -> nn.Module:
    return build_backbone(name, output_stride, multi_grid, in_channels=1)


class CosegNet(nn.Module):
    """``forward(a, b) -> (logits_a, logits_b)`` at the input size."""

    def __init__(
        self,
        backbone: nn.Module,
        num_classes: int,
        attention: PairAttention,
        decoder: str = "d1",
        width: int = 256,
        aspp_rates: tuple[int, ...] = (12, 24, 36),
    ):
        super().__init__()
        self.backbone, self.attention, self.decoder_name = backbone, attention, decoder
        ch = backbone.channels
        if decoder == "d1":
            self.decoder = D1Decoder(ch["c4"], num_classes, width, backbone.strides["c4"])
        else:
            self.decoder = DeepLabV3PlusDecoder(
                ch["c1"],
                ch["c4"],
                num_classes,
                aspp_rates,
                aspp_channels=width,
                decoder_channels=width,
            )

    def decode(self, feats: dict[str, torch.Tensor], attended: torch.Tensor, size) -> torch.Tensor:
        if self.decoder_name == "d1":
            logits = self.decoder(attended)
        else:
            logits = self.decoder(feats["c1"], attended)
        return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = a.shape[0]
        feats = self.backbone(torch.cat([a, b]))  # one pass: the encoder is shared
        fa, fb = self.attention(feats["c4"][:n], feats["c4"][n:])
        logits = self.decode(feats, torch.cat([fa, fb]), a.shape[-2:])
        return logits[:n], logits[n:]


class FCN32(nn.Module):
    def __init__(self, backbone: nn.Module, num_classes: int, width: int = 512):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Sequential(
            _cbr(backbone.channels["c4"], width, 3),
            nn.Dropout(0.1),
            nn.Conv2d(width, num_classes, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.head(self.backbone(x)["c4"])
        return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)
