"""Surfaces of binary masks and exact surface-to-surface distances in mm.

Two exact nearest-neighbour searches, chosen by the size of the problem:

* **k-d tree** (``"kdtree"``): a ``scipy.spatial.cKDTree`` of the target's surface voxel
  centres in mm, queried with every source voxel. Its cost follows the number of surface
  voxels, not the volume of the box, which makes it the fast choice for small surfaces.
* **ball search** (``"ball"``): for more than ``BALL_SEARCH_MIN_POINTS`` surface voxels
  (source + target). The integer voxel offsets inside a ball of about ``BALL_MAX_OFFSETS``
  voxels (radius at most ``BALL_MAX_RADIUS_MM``) are visited in increasing length in mm,
  offsets of one length together, and each source voxel takes the length of the first
  offset that lands on a target surface voxel: a distance transform restricted to that
  ball. Every offset up to the radius is visited, so a hit is the exact nearest distance.
  Source voxels with no target within the radius (a missed or a false lesion far from the
  other mask) go to the k-d tree. Most voxels of lesion masks find their match within a
  few offsets, at a few nanoseconds per voxel and offset.

A Euclidean distance transform of the whole bounding box
(``distance_transform_edt(sampling=spacing)``, what MONAI and medpy compute) costs in
proportion to the box volume: on a 512 x 512 x 100 volume of scattered lesions one transform
took longer than the whole k-d tree search, so it is not used (docs/metrics.md, Speed).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.spatial import cKDTree

__all__ = ["crop_to_union", "nearest_distances", "surface", "surface_distances_of"]

BALL_SEARCH_MIN_POINTS = 200_000  # source + target surface voxels above which "auto" = "ball"
BALL_MAX_OFFSETS = 150  # the volume of the ball in voxels (its offsets: about as many)
BALL_MAX_RADIUS_MM = 10.0


def crop_to_union(*masks: np.ndarray, margin: int = 1) -> tuple[np.ndarray, ...]:
    """Every mask cut to the bounding box of their union plus ``margin`` voxels per side.

    The crop is exact without a margin (a voxel on the union's bounding box has a background
    neighbour outside it, so it is surface either way, and every voxel a distance is measured
    to lies inside the box); the margin only makes that independent of the erosion's border
    rule.
    """
    union = np.logical_or.reduce(masks)
    window = []
    for axis in range(union.ndim):
        hits = np.flatnonzero(union.any(axis=tuple(a for a in range(union.ndim) if a != axis)))
        window.append(slice(max(hits[0] - margin, 0), hits[-1] + 1 + margin))
    box = tuple(window)
    return tuple(m[box] for m in masks)


def surface(mask: np.ndarray) -> np.ndarray:
    """Voxels of ``mask`` that a face-connected erosion removes (outside counts as empty)."""
    mask = np.asarray(mask, dtype=bool)
    # the face-connected erosion written as shifted ANDs: the same voxels as
    # ndimage.binary_erosion(structure=connectivity 1, border_value=0), several times faster
    interior = mask.copy()
    for axis in range(mask.ndim):
        lead = [slice(None)] * mask.ndim
        lag = [slice(None)] * mask.ndim
        lead[axis], lag[axis] = slice(1, None), slice(None, -1)
        interior[tuple(lead)] &= mask[tuple(lag)]
        interior[tuple(lag)] &= mask[tuple(lead)]
        edge = [slice(None)] * mask.ndim
        for end in (0, -1):  # voxels on the array border touch the empty outside
            edge[axis] = end
            interior[tuple(edge)] = False
    return mask & ~interior


def surface_distances_of(
    pred: np.ndarray, gt: np.ndarray, spacing: Sequence[float], method: str = "auto"
) -> tuple[np.ndarray, np.ndarray]:
    """(pred surface -> gt surface, gt surface -> pred surface) in mm of two non-empty masks."""
    pred, gt = crop_to_union(pred, gt)
    pred_surface, gt_surface = surface(pred), surface(gt)
    return (
        nearest_distances(pred_surface, gt_surface, spacing, method),
        nearest_distances(gt_surface, pred_surface, spacing, method),
    )


def nearest_distances(
    source: np.ndarray, target: np.ndarray, spacing: Sequence[float], method: str = "auto"
) -> np.ndarray:
    """For each True voxel of ``source`` (in C order), the distance in mm from its centre to
    the nearest True voxel of ``target``; ``target`` must have one.

    ``method``: ``"kdtree"``, ``"ball"`` or ``"auto"`` (ball search for large surfaces).
    """
    spacing = np.asarray(spacing, dtype=float)
    if method == "auto":
        n_points = int(np.count_nonzero(source)) + int(np.count_nonzero(target))
        method = "ball" if n_points > BALL_SEARCH_MIN_POINTS else "kdtree"
    if method == "kdtree":
        return _kdtree_search(source, target, spacing)
    if method == "ball":
        return _ball_search(source, target, spacing)
    raise ValueError(f"unknown nearest-neighbour method {method!r}; use auto, kdtree or ball")


def _kdtree_search(source: np.ndarray, target: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    index = np.flatnonzero(source)
    distances = np.zeros(len(index))
    apart = ~target.ravel()[index]  # voxels on both surfaces are 0 without a query
    if apart.any():
        distances[apart] = _tree_query(target, index[apart], spacing)
    return distances


def _tree_query(target: np.ndarray, index: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Exact distances from the voxels at flat ``index`` to the nearest True voxel of
    ``target``: a k-d tree of voxel centres in mm."""
    points = np.stack(np.unravel_index(np.flatnonzero(target), target.shape), axis=1)
    tree = cKDTree(points * spacing, leafsize=64, balanced_tree=False, compact_nodes=False)
    queries = np.stack(np.unravel_index(index, target.shape), axis=1) * spacing
    return tree.query(queries, workers=-1)[0]


