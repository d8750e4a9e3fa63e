"""The ``recist`` protocol: RECIST long and short diameters per lesion per slice, in mm.

Long axis: the longest diameter (maximum Feret diameter) between boundary pixel centres of
the lesion's 2D connected component, measured in mm at the slice's (y, x) spacing. Short
axis: the longest chord perpendicular to the long axis that stays inside the lesion and
crosses the long axis. ``noise_mm`` adds reader noise: a Gaussian shift of every endpoint.
Endpoints are (y, x) pixel coordinates (floats).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError

from wsbench.api import Case, Param, Recist, RecistLabel
from wsbench.params import at_least
from wsbench.weak.box import MIN_SIZE_PARAM
from wsbench.weak.selection import SLICES_PARAM, SliceSelectingProtocol, components, require_label

Segment = tuple[tuple[float, float], tuple[float, float]]


class RecistProtocol(SliceSelectingProtocol):
    name = "recist"
    produces = "recist"
    version = "0.1.0"
    citation = (
        "Eisenhauer et al., New response evaluation criteria in solid tumours: revised RECIST "
        "guideline (version 1.1), Eur J Cancer 2009; weak labels of Agarwal et al. 2020"
    )
    params = (
        SLICES_PARAM,
        Param(
            "noise_mm",
            0.0,
            "reader noise: Gaussian std (mm) added to each endpoint coordinate",
            **at_least(0.0),
        ),
        MIN_SIZE_PARAM,
    )

    def simulate(self, case: Case, rng: np.random.Generator) -> RecistLabel:
        label = require_label(case)
        spacing_yx = np.asarray(case.spacing[1:], dtype=float)
        slices = self.select_slices(case)
        lesions = []
        for z in slices:
            for cls in range(1, len(case.classes) + 1):
                for window, piece in components(label[z] == cls, self.p["min_size"]):
                    offset = np.array([window[0].start, window[1].start], dtype=float)
                    long_axis, short_axis = diameters(piece, spacing_yx)
                    ends = np.array([*long_axis, *short_axis]) + offset
                    ends = self._add_noise(ends, spacing_yx, label.shape[1:], rng)
                    lesions.append(Recist(int(z), _segment(ends[:2]), _segment(ends[2:]), cls))
        return RecistLabel(slices=slices, lesions=lesions)

    def _add_noise(self, ends: np.ndarray, spacing_yx: np.ndarray, image_yx, rng) -> np.ndarray:
        if self.p["noise_mm"] > 0:
            ends = ends + rng.normal(0.0, self.p["noise_mm"], size=ends.shape) / spacing_yx
        return np.clip(ends, 0.0, np.asarray(image_yx, dtype=float) - 1.0)


def _segment(ends: np.ndarray) -> Segment:
    (ay, ax), (by, bx) = ends.tolist()
    return (ay, ax), (by, bx)


def diameters(mask: np.ndarray, spacing_yx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Long and short axis endpoints ((2, 2) arrays of (y, x) pixel coordinates) of a 2D mask.

    ``mask`` holds one connected lesion; ``spacing_yx`` is mm per pixel along (y, x).
    """
    spacing_yx = np.asarray(spacing_yx, dtype=float)
    long_axis = longest_diameter(mask, spacing_yx)
    return long_axis, perpendicular_chord(mask, spacing_yx, long_axis)


def longest_diameter(mask: np.ndarray, spacing_yx: np.ndarray) -> np.ndarray:
    """The pair of boundary pixel centres furthest apart in mm (the maximum Feret diameter)."""
    boundary = mask & ~ndimage.binary_erosion(mask, border_value=0)
    points_mm = np.argwhere(boundary) * spacing_yx
    if len(points_mm) > 3:
        try:  # the furthest pair lies on the convex hull
            points_mm = points_mm[ConvexHull(points_mm).vertices]
        except QhullError:  # collinear points: keep them all
            pass
    gaps = np.linalg.norm(points_mm[:, None, :] - points_mm[None, :, :], axis=-1)
    i, j = np.unravel_index(np.argmax(gaps), gaps.shape)
    return np.array([points_mm[i], points_mm[j]]) / spacing_yx


def perpendicular_chord(
    mask: np.ndarray, spacing_yx: np.ndarray, long_axis: np.ndarray
) -> np.ndarray:
    """The longest chord perpendicular to ``long_axis`` inside ``mask`` through the long axis.

    Lines perpendicular to the long axis are sampled every half pixel along it; on each, the
    run of lesion pixels that contains the crossing point is measured in mm.
    """
    start_mm, end_mm = long_axis * spacing_yx
    length = float(np.linalg.norm(end_mm - start_mm))
    if length == 0.0:
        return long_axis.copy()
    along = (end_mm - start_mm) / length
    across = np.array([-along[1], along[0]])
    step = float(spacing_yx.min()) / 2
    t = np.arange(0.0, length + step / 2, step)
    s = np.arange(0.0, length + step / 2, step)
    reach = []
    for sign in (1.0, -1.0):
        points_mm = (
            start_mm + t[:, None, None] * along + sign * s[None, :, None] * across
        )  # (T, S, 2)
        inside = np.ones(points_mm.shape[:-1], dtype=bool)
        # a sample exactly between two pixels is inside only when both are lesion pixels
        # (rint's ties-to-even would let a chord poke half a pixel out on one side)
        for rounding in (
            np.ceil(points_mm / spacing_yx - 0.5),
            np.floor(points_mm / spacing_yx + 0.5),
        ):
            pixels = rounding.astype(int)
            inside &= np.all((pixels >= 0) & (pixels < mask.shape), axis=-1)
            clipped = np.clip(pixels, 0, np.array(mask.shape) - 1)
            inside &= mask[clipped[..., 0], clipped[..., 1]]
        run = np.cumprod(inside, axis=1).sum(axis=1)  # samples inside from the crossing on
        reach.append(np.where(run > 0, (run - 1) * step, -np.inf))
    chord = reach[0] + reach[1]
    best = int(np.argmax(chord))
    if not np.isfinite(chord[best]):  # the long axis never crosses the lesion (cannot happen
        return long_axis.copy()  # for endpoints on the lesion, kept for safety)
    centre = start_mm + t[best] * along
    ends_mm = np.array([centre + reach[0][best] * across, centre - reach[1][best] * across])
    return ends_mm / spacing_yx
