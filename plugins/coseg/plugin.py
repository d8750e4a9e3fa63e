"""Hook implementations of the ``coseg`` plugin (Agarwal et al., ISBI 2020)."""

from __future__ import annotations

from wsbench import hookimpl

from .grabcut import GrabCutLabeler
from .segmenters import CosegSegmenter, Fcn32Segmenter


@hookimpl
def wsbench_register_labelers() -> list[type]:
    return [GrabCutLabeler]


@hookimpl
def wsbench_register_segmenters() -> list[type]:
    return [CosegSegmenter, Fcn32Segmenter]
