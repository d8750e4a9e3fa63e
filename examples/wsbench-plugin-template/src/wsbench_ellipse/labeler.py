"""Each box becomes the ellipse inscribed in it: a tighter prior than box-fill for round
lesions (a disc fills pi/4 of its box), and no more information than the box itself."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from wsbench.api import BoxLabel, LabelContext, Labeler, Param, PseudoLabel, WeakCase
from wsbench.params import in_range
from wsbench.weak.box import validate_boxes


class EllipseFill(Labeler):
    name = "ellipse-fill"
    version = "0.1.0"
    citation = "wsbench plugin template (examples/wsbench-plugin-template)"
    consumes = ("box",)
    params = (
        Param(
            "outside_weight",
            1.0,
            "weight of the pixels inside a box but outside its ellipse (0 ignores them)",
            **in_range(0, 1),
        ),
    )
    profiles: ClassVar[dict[str, dict[str, Any]]] = {"quick": {}, "paper": {}}

    def label_case(self, case: WeakCase, ctx: LabelContext) -> PseudoLabel:
        weak = case.weak
        assert isinstance(weak, BoxLabel)  # wsbench checks the weak kind before labelling
        shape = case.image.shape
        validate_boxes(case.id, weak.boxes, shape, num_classes=len(case.classes))
        target = np.zeros(shape, np.uint8)
        weight = np.ones(shape, np.float32)
        for box in sorted(weak.boxes, key=lambda b: b.cls):  # the higher class wins overlaps
            inside = inscribed_ellipse(box.height, box.width)
            region = (box.z, slice(box.y0, box.y1), slice(box.x0, box.x1))
            target[region][inside] = box.cls
            weight[region][~inside] = self.p["outside_weight"]
        return PseudoLabel(case.id, target, weight, np.array(weak.slices, np.int64))


def inscribed_ellipse(height: int, width: int) -> np.ndarray:
    """Boolean (height, width) mask of the pixels whose centres lie in the inscribed ellipse."""
    y = (np.arange(height) + 0.5) / height * 2 - 1
    x = (np.arange(width) + 0.5) / width * 2 - 1
    return y[:, None] ** 2 + x[None, :] ** 2 <= 1.0
