"""A re-run with cached pseudo labels against the same cell labelling from scratch.

    pytest benchmarks/test_bench_pseudo_cache.py --benchmark-enable --benchmark-only

Both sides run the same ``cam`` x ``unet`` cell (``--no-resume``, so the segmenter trains
each time); the cached side finds its pseudo labels in ``cache/pseudo`` and spends no
time labelling. ``extra_info`` holds the labelling time the cache saves.
"""

import itertools

import pytest

from wsbench.grid import RunSpec
from wsbench.plugins import load_registry
from wsbench.runner import run_grid

SETS = {
    "synthetic.n_patients": "6",
    "synthetic.size": "64",
    "synthetic.n_slices": "12",
    "train.epochs": "1",
    "synthetic.test_fraction": "0.34",
}


def _spec(out):
    return RunSpec(
        datasets=("synthetic",),
        labelers=("cam",),
        segmenters=("unet",),
        target="tumor",
        device="cpu",
        out=out,
        sets=SETS,
        resume=False,
    )


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def test_rerun_with_cached_pseudo_labels(benchmark, registry, tmp_path):
    (first,) = run_grid(_spec(tmp_path / "cached"), registry)  # fills the cache
    benchmark.extra_info["label_s_saved"] = first["provenance"]["pseudo_cache"]["label_s"]

    def rerun():
        (rec,) = run_grid(_spec(tmp_path / "cached"), registry)
        assert rec["provenance"]["pseudo_cache"]["hit"]

    benchmark.pedantic(rerun, rounds=3, iterations=1)


def test_run_labelling_from_scratch(benchmark, registry, tmp_path):
    fresh = (tmp_path / f"fresh{i}" for i in itertools.count())

    def run():
        (rec,) = run_grid(_spec(next(fresh)), registry)
        assert not rec["provenance"]["pseudo_cache"]["hit"]

    benchmark.pedantic(run, rounds=3, iterations=1)
