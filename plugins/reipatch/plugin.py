"""wsbench plugin for Ouassit et al. 2022: the segmenter ``reipatch``."""

from __future__ import annotations

from wsbench import hookimpl

from .segmenter import ReipatchSegmenter


@hookimpl
def wsbench_register_segmenters() -> list[type]:
    return [ReipatchSegmenter]
