"""Per-item slice reads: the memory-mapped slice cache against re-reading the NIfTI with nibabel.

Run: pytest benchmarks/test_bench_slice_cache.py --benchmark-only -s
The speedup (goal: at least 20x) is printed and stored in the benchmark's extra_info.
One item = the image and label slice ``z`` of one case, as a 2D training loader needs.
"""

from __future__ import annotations

import time

import nibabel as nib
import numpy as np
import pytest

from wsbench.data.cache import SliceCache
from wsbench.data.folder import FolderDataset

SHAPE_XYZ = (256, 256, 64)  # a small CT volume, stored as LiTS ships it: int16, gzip


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    (root / "images").mkdir()
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    image = rng.integers(-1000, 1000, SHAPE_XYZ).astype(np.int16)
    label = (rng.random(SHAPE_XYZ) > 0.9).astype(np.uint8)
    affine = np.diag([0.7, 0.7, 2.5, 1.0])
    nib.save(nib.Nifti1Image(image, affine), str(root / "images" / "vol.nii.gz"))
    nib.save(nib.Nifti1Image(label, affine), str(root / "masks" / "vol.nii.gz"))
    ds = FolderDataset(data_dir=root, window_lo=-100.0, window_hi=200.0)
    info = ds.list_cases()[0]
    task = ds.tasks()["all"]
    cache = SliceCache(tmp_path_factory.mktemp("cache"))
    cache.get(ds, info, task)  # filled once, as after the first epoch
    return root, ds, info, task, cache


def nibabel_item(root, z: int) -> tuple[np.ndarray, np.ndarray]:
    """The fairest re-read: nibabel's lazy proxy, slicing only plane z of each file."""
    image = np.asarray(nib.load(str(root / "images" / "vol.nii.gz")).dataobj[:, :, z])
    label = np.asarray(nib.load(str(root / "masks" / "vol.nii.gz")).dataobj[:, :, z])
    return image, label


def cached_item(cache, ds, info, task, z: int) -> tuple[np.ndarray, np.ndarray]:
    case = cache.get(ds, info, task)
    return np.array(case.image[z]), np.array(case.label[z])


def test_slice_cache_vs_nibabel(benchmark, setup):
    root, ds, info, task, cache = setup
    zs = np.random.default_rng(1).integers(0, SHAPE_XYZ[2], 12)
    peer = []
    for z in zs:  # the peer, timed in this process just before the cache
        start = time.perf_counter()
        nibabel_item(root, int(z))
        peer.append(time.perf_counter() - start)
    counter = iter(np.resize(zs, 100000))
    benchmark(lambda: cached_item(cache, ds, info, task, int(next(counter))))
    cached = benchmark.stats.stats.median
    ratio = float(np.median(peer)) / cached
    benchmark.extra_info.update(
        nibabel_median_s=float(np.median(peer)), cached_median_s=cached, speedup=ratio
    )
    print(
        f"\nslice cache: {cached * 1e3:.3f} ms/item, nibabel re-read: "
        f"{np.median(peer) * 1e3:.1f} ms/item, speedup {ratio:.0f}x (goal >= 20x)"
    )
    # same pixels both ways (the cache holds RAS+ (Z, Y, X); this affine is already RAS+)
    image, label = nibabel_item(root, 5)
    cached_image, cached_label = cached_item(cache, ds, info, task, 5)
    np.testing.assert_array_equal(cached_image, image.T)
    np.testing.assert_array_equal(cached_label, label.T)
