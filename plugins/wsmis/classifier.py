"""The tag classifier of step 1 (Viniavskyi et al. §3, "Step 1. CAM generation").

A VGG16 or ResNet-50 backbone with its last strides replaced by dilation (output stride 8),
three extra 3x3 conv + ReLU layers on top, global average pooling and a linear layer with
one logit per task class (image-level tags, binary cross-entropy). DropBlock (the paper, after
FickleNet) drops blocks of the backbone's output and of the extra layers' output during
training. The extra layers' output is the map Grad-CAM and Grad-CAM++ explain.
"""

from __future__ import annotations

import torch
from torch import nn

from wsbench.nn.backbones import build_backbone

from .dropblock import DropBlock2d
from .slim import SlimVGG

# vgg16-slim (widths / 8) is the quick profile's CPU stand-in; the paper tests VGG16 and ResNet-50.
CLASSIFIER_BACKBONES = ("vgg16", "resnet50", "vgg16-slim")


class TagClassifier(nn.Module):
    """``forward(images (B, 1, H, W)) -> logits (B, K)``; ``features`` is the explained layer."""

    def __init__(
        self,
        backbone: str,
        num_classes: int,
        width: int = 512,
        dropblock: bool = True,
        drop_prob: float = 0.2,
        block_size: int = 7,
        output_stride: int = 8,
    ):
        super().__init__()
        if backbone == "vgg16-slim":
            self.backbone: nn.Module = SlimVGG(in_channels=1)
            channels = self.backbone.channels[-1]
        else:
            self.backbone = build_backbone(backbone, output_stride, in_channels=1)
            channels = self.backbone.channels["c4"]
        layers: list[nn.Module] = []
        for i in range(
            3
        ):  # Viniavskyi et al.: "three convolutional layers ... each followed by a ReLU"
            layers += [nn.Conv2d(channels if i == 0 else width, width, 3, padding=1), nn.ReLU()]
        self.extra = nn.Sequential(*layers)
        self.features = nn.Identity()  # a hook point: the map the CAM methods explain
        on = dropblock and drop_prob > 0
        self.drop_backbone = DropBlock2d(drop_prob, block_size) if on else nn.Identity()
        self.drop_extra = DropBlock2d(drop_prob, block_size) if on else nn.Identity()
        self.fc = nn.Linear(width, num_classes)

    def feature_map(self, images: torch.Tensor) -> torch.Tensor:
        out = self.backbone(images)
        c4 = out[-1] if isinstance(out, list) else out["c4"]
        return self.features(self.drop_extra(self.extra(self.drop_backbone(c4))))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.fc(self.feature_map(images).mean(dim=(2, 3)))
