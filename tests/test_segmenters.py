"""The core segmenters pass the conformance suite that ships for plugin authors."""

from __future__ import annotations

from wsbench.testing.segmenters import SegmenterConformance


class TestUNet(SegmenterConformance):
    segmenter_name = "unet"
    overrides = {"width": 4, "depth": 2, "epochs": 8, "batch_size": 4, "lr": 0.01}


class TestDeepLabV3(SegmenterConformance):
    segmenter_name = "deeplabv3"
    overrides = {"backbone": "resnet18", "epochs": 8, "batch_size": 4, "lr": 0.003}
