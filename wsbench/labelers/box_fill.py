"""``box-fill``: every pixel inside a box is its class (the naive baseline of Fan et al. 2022)."""

from __future__ import annotations

import numpy as np

from wsbench.api import BoxLabel, LabelContext, Labeler, PseudoLabel, WeakCase
from wsbench.weak.box import validate_boxes


class BoxFill(Labeler):
    name = "box-fill"
    version = "0.1.0"
    citation = (
        "Fan et al., Weakly Supervised Liver Tumor Segmentation Based on Anchor Box and "
        "Adversarial Complementary Learning, ICIS 2022, Table 2 'Baseline' (box-level pixels "
        "as foreground; LiTS Dice 0.563)"
    )
    consumes = ("box",)
    baseline = True

    def label_case(self, case: WeakCase, ctx: LabelContext) -> PseudoLabel:
        return fill_boxes(case)


def fill_boxes(case: WeakCase) -> PseudoLabel:
    """Paint each box with its class; where boxes of two classes overlap the higher class wins
    (as in ``Task.encode``), and weight is 1 everywhere."""
    weak = case.weak
    assert isinstance(weak, BoxLabel), "wsbench.api.check_weak_kind runs before labelling"
    shape = case.image.shape
    validate_boxes(case.id, weak.boxes, shape, num_classes=len(case.classes))
    target = np.zeros(shape, dtype=np.uint8)
    for box in sorted(weak.boxes, key=lambda b: b.cls):
        target[box.z, box.y0 : box.y1, box.x0 : box.x1] = box.cls
    return PseudoLabel(
        case_id=case.id,
        target=target,
        weight=np.ones(shape, dtype=np.float32),
        slices=np.array(weak.slices, dtype=np.int64, copy=True),
    )
