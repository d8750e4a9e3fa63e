"""HD95 + ASSD of one prediction: wsbench.metrics against MONAI and medpy.

    OMP_NUM_THREADS=1 pytest benchmarks/test_bench_metrics.py --benchmark-enable --benchmark-only

Two kinds of masks:

* ``ellipsoids``: a few smooth ellipsoids (tumour- to organ-sized, within the central 60% of
  the volume) and a prediction whose ellipsoids are shifted and resized by a few mm: small
  surfaces (the k-d tree search).
* ``lesions``: 1200 small lesions (2 to 15 mm) scattered over a 512 x 512 x 100 volume at
  2.5 x 0.78 x 0.78 mm, about 0.9 million surface voxels per mask; the prediction finds 85%
  of them, moved and resized, and adds 120 false ones: a large surface (the ball search).

Each peer computes both metrics the way a user would call it: MONAI's
compute_hausdorff_distance (percentile 95) and compute_average_surface_distance (symmetric);
medpy's hd95 and assd (left out on the lesions: minutes per call). ``wsbench-kdtree`` forces
the k-d tree, to show what the choice of algorithm buys. Speed-up = peer mean / wsbench
mean, within one group.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from medpy.metric import binary as medpy_binary
from monai.metrics import compute_average_surface_distance, compute_hausdorff_distance

from wsbench import metrics
from wsbench.metrics import nearest

SIZES = {
    "ellipsoids-256x256x64": ((64, 256, 256), (2.5, 0.8, 0.8)),
    "ellipsoids-512x512x100": ((100, 512, 512), (2.0, 0.7, 0.7)),
    "lesions-512x512x100": ((100, 512, 512), (2.5, 0.78, 0.78)),
}


def ellipsoids(shape, spacing, seed: int, n: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Ground truth: ``n`` ellipsoids with semi-axes 8 to 40 mm; prediction: the same
    ellipsoids moved by up to 3 mm and scaled by 0.85 to 1.15, plus one false positive."""
    rng = np.random.default_rng(seed)
    extent = np.array(shape) * np.array(spacing)
    axes = [np.arange(s) * sp for s, sp in zip(shape, spacing)]
    grid = np.ix_(*axes)
    gt, pred = np.zeros(shape, bool), np.zeros(shape, bool)

    def paint(mask, centre, radii):
        inside = sum(((g - c) / r) ** 2 for g, c, r in zip(grid, centre, radii)) <= 1.0
        mask |= inside

    for _ in range(n):
        centre = rng.uniform(0.2, 0.8, 3) * extent
        radii = rng.uniform(8.0, 40.0, 3)
        paint(gt, centre, radii)
        paint(pred, centre + rng.uniform(-3, 3, 3), radii * rng.uniform(0.85, 1.15, 3))
    paint(pred, rng.uniform(0.2, 0.8, 3) * extent, rng.uniform(5.0, 10.0, 3))
    return pred, gt


def lesions(shape, spacing, seed: int, n: int = 1200) -> tuple[np.ndarray, np.ndarray]:
    """Ground truth: ``n`` ellipsoids with semi-axes 1.4 to 20 mm anywhere in the volume;
    prediction: 85% of them moved by about 1.5 mm and scaled by 0.8 to 1.2, plus ``n / 10``
    false lesions."""
    rng = np.random.default_rng(seed)
    spacing = np.asarray(spacing)
    extent = np.array(shape) * spacing
    gt, pred = np.zeros(shape, bool), np.zeros(shape, bool)

    def paint(mask, centre, radii):
        lo = np.maximum(((centre - radii) / spacing).astype(int), 0)
        hi = np.minimum(((centre + radii) / spacing).astype(int) + 2, shape)
        box = tuple(slice(a, b) for a, b in zip(lo, hi))
        grid = np.ix_(*[np.arange(a, b) * s for a, b, s in zip(lo, hi, spacing)])
        mask[box] |= sum(((g - c) / r) ** 2 for g, c, r in zip(grid, centre, radii)) <= 1.0

    for _ in range(n):
        centre = rng.uniform(0.05, 0.95, 3) * extent
        radii = rng.uniform(2.0, 15.0) * rng.uniform(0.7, 1.3, 3)
        paint(gt, centre, radii)
        if rng.random() < 0.85:
            paint(pred, centre + rng.normal(0, 1.5, 3), radii * rng.uniform(0.8, 1.2, 3))
    for _ in range(n // 10):
        paint(pred, rng.uniform(0.05, 0.95, 3) * extent, rng.uniform(2.0, 8.0, 3))
    return pred, gt


def masks(size: str):
    shape, spacing = SIZES[size]
    make = lesions if size.startswith("lesions") else ellipsoids
    return (*make(shape, spacing, seed=0), spacing)


def ours(pred, gt, spacing):
    out = metrics.compute_all(pred, gt, spacing, ("hd95", "assd"))
    return out["hd95"], out["assd"]


def monai(pred, gt, spacing):
    p, g = torch.from_numpy(pred)[None, None], torch.from_numpy(gt)[None, None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hd = compute_hausdorff_distance(p, g, percentile=95, spacing=spacing).item()
        sd = compute_average_surface_distance(p, g, symmetric=True, spacing=spacing).item()
    return hd, sd


def medpy(pred, gt, spacing):
    return medpy_binary.hd95(pred, gt, spacing), medpy_binary.assd(pred, gt, spacing)


def ours_kdtree(pred, gt, spacing):
    limit = nearest.BALL_SEARCH_MIN_POINTS
    nearest.BALL_SEARCH_MIN_POINTS = 10**12  # "auto" always picks the k-d tree
    try:
        return ours(pred, gt, spacing)
    finally:
        nearest.BALL_SEARCH_MIN_POINTS = limit


PEERS = {  # fn, rounds
    "wsbench": (ours, 5),
    "wsbench-kdtree": (ours_kdtree, 3),
    "monai": (monai, 3),
    "medpy": (medpy, 1),
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("peer", PEERS)
def test_bench_hd95_assd(benchmark, size, peer):
    torch.set_num_threads(1)
    if peer == "medpy" and size.startswith("lesions"):
        pytest.skip("medpy takes minutes per call on a million surface voxels")
    pred, gt, spacing = masks(size)
    fn, rounds = PEERS[peer]
    benchmark.group = f"hd95+assd {size}"
    hd, sd = benchmark.pedantic(
        fn, args=(pred, gt, spacing), rounds=rounds, iterations=1, warmup_rounds=0
    )
    reference = ours(pred, gt, spacing)
    assert sd == pytest.approx(reference[1], rel=1e-5)  # every peer agrees on ASSD
    assert hd == pytest.approx(reference[0], rel=1e-5) or peer == "monai"
    benchmark.extra_info.update({"hd95_mm": hd, "assd_mm": sd})
