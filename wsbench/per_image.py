"""Fan et al. 2022's evaluation protocol: metrics per 2D test image that holds the target.

Fan et al. (2022) train and test on the LiTS slices that contain tumour and report the
Dice of each 512 x 512 image, averaged over the 1669 test images. ``images`` mode does
the same on any dataset: every test slice with a task label is one unit, scored in 2D
(in-plane spacing, so distances stay in mm), and the leaderboard averages over images
instead of volumes. Slices without target are not scored: false positives on them do not
count, as in the paper. The per-volume 3D evaluation (``volume``) stays the default.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from wsbench.api import Case

EVAL_MODES = ("volume", "images")

# what the leaderboard shows for each mode
EVAL_LABELS = {"volume": "per volume (3D)", "images": "per target image (2D)"}


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
