"""The core segmenters pass the conformance suite that ships for plugin authors."""

from __future__ import annotations

from typing import Any, ClassVar

from wsbench.testing.segmenters import SegmenterConformance, SliceSegmenterConformance


class TestUNet(SliceSegmenterConformance):
    segmenter_name = "unet"
    overrides: ClassVar[dict[str, Any]] = {
        "width": 4,
        "depth": 2,
        "epochs": 8,
        "batch_size": 4,
        "lr": 0.01,
    }


class TestDeepLabV3(SegmenterConformance):
    segmenter_name = "deeplabv3"
    overrides: ClassVar[dict[str, Any]] = {
        "backbone": "resnet18",
        "output_stride": 8,  # 32 x 32 test images leave 2 x 2 features at stride 16
        "epochs": 8,
        "batch_size": 4,
        "lr": 0.003,
    }
