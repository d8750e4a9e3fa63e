"""The organ-ROI crop of a tumour cascade: each volume cut in-plane to its organ's box.

Most LiTS tumour pipelines (and Ouassit et al. 2022) run in two stages: a first network finds the
liver, and the tumour network sees only the liver's bounding box. wsbench takes the box
from the organ mask a dataset ships (``Case.organ``: the liver, tumours included, for the
tumour tasks), as a perfect first stage would give it.

The crop is a segmenter stage: labelers (box classifiers, CRFs) still see the whole slices,
as in the papers; the segmenter trains on the windows of the images and pseudo labels,
and predicts on the windows of the test volumes. All windows of a set have one size, the
largest organ box of the set plus ``margin`` on each side, centred on each case's own box.
The crop changes no voxel size, and predictions are pasted back into the full grid
(background outside the window) before they are written and scored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from wsbench.api import Case, PseudoLabel, WeakCase
from wsbench.errors import DataError

ROI_MODES = ("none", "organ")


@dataclass(frozen=True)
class Window:
    """An in-plane window ``[y0, y1) x [x0, x1)`` of a volume of in-plane shape ``full``."""

    y0: int
    y1: int
    x0: int
    x1: int
    full: tuple[int, int]

    @property
    def cut(self) -> tuple[slice, slice, slice]:
        return (slice(None), slice(self.y0, self.y1), slice(self.x0, self.x1))

    def as_dict(self) -> dict[str, int]:
        return {"y0": self.y0, "y1": self.y1, "x0": self.x0, "x1": self.x1}


def organ_windows(cases: Sequence[Case], margin: int) -> list[Window]:
    """One window per case, all of the largest organ box's size plus ``margin`` per side
    (clipped to the image), centred on the case's own organ box and kept inside the image."""
    boxes = []
    for case in cases:
        if case.organ is None or not np.any(case.organ):
            raise DataError(
                f"case {case.id} ({case.source or 'no file'}) has no organ mask to crop to; "
                "use a dataset that ships one, or leave roi=none"
            )
        ys, xs = np.nonzero(np.asarray(case.organ, bool).any(axis=0))
        boxes.append((int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1))
    shapes = {c.shape[1:] for c in cases}
    min_h, min_w = min(s[0] for s in shapes), min(s[1] for s in shapes)
    h = min(max(b[1] - b[0] for b in boxes) + 2 * margin, min_h)
    w = min(max(b[3] - b[2] for b in boxes) + 2 * margin, min_w)
    out = []
    for case, (y0, y1, x0, x1) in zip(cases, boxes):
        full = (int(case.shape[1]), int(case.shape[2]))
        top = int(np.clip((y0 + y1 - h) // 2, 0, full[0] - h))
        left = int(np.clip((x0 + x1 - w) // 2, 0, full[1] - w))
        out.append(Window(top, top + h, left, left + w, full))
    return out


def crop_case(case: Case, window: Window) -> Case:
    """``case`` cut to ``window`` (image, label, organ); the window is in ``meta["roi"]``."""
    cut = window.cut
    return dataclasses.replace(
        case,
        image=np.ascontiguousarray(case.image[cut]),
        label=None if case.label is None else np.ascontiguousarray(case.label[cut]),
        organ=None if case.organ is None else np.ascontiguousarray(case.organ[cut]),
        meta={**case.meta, "roi": window},
    )


def crop_array(array: np.ndarray, window: Window) -> np.ndarray:
    """The window of the last two axes of ``array`` (a volume or a ``(K, Z, Y, X)`` stack)."""
    return np.ascontiguousarray(array[..., window.y0 : window.y1, window.x0 : window.x1])


def crop_training(
    case: WeakCase, label: PseudoLabel, window: Window
) -> tuple[WeakCase, PseudoLabel]:
    """A training case and its pseudo label cut to ``window``, for the segmenter stage (the
    labeler has already seen the whole slices; the weak label itself is not cut)."""
    return (
        dataclasses.replace(case, image=crop_array(case.image, window)),
        dataclasses.replace(
            label, target=crop_array(label.target, window), weight=crop_array(label.weight, window)
        ),
    )


def paste(pred: np.ndarray, window: Window) -> np.ndarray:
    """A prediction on the window, put back into the full in-plane grid (0 outside).
    Works for label maps ``(Z, y, x)`` and stacks ``(K, Z, y, x)``."""
    out = np.zeros(pred.shape[:-2] + window.full, dtype=pred.dtype)
    out[..., window.y0 : window.y1, window.x0 : window.x1] = pred
    return out
