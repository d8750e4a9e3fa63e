"""Dataset-pooled overlap metrics from per-case confusion counts.

Each test case stores, per class and for the background, its counts ``[tp, fp, fn]``
(``confusion_counts``). Pooling sums them over cases before dividing: a large case
weighs by its voxels, as in paper 004's mIoU over background and pneumothorax, which is
not the mean of per-case scores.

* ``pooled_iou/<c>`` = sum TP / sum (TP + FP + FN); ``pooled_dice/<c>`` = 2 sum TP /
  sum (2TP + FP + FN), for the background and every class;
* ``miou``: the mean of ``pooled_iou`` over the background and every class;
* ``pooled_dice``: the mean of ``pooled_dice`` over the foreground classes.

A class absent from prediction and ground truth in every pooled case has no pooled
score (NaN): there is nothing to overlap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

BACKGROUND = "background"
CONFUSION = "confusion"  # the per-case key: {class: [tp, fp, fn]}
POOLED_METRICS = ("miou", "pooled_dice")


def confusion_counts(
    pred: np.ndarray, gt: np.ndarray, classes: Sequence[str]
) -> dict[str, list[int]]:
    """``{class: [tp, fp, fn]}`` of a label map against a task label map, background
    (label 0) included. A multilabel stack ``(K, ...)`` counts each class on its plane
    and the background where no plane is set."""
    gt = np.asarray(gt)
    pred = np.asarray(pred)
    planes = pred.ndim == gt.ndim + 1
    out: dict[str, list[int]] = {}
    for k, name in enumerate((BACKGROUND, *classes)):
        if planes:
            p = ~pred.astype(bool).any(0) if k == 0 else pred[k - 1].astype(bool)
        else:
            p = pred == k
        g = gt == k
        tp = int(np.count_nonzero(p & g))
        out[name] = [tp, int(np.count_nonzero(p)) - tp, int(np.count_nonzero(g)) - tp]
    return out


def pooled(counts: Iterable[Mapping[str, Sequence[int]]]) -> dict[str, float]:
    """Pooled IoU and Dice per class, ``miou`` and ``pooled_dice``, over the given cases."""
    total: dict[str, np.ndarray] = {}
    for case in counts:
        for name, c in case.items():
            total[name] = total.get(name, np.zeros(3, np.int64)) + np.asarray(c, np.int64)
    if not total:
        return {}
    out: dict[str, float] = {}
    ious, dices = [], []
    for name, (tp, fp, fn) in total.items():
        union = tp + fp + fn
        iou = float(tp / union) if union else float("nan")
        dice = float(2 * tp / (2 * tp + fp + fn)) if union else float("nan")
        out[f"pooled_iou/{name}"], out[f"pooled_dice/{name}"] = iou, dice
        ious.append(iou)
        if name != BACKGROUND:
            dices.append(dice)
    out["miou"] = _nanmean(ious)
    out["pooled_dice"] = _nanmean(dices)
    return out


def pooled_subsets(per_case: Sequence[Mapping]) -> dict[str, float]:
    """Pooled metrics over all cases, and with ``@pos`` over positive cases where the
    cases say which are positive."""
    with_counts = [c for c in per_case if isinstance(c.get(CONFUSION), Mapping)]
    if not with_counts:
        return {}
    out = pooled(c[CONFUSION] for c in with_counts)
    if any("positive" in c for c in with_counts):
        pos = pooled(c[CONFUSION] for c in with_counts if c.get("positive"))
        out.update({f"{k}@pos": v for k, v in pos.items()})
    return out


def _nanmean(values: Sequence[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")
