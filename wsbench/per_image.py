"""Fan et al. 2022's evaluation protocol: metrics per 2D test image that holds the target.

Fan et al. (2022) train and test on the LiTS slices that contain tumour and report the
Dice of each 512 x 512 image, averaged over the 1669 test images. ``images`` mode does
the same on any dataset: every test slice with a task label is one unit, scored in 2D
(in-plane spacing, so distances stay in mm), and the leaderboard averages over images
instead of volumes. Slices without target are not scored: false positives on them do not
count, as in the paper. The per-volume 3D evaluation (``volume``) stays the default.

``lesions`` mode scores each lesion on its own, as 001 (Agarwal et al.) scores DeepLesion:
every connected component of the label on a target slice is one unit, scored in its
bounding box enlarged on each side by half its extent (at least ``LESION_MARGIN_PX``).
Pixels of other lesions in that box are left out of the score, so a lesion beside a
neighbour is judged on its own mask.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from wsbench.api import Case

EVAL_MODES = ("volume", "images", "lesions")

# what the leaderboard shows for each mode
EVAL_LABELS = {
    "volume": "per volume (3D)",
    "images": "per target image (2D)",
    "lesions": "per lesion (2D)",
}

# the least margin around a lesion's box, in pixels (a 2-pixel lesion still gets context)
LESION_MARGIN_PX = 4


def target_slices(case: Case) -> np.ndarray:
    """Indices of the slices of ``case`` that hold any task label."""
    if case.label is None:
        return np.zeros(0, np.int64)
    return np.flatnonzero(np.asarray(case.label).any(axis=(1, 2))).astype(np.int64)


def evaluate_images(
    pred: np.ndarray,
    case: Case,
    score: Callable[[np.ndarray, np.ndarray, tuple[float, ...]], dict[str, float]],
) -> list[dict[str, Any]]:
    """One row per target slice of ``case``: ``score(pred_2d, gt_2d, spacing_2d)`` plus
    ``case`` (``"<volume id>:<slice>"``), ``patient`` and ``volume``. ``pred`` is a label map
    ``(Z, Y, X)`` or a stack ``(K, Z, Y, X)``."""
    assert case.label is not None
    rows = []
    for z in target_slices(case):
        rows.append(
            {
                "case": f"{case.id}:{int(z)}",
                "patient": case.patient,
                "volume": case.id,  # the slice is in "case" (a number here would be a score)
                **score(pred[..., z, :, :], case.label[z], tuple(case.spacing[1:])),
            }
        )
    return rows


def lesion_boxes(label_2d: np.ndarray) -> list[tuple[np.ndarray, tuple[slice, slice]]]:
    """The lesions of one slice: (the lesion's mask within its box, the box) per
    8-connected component of ``label_2d > 0``, the box enlarged by half the lesion's
    extent on each side (at least ``LESION_MARGIN_PX``) and clipped to the slice."""
    from scipy import ndimage

    components, _ = ndimage.label(label_2d > 0, structure=np.ones((3, 3), bool))
    out = []
    for k, found in enumerate(ndimage.find_objects(components), start=1):
        if found is None:
            continue
        box = []
        for axis, cut in enumerate(found):
            margin = max(LESION_MARGIN_PX, (cut.stop - cut.start) // 2)
            box.append(
                slice(max(0, cut.start - margin), min(label_2d.shape[axis], cut.stop + margin))
            )
        ys, xs = box
        out.append((components[ys, xs] == k, (ys, xs)))
    return out


def evaluate_lesions(
    pred: np.ndarray,
    case: Case,
    score: Callable[[np.ndarray, np.ndarray, tuple[float, ...]], dict[str, float]],
) -> list[dict[str, Any]]:
    """One row per lesion (2D connected component of the label on a target slice):
    ``score(pred_box, gt_box, spacing_2d)`` on the lesion's box, other lesions' pixels set
    to background in both, plus ``case`` (``"<volume id>:<slice>:<lesion>"``), ``patient``
    and ``volume``. ``pred`` is a label map ``(Z, Y, X)`` or a stack ``(K, Z, Y, X)``."""
    assert case.label is not None
    rows = []
    for z in target_slices(case):
        gt_slice = np.asarray(case.label[z])
        for k, (mine, (ys, xs)) in enumerate(lesion_boxes(gt_slice)):
            gt_box = gt_slice[ys, xs]
            others = (gt_box > 0) & ~mine
            pred_box = np.where(others, 0, pred[..., z, ys, xs])
            rows.append(
                {
                    "case": f"{case.id}:{int(z)}:{k}",
                    "patient": case.patient,
                    "volume": case.id,
                    **score(pred_box, np.where(mine, gt_box, 0), tuple(case.spacing[1:])),
                }
            )
    return rows
