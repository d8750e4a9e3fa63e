"""Pseudo-label quality as the paper measures it: pooled mIoU over background and the classes,
and Dice, on all weak slices and on positive slices (those with foreground).

Used by the claims tests and ``stepwise.py``: they hold the ground truth, never the
labelers. ``weak_tag_cases`` turns task-encoded cases into what a tag labeler sees.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from wsbench.api import Case, PseudoLabel, WeakCase
from wsbench.metrics.pooled import confusion_counts, pooled
from wsbench.weak.tags import TagsProtocol


def weak_tag_cases(cases: Sequence[Case], slices: str = "organ", seed: int = 0) -> list[WeakCase]:
    """The ``tags`` protocol's weak cases (no ground truth) of task-encoded ``cases``."""
    protocol = TagsProtocol(slices=slices)
    rng = np.random.default_rng(seed)
    return [
        WeakCase(c.id, c.patient, c.image, c.spacing, protocol.simulate(c, rng), c.classes)
        for c in cases
    ]


def slice_pairs(
    preds: Sequence[np.ndarray], cases: Sequence[Case], slices: Sequence[np.ndarray]
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(unit, predicted slice, true slice)`` for every listed slice of every case."""
    out = []
    for pred, case, zs in zip(preds, cases, slices, strict=True):
        assert case.label is not None
        out += [(f"{case.id}/{int(z)}", pred[int(z)], case.label[int(z)]) for z in zs]
    return out


def image_miou(pred: np.ndarray, gt: np.ndarray, classes: Sequence[str]) -> float:
    """mIoU of one image over background and the classes present in either map."""
    ious = []
    for tp, fp, fn in confusion_counts(pred, gt, classes).values():
        if tp + fp + fn:
            ious.append(tp / (tp + fp + fn))
    return float(np.mean(ious)) if ious else 1.0


def pseudo_quality(
    labels: Sequence[PseudoLabel], cases: Sequence[Case], positive_only: bool = False
) -> dict[str, object]:
    """Per-slice mIoU (``per_unit``) and pooled mIoU / Dice of pseudo labels on their
    slices; ``positive_only`` keeps the slices whose ground truth has foreground."""
    pairs = slice_pairs([lab.foreground() for lab in labels], cases, [lab.slices for lab in labels])
    if positive_only:
        pairs = [p for p in pairs if p[2].any()]
    classes = cases[0].classes
    counts = [confusion_counts(p, g, classes) for _, p, g in pairs]
    summary = pooled(counts)
    return {
        "per_unit": {u: image_miou(p, g, classes) for u, p, g in pairs},
        "miou": summary["miou"],
        "pooled_dice": summary["pooled_dice"],
        "n": len(pairs),
    }
