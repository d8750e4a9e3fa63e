"""Liver tumours: lobulated, rough unions of ellipsoids with one of four appearances."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from wsbench.data.phantom.geometry import (
    _bbox,
    _ellipsoid_r,
    _inner_distance,
    _noise_in,
    _random_rotation,
    _smooth_noise,
)
from wsbench.data.tasks import LIVER_VALUES

# Tumour appearance: probability, then HU offset from the patient's liver.
SHAPE = {
    "main": ([0.8, 0.4, 0.45], [1.0, 0.75, 0.8]),
    "lobes": (2, 6),
    "offset": (0.7, 1.1),
    "lobe": (0.3, 0.6),
    "rough": (0.25, 0.4),
    "step": 0.28,
}
TUMOUR_KINDS = {"hypodense": 0.55, "faint": 0.15, "hyperdense": 0.15, "rim": 0.15}


def _add_tumours(g, rng, labels, hu, liver_hu, tumor_mm, n_tumors) -> list[dict[str, Any]]:
    """Place lobulated, heterogeneous tumours inside the liver (label 2); return their specs."""
    liver = labels == 1
    if not liver.any():
        return []
    step = max(1, int(3.0 / g.spacing[1]))  # liver depth on a ~3 mm in-plane grid is enough
    depth = np.zeros(liver.shape, np.float32)
    depth[:, ::step, ::step] = ndimage.distance_transform_edt(
        liver[:, ::step, ::step], sampling=(g.spacing[0], g.spacing[1] * step, g.spacing[2] * step)
    )
    count = int(rng.integers(n_tumors[0], n_tumors[1] + 1))
    specs: list[dict[str, Any]] = []
    lo_d, hi_d = np.log(tumor_mm[0]), np.log(tumor_mm[1])
    for i in range(count):
        diameter = float(np.exp(rng.uniform(lo_d, hi_d)))
        r = diameter / 2
        if specs and rng.random() < 0.4:  # a satellite touching the previous tumour
            prev = specs[-1]
            direction = rng.standard_normal(3)
            direction /= np.linalg.norm(direction)
            centre = np.array(prev["centre"]) + direction * (prev["diameter"] / 2 + r) * 0.8
        else:
            near_edge = rng.random() < 0.3
            ok = (
                (depth > 0.2 * r) & (depth < 0.6 * r)
                if near_edge
                else depth >= min(0.8 * r, 0.8 * depth.max())
            )
            cand = np.argwhere(ok & liver)
            if len(cand) == 0:
                cand = np.argwhere(liver)
            k, j, i_ = cand[rng.integers(len(cand))]
            centre = np.array([g.axes[2][i_], g.axes[1][j], g.axes[0][k]], float)
        kind = rng.choice(list(TUMOUR_KINDS), p=list(TUMOUR_KINDS.values()))
        if i == 0:  # every patient has one conspicuous (dark) lesion
            kind = "rim" if rng.random() < 0.2 else "hypodense"
        mask = _tumour_shape(g, rng, centre, r) & (np.isin(labels, LIVER_VALUES))
        if not mask.any():
            continue
        _paint_tumour(g, rng, mask, str(kind), liver_hu, diameter, hu)
        labels[mask] = 2
        specs.append(
            {
                "centre": centre.tolist(),
                "diameter": diameter,
                "kind": str(kind),
                "voxels": int(mask.sum()),
            }
        )
    return specs


def _tumour_shape(g, rng, centre, r) -> np.ndarray:
    """Union of a main ellipsoid and 1-4 offset lobes, with a rough surface."""
    rot = _random_rotation(rng)
    blobs = [(centre, r * rng.uniform(*SHAPE["main"]), rot)]
    for _ in range(int(rng.integers(*SHAPE["lobes"]))):
        direction = rng.standard_normal(3)
        direction /= np.linalg.norm(direction)
        offset = direction * r * rng.uniform(*SHAPE["offset"])
        blobs.append((centre + offset, r * rng.uniform(*SHAPE["lobe"], 3), _random_rotation(rng)))
    lo, hi, sl = g.cube(centre, 2.2 * r)
    out = np.zeros(g.shape, bool)
    if sl is None:
        return out
    radius = np.min([_ellipsoid_r(g, sl, c, ax, rt) for c, ax, rt in blobs], axis=0)
    rough = rng.uniform(*SHAPE["rough"])
    radius = radius - rough * _smooth_noise(g, sl, lo, hi, max(SHAPE["step"] * r, 3.0), rng)
    out[sl] = radius < 1.0
    return out


def _paint_tumour(g, rng, mask, kind, liver_hu, diameter, hu) -> None:
    sl = _bbox(mask)
    depth = _inner_distance(mask, g.spacing)[sl]
    max_depth = float(depth.max())
    if kind == "hypodense":
        level = liver_hu - rng.uniform(30, 50)
    elif kind == "faint":
        level = liver_hu + rng.choice((-1, 1)) * rng.uniform(10, 18)
    elif kind == "hyperdense":
        level = liver_hu + rng.uniform(30, 60)
    else:  # rim-enhancing: dark centre, bright ring
        level = liver_hu - rng.uniform(20, 35)
    values = level + 6.0 * _noise_in(g, sl, max(diameter / 4, 3.0), rng)
    if kind == "rim":
        values = np.where(depth < rng.uniform(2.5, 4.5), liver_hu + rng.uniform(20, 40), values)
    if diameter > 30 and kind != "faint":  # necrotic core
        values = np.where(depth > 0.55 * max_depth, rng.uniform(5, 20), values)
    inside = mask[sl]
    hu[sl][inside] = values[inside]
