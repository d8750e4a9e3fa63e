"""DeepLabV3 (Chen et al. 2017) from torchvision, trained slice-wise: paper 000 §3.3.

Grey slices are repeated to three channels. ``backbone_weights`` names a local file with
an ImageNet ResNet state dict (torchvision layout); nothing is ever downloaded.

Quick-profile deviation: ``backbone=resnet18`` keeps the DeepLabV3 design (dilated
ResNet, ASPP head) on a ResNet-18 at output stride 16 (the DeepLabV3 paper's training
stride), so it trains on a CPU in well under a minute. The paper profile is the paper's
ResNet-50 at output stride 8 (torchvision's ``deeplabv3_resnet50``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch
import torchvision
from torch import nn
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.models.segmentation.deeplabv3 import DeepLabHead, DeepLabV3

from wsbench.nn.backbones import load_state_file
from wsbench.params import Param
from wsbench.segmenters.slices import TRAIN_PARAMS, SliceSegmenter

BACKBONES = ("resnet50", "resnet18")


def build_deeplabv3(backbone: str, output_stride: int, num_classes: int) -> DeepLabV3:
    """torchvision's DeepLabV3 (ASPP head, no auxiliary head) on a dilated ResNet.

    ResNet-50 at output stride 8 is exactly ``deeplabv3_resnet50``. torchvision's
    BasicBlock refuses dilation, so for ResNet-18 the 3x3 convolutions of the dilated
    stages get stride 1 and dilation after construction.
    """
    if backbone == "resnet50":
        if output_stride == 8:
            return torchvision.models.segmentation.deeplabv3_resnet50(
                weights=None, weights_backbone=None, num_classes=num_classes, aux_loss=False
            )
        resnet = torchvision.models.resnet50(
            weights=None, replace_stride_with_dilation=[False, False, True]
        )
        channels = 2048
    else:
        resnet = torchvision.models.resnet18(weights=None)
        stages = (
            [(resnet.layer3, 2), (resnet.layer4, 4)] if output_stride == 8 else [(resnet.layer4, 2)]
        )
        for layer, dilation in stages:
            for module in layer.modules():
                if isinstance(module, nn.Conv2d):
                    module.stride = (1, 1)
                    if module.kernel_size == (3, 3):
                        module.dilation = (dilation, dilation)
                        module.padding = (dilation, dilation)
        channels = 512
    backbone_net = IntermediateLayerGetter(resnet, return_layers={"layer4": "out"})
    return DeepLabV3(backbone_net, DeepLabHead(channels, num_classes), aux_classifier=None)


class GreyDeepLab(nn.Module):
    """Repeats a grey (B, 1, H, W) input to RGB and returns the logits tensor."""

    def __init__(self, net: DeepLabV3):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.expand(-1, 3, -1, -1))["out"]


class DeepLabV3Segmenter(SliceSegmenter):
    name = "deeplabv3"
    version = "0.3.0"  # 0.2: at least train.min_steps quick steps; 0.3: softmax class prior
    citation = (
        "Chen L-C, Papandreou G, Schroff F, Adam H. Rethinking Atrous Convolution for Semantic "
        "Image Segmentation. arXiv:1706.05587, 2017. Training as in Fan et al., ICIS 2022, §3.3."
    )
    params = TRAIN_PARAMS + (
        Param(
            "backbone",
            "resnet50",
            "ResNet backbone (resnet18 = quick-profile deviation)",
            choices=BACKBONES,
        ),
        Param(
            "output_stride",
            8,
            "input size / feature size (8: torchvision's DeepLabV3; "
            "16: the DeepLabV3 paper's training setting, 4x cheaper)",
            choices=(8, 16),
        ),
        Param(
            "backbone_weights",
            "",
            "local ImageNet ResNet state dict for the backbone; empty = random init",
            type=str,
        ),
    )
    profiles: ClassVar[dict[str, dict[str, Any]]] = {
        "quick": {
            "backbone": "resnet18",
            "output_stride": 16,
            "epochs": 4,
            "min_steps": 200,  # a small dataset is not starved (benchmarks/quick_budget.py)
            "batch_size": 8,
            "lr": 2e-3,
            "optimizer": "adam",
        },
        # paper 000 §3.3: Dice loss, SGD momentum 0.9, weight decay 1e-4, lr 0.005 with
        # poly 0.9, batch 6, 50 epochs, 512 x 512 slices, ResNet-50
        "paper": {
            "backbone": "resnet50",
            "loss": "dice",
            "optimizer": "sgd",
            "momentum": 0.9,
            "weight_decay": 1e-4,
            "lr": 0.005,
            "batch_size": 6,
            "epochs": 50,
            "poly_power": 0.9,
            "image_size": 512,
        },
    }

    def build_model(self, in_channels: int, out_channels: int) -> nn.Module:
        net = build_deeplabv3(self.p["backbone"], self.p["output_stride"], out_channels)
        return GreyDeepLab(net)

    def initialise(self, model: nn.Module) -> None:
        path = self.p["backbone_weights"]
        if path:
            load_state_file(
                model.net.backbone, Path(path), "deeplabv3.backbone_weights", self.p["backbone"]
            )
