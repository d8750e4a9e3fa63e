"""DeepLabV3+ (Chen et al. 2018) on a dilated backbone, trained slice-wise.

The segmenter of paper 004 (SIIM-ACR: DeepLabV3+ on ResNet-50, positive-weighted BCE,
balanced sampling) and decoder D2 of paper 001. Built from ``wsbench.nn``: a dilated
ResNet or VGG16 backbone, ASPP with the given rates, and the decoder that merges the
stride-4 features. ``backbone_weights`` names a local torchvision state dict; nothing is
downloaded. Grey slices go through a one-plane first convolution (RGB weights are summed
over colours).

Quick-profile deviation: ResNet-18 at output stride 16 with 64-channel ASPP and decoder,
so it trains on a CPU in seconds; the paper profile is ResNet-50 with the paper's 256.
"""

from __future__ import annotations

from typing import Any, ClassVar

from torch import nn

from wsbench.errors import ParameterError
from wsbench.nn.backbones import BACKBONES, build_backbone
from wsbench.nn.heads import DeepLabV3Plus, aspp_rates
from wsbench.params import Param, at_least
from wsbench.segmenters.slices import TRAIN_PARAMS, SliceSegmenter


def parse_ints(text: str, key: str) -> tuple[int, ...]:
    """``"6,12,18"`` -> ``(6, 12, 18)``; one-line ``ParameterError`` otherwise."""
    try:
        values = tuple(int(part) for part in str(text).split(","))
    except ValueError:
        raise ParameterError(
            f"{key}={text!r} must be comma-separated integers, e.g. 6,12,18"
        ) from None
    if not values or min(values) < 1:
        raise ParameterError(f"{key}={text!r} must be positive integers")
    return values


class DeepLabV3PlusSegmenter(SliceSegmenter):
    name = "deeplabv3plus"
    version = "0.2.0"  # softmax heads start from the class prior (sigmoid_prior)
    in_default_grid = False  # as long as deeplabv3 again: the default run stays a quick demo
    citation = (
        "Chen L-C, Zhu Y, Papandreou G, Schroff F, Adam H. Encoder-Decoder with Atrous "
        "Separable Convolution for Semantic Image Segmentation. ECCV 2018."
    )
    params = TRAIN_PARAMS + (
        Param("backbone", "resnet50", "backbone network", choices=BACKBONES),
        Param("output_stride", 16, "input size / deepest feature size", choices=(8, 16)),
        Param(
            "multi_grid",
            "1",
            "dilation multipliers of the last ResNet stage's blocks, e.g. 1,2,4 (DeepLabV3)",
            type=str,
        ),
        Param(
            "aspp_rates",
            "auto",
            "ASPP atrous rates, e.g. 6,12,18; auto = 6,12,18 at stride 16, 12,24,36 at 8",
            type=str,
        ),
        Param("aspp_channels", 256, "channels of ASPP and of the decoder", **at_least(8)),
        Param(
            "backbone_weights",
            "",
            "local torchvision state dict of the backbone (ImageNet); empty = random init",
            type=str,
        ),
    )
    profiles: ClassVar[dict[str, dict[str, Any]]] = {
        "quick": {
            "backbone": "resnet18",
            "output_stride": 16,
            "aspp_channels": 64,
            "epochs": 4,
            "batch_size": 8,
            "lr": 2e-3,
        },
        # paper 004, SIIM-ACR: SGD lr 6e-5 momentum 0.9 weight decay 1e-6, 512 x 512, batch 48
        "paper": {
            "backbone": "resnet50",
            "output_stride": 16,
            "optimizer": "sgd",
            "lr": 6e-5,
            "momentum": 0.9,
            "weight_decay": 1e-6,
            "batch_size": 48,
            "epochs": 50,
            "image_size": 512,
        },
    }

    def build_model(self, in_channels: int, out_channels: int) -> nn.Module:
        p = self.p
        rates = (
            aspp_rates(p["output_stride"])
            if p["aspp_rates"] == "auto"
            else parse_ints(p["aspp_rates"], f"{self.name}.aspp_rates")
        )
        backbone = build_backbone(
            p["backbone"],
            p["output_stride"],
            parse_ints(p["multi_grid"], f"{self.name}.multi_grid"),
            in_channels=in_channels,
        )
        width = p["aspp_channels"]
        return DeepLabV3Plus(
            backbone, out_channels, rates, aspp_channels=width, decoder_channels=width
        )

    def initialise(self, model: nn.Module) -> None:
        path = self.p["backbone_weights"]
        if path:
            model.backbone.load_weights(path, f"{self.name}.backbone_weights")
