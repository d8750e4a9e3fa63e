"""Anchor boxes on the FPN levels, level assignment and negative sampling
(Fan et al. 2022 §2.1, §2.3, §3.2).

Boxes here are float arrays ``(N, 4)`` of ``(x0, y0, x1, y1)`` in network-input pixels, the
order ``torchvision.ops`` uses; ``wsbench.api.Box`` (rows/columns on a slice) is converted at
the labeler boundary.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

LEVELS = (2, 3, 4, 5)  # P2..P5
STRIDES = {2: 4, 3: 8, 4: 16, 5: 32}
RATIOS = (1.0, 0.5, 2.0)  # height / width: 1:1, 1:2, 2:1


def level_anchors(
    height: int, width: int, stride: int, size: float, ratios: Sequence[float] = RATIOS
) -> np.ndarray:
    """Every anchor of one level: ``H * W * len(ratios)`` boxes of area ``size**2``, centred
    on the cells of a ``height x width`` map (cell (i, j) -> centre ((j + .5) s, (i + .5) s))."""
    shapes = []
    for r in ratios:  # keep the area, change the shape: w * h = size^2, h / w = r
        w = size / math.sqrt(r)
        shapes.append((w, w * r))
    half = np.asarray(shapes, dtype=np.float32) / 2  # (A, 2): half width, half height
    cy, cx = np.meshgrid(
        (np.arange(height) + 0.5) * stride, (np.arange(width) + 0.5) * stride, indexing="ij"
    )
    centres = np.stack([cx.ravel(), cy.ravel()], axis=1).astype(np.float32)  # (HW, 2)
    lo = centres[:, None, :] - half[None]
    hi = centres[:, None, :] + half[None]
    return np.concatenate([lo, hi], axis=2).reshape(-1, 4)


def pyramid_anchors(
    image_size: tuple[int, int], sizes: Sequence[float], ratios: Sequence[float] = RATIOS
) -> dict[int, np.ndarray]:
    """Anchors of P2..P5 for an image of ``(height, width)``; level k has area ``sizes[k-2]**2``."""
    h, w = image_size
    return {
        k: level_anchors(
            math.ceil(h / STRIDES[k]), math.ceil(w / STRIDES[k]), STRIDES[k], size, ratios
        )
        for k, size in zip(LEVELS, sizes, strict=True)
    }


def assign_levels(boxes: np.ndarray, canonical: float = 224.0) -> np.ndarray:
    """FPN level of each box: ``k = floor(4 + log2(sqrt(w h) / canonical))`` clamped to 2..5."""
    w = np.maximum(boxes[:, 2] - boxes[:, 0], 1e-6)
    h = np.maximum(boxes[:, 3] - boxes[:, 1], 1e-6)
    k = np.floor(4 + np.log2(np.sqrt(w * h) / canonical))
    return np.clip(k, LEVELS[0], LEVELS[-1]).astype(np.int64)


def overlaps_any(anchors: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """True where an anchor shares a positive area with at least one ground-truth box."""
    if len(gt) == 0:
        return np.zeros(len(anchors), bool)
    ix = np.minimum(anchors[:, None, 2], gt[None, :, 2]) - np.maximum(
        anchors[:, None, 0], gt[None, :, 0]
    )
    iy = np.minimum(anchors[:, None, 3], gt[None, :, 3]) - np.maximum(
        anchors[:, None, 1], gt[None, :, 1]
    )
    return ((ix > 0) & (iy > 0)).any(axis=1)


def centre_distance(anchors: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Euclidean distance from each anchor's centre to the centre of its closest GT box."""
    ac = (anchors[:, :2] + anchors[:, 2:]) / 2
    gc = (gt[:, :2] + gt[:, 2:]) / 2
    return np.linalg.norm(ac[:, None, :] - gc[None, :, :], axis=2).min(axis=1)


def nearest_negatives(
    anchors: np.ndarray, gt: np.ndarray, image_size: tuple[int, int], keep_fraction: float = 0.1
) -> np.ndarray:
    """One level's candidates: anchors inside the image that overlap no GT box, the
    ``keep_fraction`` of them nearest (centre to centre) to their closest GT box."""
    h, w = image_size
    inside = (
        (anchors[:, 0] >= 0) & (anchors[:, 1] >= 0) & (anchors[:, 2] <= w) & (anchors[:, 3] <= h)
    )
    cand = anchors[inside & ~overlaps_any(anchors, gt)]
    if len(cand) == 0 or len(gt) == 0:
        return cand[:0]
    keep = max(1, math.ceil(keep_fraction * len(cand)))
    order = np.argsort(centre_distance(cand, gt), kind="stable")
    return cand[order[:keep]]


def sample_negatives(
    anchors: dict[int, np.ndarray],
    gt: np.ndarray,
    image_size: tuple[int, int],
    n: int,
    rng: np.random.Generator,
    keep_fraction: float = 0.1,
) -> np.ndarray:
    """Fan et al. 2022 §2.3: per level the nearest ``keep_fraction`` of the non-overlapping
    anchors, then ``n`` of their union drawn at random (all of them when fewer). Returns
    ``(<=n, 4)``."""
    pool = (
        np.concatenate(
            [nearest_negatives(a, gt, image_size, keep_fraction) for a in anchors.values()]
        )
        if anchors
        else np.zeros((0, 4), np.float32)
    )
    if len(pool) <= n:
        return pool
    return pool[np.sort(rng.choice(len(pool), size=n, replace=False))]
