"""Labeler ``grabcut``: pseudo masks from RECIST marks with OpenCV GrabCut.

Agarwal et al. 2020, §2.1, "following" Cai et al. 2018: the seeds of GrabCut come from
the RECIST marks. On each marked slice, per lesion:

- the two RECIST axes (drawn 1 px wide, dilated by ``axis_dilation``) are sure foreground;
- the quadrilateral of their four endpoints is probable foreground;
- the rest of the RECIST box, grown by ``box_margin`` times its larger side, is probable
  background;
- everything else is sure background.

GrabCut runs on a window of the box plus ``crop_margin`` times its larger side (the sure
background it models), on the HU-windowed slice as grey levels, for ``iterations``
iterations. Agarwal et al. state none of these settings: each is a parameter.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

from wsbench.api import LabelContext, Labeler, Param, PseudoLabel, Recist, WeakCase
from wsbench.params import at_least

from . import paper
from .crops import recist_points


def seed_map(
    shape: tuple[int, int], mark: Recist, axis_dilation: int, box_margin: float
) -> np.ndarray:
    """The GrabCut seed map (cv2.GC_* values) of one RECIST mark on a (Y, X) slice."""
    seeds = np.full(shape, cv2.GC_BGD, np.uint8)
    pts = recist_points(mark)
    y0, x0 = pts.min(0)
    y1, x1 = pts.max(0)
    grow = box_margin * max(y1 - y0, x1 - x0, 1.0)
    by0, bx0 = int(np.floor(y0 - grow)), int(np.floor(x0 - grow))
    by1, bx1 = int(np.ceil(y1 + grow)) + 1, int(np.ceil(x1 + grow)) + 1
    seeds[max(0, by0) : max(0, by1), max(0, bx0) : max(0, bx1)] = cv2.GC_PR_BGD
    xy = np.round(pts[:, ::-1]).astype(np.int32)  # cv2 wants (x, y)
    cv2.fillPoly(seeds, [xy.reshape(-1, 1, 2)], int(cv2.GC_PR_FGD))
    axes = np.zeros(shape, np.uint8)
    cv2.line(axes, tuple(map(int, xy[0])), tuple(map(int, xy[2])), 1, 1)
    cv2.line(axes, tuple(map(int, xy[1])), tuple(map(int, xy[3])), 1, 1)
    if axis_dilation > 0:
        axes = ndimage.binary_dilation(axes, iterations=axis_dilation).astype(np.uint8)
    seeds[axes > 0] = cv2.GC_FGD
    return seeds


def grabcut_mask(
    grey: np.ndarray,
    mark: Recist,
    *,
    axis_dilation: int = 0,
    box_margin: float = 0.1,
    crop_margin: float = 1.0,
    iterations: int = 5,
) -> np.ndarray:
    """The GrabCut foreground (bool (Y, X)) of one RECIST mark on a uint8 grey slice."""
    seeds = seed_map(grey.shape, mark, axis_dilation, box_margin)
    pts = recist_points(mark)
    side = max(float(np.ptp(pts[:, 0])), float(np.ptp(pts[:, 1])), 1.0)
    pad = int(np.ceil(crop_margin * side)) + 1
    lo = np.maximum(np.floor(pts.min(0)).astype(int) - pad, 0)
    hi = np.minimum(np.ceil(pts.max(0)).astype(int) + pad + 1, grey.shape)
    window = (slice(lo[0], hi[0]), slice(lo[1], hi[1]))
    mask = seeds[window].copy()
    fallback = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD))
    has_bg = np.isin(mask, (cv2.GC_BGD, cv2.GC_PR_BGD)).any()
    if iterations > 0 and has_bg and fallback.any():
        image = np.ascontiguousarray(np.repeat(grey[window][..., None], 3, axis=2))
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        try:
            cv2.grabCut(image, mask, None, bgd, fgd, int(iterations), cv2.GC_INIT_WITH_MASK)
        except cv2.error:  # a degenerate model (e.g. a flat window): keep the seeds
            mask = seeds[window].copy()
    out = np.zeros(grey.shape, bool)
    out[window] = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD))
    return ndimage.binary_fill_holes(out)


class GrabCutLabeler(Labeler):
    name = "grabcut"
    version = "0.1.0"
    citation = paper.CITATION
    consumes = ("recist",)
    in_default_grid = False  # a paper plugin's labeler: named on the command line
    reported = paper.REPORTED
    params = (
        Param(
            "axis_dilation",
            0,
            "pixels the 1-px RECIST axes are dilated by before they become sure foreground "
            "(not stated by Agarwal et al. 2020)",
            **at_least(0),
        ),
        Param(
            "box_margin",
            0.1,
            "probable-background margin around the RECIST box, as a fraction of its larger "
            "side (not stated)",
            **at_least(0.0),
        ),
        Param(
            "crop_margin",
            1.0,
            "GrabCut runs on the RECIST box grown by this fraction of its larger side; the "
            "rest of that window is sure background (not stated)",
            **at_least(0.0),
        ),
        Param(
            "iterations", 5, "GrabCut iterations; 0 = the seeds only (not stated)", **at_least(0)
        ),
    )
    profiles = {"quick": {}, "paper": {}}

    def label_case(self, case: WeakCase, ctx: LabelContext) -> PseudoLabel:
        p = self.p
        target = np.zeros(case.image.shape, np.uint8)
        grey_of: dict[int, np.ndarray] = {}
        for mark in case.weak.lesions:
            z = int(mark.z)
            if z not in grey_of:
                grey_of[z] = case.intensity.to_uint8(case.image[z])
            fg = grabcut_mask(
                grey_of[z],
                mark,
                axis_dilation=p["axis_dilation"],
                box_margin=p["box_margin"],
                crop_margin=p["crop_margin"],
                iterations=p["iterations"],
            )
            target[z][fg] = mark.cls
        weight = np.ones(case.image.shape, np.float32)
        return PseudoLabel(case.id, target, weight, np.asarray(case.weak.slices, np.int64))
