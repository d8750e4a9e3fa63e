"""DenseCRF throughput (slices per second) with 1 and 2 worker processes.

    pytest benchmarks/test_bench_densecrf.py --benchmark-enable --benchmark-only

Each round refines ``N_SLICES`` whole 256x256 slices; slices/s = N_SLICES / mean time.
The 2-worker figure includes starting the process pool (what a labeler pays per call).
"""

from __future__ import annotations

import numpy as np
import pytest

from wsbench.api import Intensity
from wsbench.refine.densecrf import CrfItem, CrfParams, crf_pool, refine_many

N_SLICES = 32
SIZE = 256


def _items() -> list[CrfItem]:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    items = []
    for _ in range(N_SLICES):
        cy, cx = rng.uniform(60, SIZE - 60, 2)
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= 20.0**2
        hu = np.where(disc, 120.0, 40.0) + rng.normal(0, 10, (SIZE, SIZE))
        prob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 22.0**2)).astype(np.float32)
        items.append(CrfItem(Intensity().to_uint8(hu), prob, None))
    return items


@pytest.mark.parametrize("workers", [1, 2])
def test_bench_refine_many(benchmark, workers):
    items = _items()
    out = benchmark.pedantic(
        refine_many, args=(items, CrfParams(), workers), rounds=3, iterations=1, warmup_rounds=0
    )
    assert len(out) == N_SLICES
    benchmark.extra_info["slices_per_second"] = N_SLICES / benchmark.stats.stats.mean


def test_bench_refine_many_warm_pool(benchmark):
    """2 workers from a pool that is already running: the throughput without start-up."""
    items = _items()
    with crf_pool(2) as pool:
        refine_many(items[:2], CrfParams(), executor=pool)  # start the workers
        out = benchmark.pedantic(
            refine_many,
            args=(items, CrfParams()),
            kwargs={"executor": pool},
            rounds=3,
            iterations=1,
        )
    assert len(out) == N_SLICES
    benchmark.extra_info["slices_per_second"] = N_SLICES / benchmark.stats.stats.mean
