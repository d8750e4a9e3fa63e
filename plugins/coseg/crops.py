"""Lesion crops: a square window around a RECIST mark (or a pseudo-label component),
padded where it leaves the slice, resized to the network's size, and pasted back.

Agarwal et al. 2020 (§2.4) "pad lesion-mask images before resizing them to 128x128 and
then normalize them". The window is the box of the four RECIST endpoints, grown to a
square and by ``context`` times its side on every side (not stated in the paper:
a parameter); pixels outside the slice take the slice's lowest value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from wsbench.api import Recist

MIN_SIDE = 8  # pixels: a tiny mark still gets a window with some background


@dataclass(frozen=True)
class Lesion:
    """One lesion on slice ``z`` of case ``case``: its RECIST box (half-open, may be a
    component box when no RECIST exists), long/short diameters in mm and class."""

    case: int
    z: int
    box: tuple[int, int, int, int]  # y0, x0, y1, x1
    long_mm: float
    short_mm: float
    cls: int = 1  # 0: not a lesion but a whole slice (training without RECIST)


def recist_points(mark: Recist) -> np.ndarray:
    """(4, 2) endpoints (y, x): long axis start, short axis start, long end, short end
    (the order of the quadrilateral around the lesion)."""
    (a, b), (c, d) = mark.long_axis, mark.short_axis
    return np.array([a, c, b, d], dtype=float)


def lesion_from_recist(case: int, mark: Recist, spacing_yx: Sequence[float]) -> Lesion:
    pts = recist_points(mark)
    y0, x0 = np.floor(pts.min(0)).astype(int)
    y1, x1 = np.floor(pts.max(0)).astype(int) + 1
    s = np.asarray(spacing_yx, float)
    long_mm = float(np.linalg.norm((pts[0] - pts[2]) * s))
    short_mm = float(np.linalg.norm((pts[1] - pts[3]) * s))
    return Lesion(
        case, int(mark.z), (int(y0), int(x0), int(y1), int(x1)), long_mm, short_mm, mark.cls
    )


def lesions_from_mask(
    case: int, z: int, mask: np.ndarray, spacing_yx: Sequence[float]
) -> list[Lesion]:
    """Lesions as the connected components of a 2D task-label map (no RECIST given)."""
    out = []
    for cls in np.unique(mask[mask > 0]).tolist():
        labelled, _ = ndimage.label(mask == cls)
        for window in ndimage.find_objects(labelled):
            y, x = window
            h_mm = (y.stop - y.start) * float(spacing_yx[0])
            w_mm = (x.stop - x.start) * float(spacing_yx[1])
            out.append(
                Lesion(
                    case,
                    z,
                    (y.start, x.start, y.stop, x.stop),
                    max(h_mm, w_mm),
                    min(h_mm, w_mm),
                    int(cls),
                )
            )
    return out


def crop_window(box: tuple[int, int, int, int], context: float) -> tuple[int, int, int, int]:
    """The square window (y0, x0, y1, x1) around ``box``: side = max(h, w) * (1 + 2 context),
    at least ``MIN_SIDE``, centred on the box; it may leave the slice."""
    y0, x0, y1, x1 = box
    side = max(y1 - y0, x1 - x0, 1)
    side = max(MIN_SIDE, int(np.ceil(side * (1 + 2 * context))))
    cy, cx = (y0 + y1) / 2, (x0 + x1) / 2
    top, left = int(np.floor(cy - side / 2)), int(np.floor(cx - side / 2))
    return top, left, top + side, left + side


def cut(plane: np.ndarray, window: tuple[int, int, int, int], fill: float) -> np.ndarray:
    """``plane[window]`` with the part outside the plane filled with ``fill``."""
    y0, x0, y1, x1 = window
    out = np.full((y1 - y0, x1 - x0), fill, dtype=plane.dtype)
    h, w = plane.shape
    sy0, sx0, sy1, sx1 = max(0, y0), max(0, x0), min(h, y1), min(w, x1)
    if sy1 > sy0 and sx1 > sx0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = plane[sy0:sy1, sx0:sx1]
    return out


def resize(arrays: np.ndarray, size: int, mode: str) -> torch.Tensor:
    """(N, h, w) or (N, C, h, w) numpy -> (N, [C,] size, size) tensor."""
    t = torch.from_numpy(np.ascontiguousarray(arrays))
    squeeze = t.dim() == 3
    if squeeze:
        t = t.unsqueeze(1)
    t = t.float()
    if mode == "nearest":
        t = F.interpolate(t, size=(size, size), mode="nearest")
    else:
        t = F.interpolate(t, size=(size, size), mode=mode, align_corners=False)
    return t[:, 0] if squeeze else t


def paste(
    prob: np.ndarray, crop_prob: np.ndarray, z: int, window: tuple[int, int, int, int]
) -> None:
    """Write class probabilities ``crop_prob`` (C, s, s) of ``window`` into ``prob``
    (C, Z, Y, X) on slice ``z``, resized to the window; where crops overlap, the one
    with the higher foreground probability wins."""
    y0, x0, y1, x1 = window
    side = y1 - y0
    grown = resize(crop_prob[None], side, "bilinear")[0].numpy()
    _, _, h, w = prob.shape
    sy0, sx0, sy1, sx1 = max(0, y0), max(0, x0), min(h, y1), min(w, x1)
    if sy1 <= sy0 or sx1 <= sx0:
        return
    new = grown[:, sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0]
    old = prob[:, z, sy0:sy1, sx0:sx1]
    better = (1 - new[0]) > (1 - old[0])
    prob[:, z, sy0:sy1, sx0:sx1] = np.where(better[None], new, old)
