"""wsbench: a benchmark harness for weakly-supervised medical image segmentation."""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("wsbench")

from wsbench.api import (  # noqa: E402
    WEAK_KINDS,
    Box,
    BoxLabel,
    Case,
    CaseInfo,
    CoarseLabel,
    Dataset,
    FullLabel,
    Intensity,
    LabelContext,
    Labeler,
    Metric,
    Param,
    PartialLabel,
    Plugin,
    Protocol,
    PseudoLabel,
    Recist,
    RecistLabel,
    Reported,
    Segmenter,
    TagLabel,
    Task,
    TrainContext,
    WeakCase,
    WeakLabel,
)

__all__ = [
    "__version__",
    "hookimpl",
    "WEAK_KINDS",
    "Box",
    "BoxLabel",
    "Case",
    "CaseInfo",
    "CoarseLabel",
    "Dataset",
    "FullLabel",
    "Intensity",
    "LabelContext",
    "Labeler",
    "Metric",
    "Param",
    "PartialLabel",
    "Plugin",
    "Protocol",
    "PseudoLabel",
    "Recist",
    "RecistLabel",
    "Reported",
    "Segmenter",
    "TagLabel",
    "Task",
    "TrainContext",
    "WeakCase",
    "WeakLabel",
]