def ball_offsets(spacing: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Integer voxel offsets within the search ball, sorted by length in mm; their lengths;
    and the radius in mm (every offset up to it is listed)."""
    # radius: the ball of BALL_MAX_OFFSETS voxels, at most BALL_MAX_RADIUS_MM
    voxel = float(np.prod(spacing))
    unit_ball = np.pi if len(spacing) == 2 else 4 / 3 * np.pi
    radius = min(BALL_MAX_RADIUS_MM, (BALL_MAX_OFFSETS * voxel / unit_ball) ** (1 / len(spacing)))
    reach = [int(np.floor(radius / s)) for s in spacing]
    grids = np.meshgrid(*[np.arange(-k, k + 1) for k in reach], indexing="ij")
    offsets = np.stack([g.ravel() for g in grids], axis=1)
    lengths = np.sqrt(((offsets * spacing) ** 2).sum(axis=1))
    inside = lengths <= radius
    order = np.argsort(lengths[inside], kind="stable")
    return offsets[inside][order], lengths[inside][order], radius


def _ball_search(source: np.ndarray, target: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    offsets, lengths, _ = ball_offsets(spacing)
    margin = [(int(k), int(k)) for k in np.abs(offsets).max(axis=0)]
    source, target = np.pad(source, margin), np.pad(target, margin)  # offsets never wrap
    flat = target.ravel()
    steps = offsets @ (np.array(target.strides) // target.itemsize)
    base = int(-steps.min())  # flat[base + step:] is ``target`` moved by one offset
    index_type = np.int32 if flat.size < 2**31 else np.int64
    index = np.flatnonzero(source)
    shifted = (index - base).astype(index_type)
    distances = np.full(len(index), np.inf)
    todo = np.arange(len(index), dtype=index_type)
    ties = np.flatnonzero(np.diff(lengths) > 1e-9 * lengths[-1]) + 1
    for group in np.split(np.arange(len(lengths)), ties):  # offsets of one length together
        hit = flat[base + steps[group[0]] :].take(shifted)
        for i in group[1:]:
            hit |= flat[base + steps[i] :].take(shifted)
        if hit.any():
            distances[todo[hit]] = lengths[group[0]]
            keep = ~hit
            todo, shifted = todo[keep], shifted[keep]
            if todo.size == 0:
                return distances
    # nothing within the radius (a component far from every target voxel): the k-d tree
    distances[todo] = _tree_query(target, index[todo], spacing)
    return distances
