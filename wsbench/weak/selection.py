"""Which slices of a case a weak label covers: the ``slices`` parameter every protocol shares.

* ``all``: every slice of the volume.
* ``target``: slices with any task label (the structures being segmented).
* ``organ``: slices where ``case.organ`` (any annotated structure) is true, plus every target
  slice; falls back to ``target`` when the case has no organ mask. The default: an annotator
  labels the slices through the organ, and those without a target are negatives.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy import ndimage

from wsbench.api import Case, Param, Protocol
from wsbench.errors import WeakLabelError

SLICE_MODES = ("all", "target", "organ")

SLICES_PARAM = Param(
    "slices",
    "organ",
    "which slices get a weak label: all, target (any task label) or organ (case.organ, "
    "falling back to target)",
    choices=SLICE_MODES,
)


def require_label(case: Case) -> np.ndarray:
    """The case's task label map, or a WeakLabelError when it has none to simulate from."""
    if case.label is None:
        raise WeakLabelError(
            f"case {case.id!r} ({case.source or 'no source'}) has no ground-truth label, so no "
            "weak label can be simulated from it; use a dataset with masks or its native "
            "weak labels"
        )
    if case.label.shape != case.shape:
        raise WeakLabelError(
            f"case {case.id!r}: label shape {case.label.shape} differs from image shape "
            f"{case.shape}; fix the dataset loader"
        )
    return case.label


def select_slices(case: Case, mode: str = "organ") -> np.ndarray:
    """Sorted int64 slice indices of ``case`` chosen by ``mode`` (one of SLICE_MODES)."""
    if mode not in SLICE_MODES:
        raise WeakLabelError(f"slice mode {mode!r} is unknown; choose one of {SLICE_MODES}")
    n_slices = case.shape[0]
    if mode == "all":
        return np.arange(n_slices, dtype=np.int64)
    target = require_label(case).any(axis=(1, 2))
    if mode == "organ" and case.organ is not None:
        target = target | np.asarray(case.organ, dtype=bool).any(axis=(1, 2))
    return np.flatnonzero(target).astype(np.int64)


class SliceSelectingProtocol(Protocol):
    """Base of the core protocols: declares ``slices`` and selects them in ``select_slices``.

    Subclasses list their own parameters after ``SLICES_PARAM`` in ``params``.
    """

    params: ClassVar[tuple[Param, ...]] = (SLICES_PARAM,)

    def select_slices(self, case: Case) -> np.ndarray:
        return select_slices(case, self.p["slices"])


def components(mask: np.ndarray, min_size: int = 1) -> list[tuple[tuple[slice, slice], np.ndarray]]:
    """8-connected components of a 2D mask with at least ``min_size`` pixels.

    Each entry is ``(window, piece)``: the component's bounding-box slices and its boolean mask
    within that window. Diagonal contact joins pixels, as an annotator would see one lesion.
    """
    labelled, _ = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    out = []
    for index, window in enumerate(ndimage.find_objects(labelled), start=1):
        if window is None:
            continue
        piece = labelled[window] == index
        if np.count_nonzero(piece) >= min_size:
            out.append((window, piece))
    return out
