"""A plain, small 2D U-Net (Ronneberger et al. 2015) trained slice-wise."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from wsbench.nn.seresnext import SEResNeXtUNet
from wsbench.params import Param, in_range
from wsbench.segmenters.slices import TRAIN_PARAMS, SliceSegmenter


def _double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """Encoder of ``depth`` poolings, channels ``width * 2**level``, skip connections,
    transposed-convolution upsampling. Inputs of any size are padded to a multiple of
    ``2**depth`` and the output cropped back."""

    def __init__(self, in_channels: int, out_channels: int, width: int = 16, depth: int = 3):
        super().__init__()
        self.depth = depth
        chans = [width * 2**level for level in range(depth + 1)]
        self.down = nn.ModuleList(
            [_double_conv(in_channels, chans[0])]
            + [_double_conv(chans[i], chans[i + 1]) for i in range(depth)]
        )
        self.up = nn.ModuleList(
            [
                nn.ConvTranspose2d(chans[i + 1], chans[i], 2, stride=2)
                for i in reversed(range(depth))
            ]
        )
        self.merge = nn.ModuleList(
            [_double_conv(2 * chans[i], chans[i]) for i in reversed(range(depth))]
        )
        self.head = nn.Conv2d(chans[0], out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        multiple = 2**self.depth
        pad_h, pad_w = -height % multiple, -width % multiple
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        skips = []
        for level, block in enumerate(self.down):
            x = block(x if level == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        skips.pop()
        for up, merge in zip(self.up, self.merge):
            x = merge(torch.cat([skips.pop(), up(x)], dim=1))
        return self.head(x)[..., :height, :width]


class UNetSegmenter(SliceSegmenter):
    name = "unet"
    version = "0.2.0"  # softmax heads start from the class prior (sigmoid_prior)
    citation = (
        "Ronneberger O, Fischer P, Brox T. U-Net: Convolutional Networks for Biomedical Image "
        "Segmentation. MICCAI 2015."
    )
    params = TRAIN_PARAMS + (
        Param("width", 16, "channels of the first level (doubled per level)", **in_range(1, 512)),
        Param("depth", 3, "number of 2x poolings", **in_range(1, 6)),
        Param(
            "encoder",
            "plain",
            "plain: the small U-Net above (width, depth); se_resnext50: an SE-ResNeXt-50 "
            "encoder with a five-level decoder (paper 004's best SIIM-ACR segmenter), random "
            "init",
            choices=("plain", "se_resnext50"),
        ),
    )
    profiles: ClassVar[dict[str, dict[str, Any]]] = {
        # at least 200 optimiser steps: a small dataset is not starved (benchmarks/quick_budget.py)
        "quick": {
            "epochs": 12,
            "min_steps": 200,
            "batch_size": 8,
            "lr": 3e-3,
            "width": 8,
            "depth": 3,
        },
        # Fan et al. 2022 (Table 1's U-Net row) states no U-Net settings. Sources: width 64
        # and depth 4 are the U-Net of Ronneberger et al. 2015 (Fig. 1); 512 x 512 slices
        # are Fan et al. 2022's image size (§3.1). Not stated anywhere; defaults: 50 epochs
        # and batch 6 (Fan et al.'s DeepLabV3 schedule, §3.3), Adam at lr 1e-3 (wsbench's).
        "paper": {
            "epochs": 50,
            "batch_size": 6,
            "lr": 1e-3,
            "width": 64,
            "depth": 4,
            "image_size": 512,
        },
    }

    def build_model(self, in_channels: int, out_channels: int) -> nn.Module:
        if self.p["encoder"] == "se_resnext50":
            return SEResNeXtUNet(in_channels, out_channels)
        return UNet(in_channels, out_channels, self.p["width"], self.p["depth"])
