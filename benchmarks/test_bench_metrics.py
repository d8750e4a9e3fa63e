"""HD95 + ASSD of one prediction: wsbench.metrics against MONAI and medpy.

    pytest benchmarks/test_bench_metrics.py --benchmark-enable --benchmark-only

Masks are a few smooth ellipsoids (tumour- to organ-sized, within the central 60% of the
volume) and a prediction whose ellipsoids are shifted and resized by a few mm. Each peer
computes both metrics the way a user would call it: MONAI's compute_hausdorff_distance
(percentile 95) and compute_average_surface_distance (symmetric); medpy's hd95 and assd.
Speed-up = peer mean / wsbench mean, within one size.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from medpy.metric import binary as medpy_binary
from monai.metrics import compute_average_surface_distance, compute_hausdorff_distance

from wsbench import metrics

SIZES = {
    "256x256x64": ((64, 256, 256), (2.5, 0.8, 0.8)),
    "512x512x100": ((100, 512, 512), (2.0, 0.7, 0.7)),
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


PEERS = {"wsbench": (ours, 5), "monai": (monai, 3), "medpy": (medpy, 1)}  # fn, rounds


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("peer", PEERS)
def test_bench_hd95_assd(benchmark, size, peer):
    torch.set_num_threads(1)
    shape, spacing = SIZES[size]
    pred, gt = ellipsoids(shape, spacing, seed=0)
    fn, rounds = PEERS[peer]
    benchmark.group = f"hd95+assd {size}"
    hd, sd = benchmark.pedantic(
        fn, args=(pred, gt, spacing), rounds=rounds, iterations=1, warmup_rounds=0
    )
    reference = ours(pred, gt, spacing)
    assert sd == pytest.approx(reference[1], rel=1e-5)  # every peer agrees on ASSD
    assert hd == pytest.approx(reference[0], rel=1e-5) or peer == "monai"
    benchmark.extra_info.update({"hd95_mm": hd, "assd_mm": sd})
