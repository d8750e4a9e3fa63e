"""``oracle``: the full ground truth as target, the fully supervised upper bound."""

from __future__ import annotations

import numpy as np

from wsbench.api import FullLabel, LabelContext, Labeler, PseudoLabel, WeakCase
from wsbench.errors import WeakLabelError


class Oracle(Labeler):
    name = "oracle"
    version = "0.1.0"
    citation = (
        "full supervision upper bound (e.g. Fan et al. 2022, Table 1: LiTS Dice 0.711 with "
        "pixel-level labels)"
    )
    consumes = ("full",)
    baseline = True

    def label_case(self, case: WeakCase, ctx: LabelContext) -> PseudoLabel:
        return ground_truth(case)


def ground_truth(case: WeakCase) -> PseudoLabel:
    weak = case.weak
    assert isinstance(weak, FullLabel), "wsbench.api.check_weak_kind runs before labelling"
    if weak.label.shape != case.image.shape:
        raise WeakLabelError(
            f"case {case.id!r}: full label shape {weak.label.shape} differs from image shape "
            f"{case.image.shape}; regenerate the weak labels"
        )
    top = int(weak.label.max(initial=0))
    if top > len(case.classes):
        raise WeakLabelError(
            f"case {case.id!r}: full label holds class {top} but the task has "
            f"{len(case.classes)} classes {case.classes}; check the task encoding"
        )
    return PseudoLabel(
        case_id=case.id,
        target=weak.label.astype(np.uint8, copy=True),
        weight=np.ones(weak.label.shape, dtype=np.float32),
        slices=np.array(weak.slices, dtype=np.int64, copy=True),
    )
