"""Registers the core segmenters, exactly as a third-party plugin would."""

from __future__ import annotations

from wsbench import hookimpl
from wsbench.segmenters.deeplabv3 import DeepLabV3Segmenter
from wsbench.segmenters.deeplabv3plus import DeepLabV3PlusSegmenter
from wsbench.segmenters.unet import UNetSegmenter


@hookimpl
def wsbench_register_segmenters() -> list[type]:
    return [UNetSegmenter, DeepLabV3Segmenter, DeepLabV3PlusSegmenter]
