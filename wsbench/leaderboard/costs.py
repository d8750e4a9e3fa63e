"""Annotation cost of each weak-label kind, each cited from a published annotation study.

The unit is seconds per annotated object: one structure (one connected component of one
class) on one 2D slice, which is what the core protocols annotate. The studies timed
natural images (PASCAL VOC, COCO, ILSVRC), not CT or MRI; the numbers give the ratios
between kinds, not a radiologist's time. A kind that no study times (RECIST diameters)
has no entry and is left off the cost figure, and the page says so.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cost:
    seconds: float  # per annotated object (one structure on one 2D slice)
    what: str
    source: str


COSTS: dict[str, Cost] = {
    "full": Cost(
        79.2,
        "polygon mask of one object instance",
        "Lin et al. 2014, Microsoft COCO (ECCV), as quoted by Cheng et al. 2022, "
        "Pointly-supervised instance segmentation (CVPR)",
    ),
    "partial": Cost(
        79.2,
        "full mask of each annotated structure (the others are left out)",
        "Lin et al. 2014, Microsoft COCO (ECCV), as quoted by Cheng et al. 2022",
    ),
    "box": Cost(
        7.0,
        "bounding box by extreme clicking (35 s when drawn the traditional way, Su et al. 2012)",
        "Papadopoulos et al. 2017, Extreme clicking for efficient object annotation (ICCV)",
    ),
    "tags": Cost(
        1.0,
        "image-level label, one present/absent answer per class "
        "(20.0 s per PASCAL VOC image of 20 classes)",
        "Bearman et al. 2016, What's the point: semantic segmentation with point "
        "supervision (ECCV)",
    ),
}


def weak_kind(protocol: str) -> str:
    """The weak-label kind of a protocol name (``native:box`` -> ``box``)."""
    return protocol.split(":", 1)[1] if protocol.startswith("native:") else protocol


def cost_of(protocol: str) -> Cost | None:
    return COSTS.get(weak_kind(protocol))
