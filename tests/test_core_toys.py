"""The toy plugins of ``wsbench.testing.toy_core`` pass the conformance suites: a coronal
``unet``, a deep-supervised loss and a self-training labeler on the base class."""

from __future__ import annotations

from typing import Any, ClassVar

import wsbench.testing.toy_core as toy_core
from wsbench.testing.labelers import LabelerConformance
from wsbench.testing.segmenters import SliceSegmenterConformance

TINY_UNET: dict[str, Any] = {"width": 4, "depth": 2, "epochs": 8, "batch_size": 4, "lr": 0.01}


class TestCoronalUNet(SliceSegmenterConformance):
    segmenter_name = "toy-coronal-unet"
    extra_plugins = (toy_core,)
    overrides: ClassVar[dict[str, Any]] = TINY_UNET


class TestDeepSupervisedUNet(SliceSegmenterConformance):
    segmenter_name = "toy-deep-unet"
    extra_plugins = (toy_core,)
    overrides: ClassVar[dict[str, Any]] = TINY_UNET


class TestToySelfTraining(LabelerConformance):
    labeler_name = "toy-self-training"
    extra_plugins = (toy_core,)
    weak_protocol = "box"
    segmenter_name = "unet"
    segmenter_overrides: ClassVar[dict[str, Any]] = {"width": 4, "depth": 2, "epochs": 2}
    overrides: ClassVar[dict[str, Any]] = {"rounds": 2, "warm_start": True}
