"""Throughput of the executors on one 8-cell quick grid, and Ray's overhead.

    pytest benchmarks/test_bench_executors.py --benchmark-enable --benchmark-only -s

The grid is box-fill and oracle x unet x 4 seeds on a small phantom (8 label groups of
one cell each). Each side runs once, in a fresh ``--out`` (labelling included) with the
slice cache already filled. ``serial`` gives torch every core; ``local`` and ``ray`` run
``--jobs 2`` workers of ``cores / 2`` threads. Compare the means of group ``executors``:
goals ``serial / local >= 1.6`` and ``ray / local <= 1.15``.
"""

from __future__ import annotations

import itertools
import os

import pytest

from wsbench.execution import Execution, run_grid
from wsbench.execution.stages import load_split
from wsbench.grid import RunSpec, plan
from wsbench.plugins import load_registry

SETS = {
    "synthetic.n_patients": "6",
    "synthetic.size": "64",
    "synthetic.n_slices": "16",
    "synthetic.test_fraction": "0.34",
    "synthetic.val_fraction": "0",
    "train.epochs": "3",
}
CORES = os.cpu_count() or 1


def _spec(out):
    return RunSpec(
        datasets=("synthetic",),
        labelers=("box-fill", "oracle"),
        segmenters=("unet",),
        seeds=(0, 1, 2, 3),
        target="liver",
        device="cpu",
        out=out,
        sets=SETS,
    )


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    os.environ["WSBENCH_CACHE"] = str(tmp_path_factory.mktemp("slices"))
    registry = load_registry()
    spec = _spec(tmp_path_factory.mktemp("warm"))
    from wsbench.execution.jobs import resolve_jobs

    (job, *_) = resolve_jobs(plan(spec, registry).cells, spec, registry)
    for part in ("train", "test"):  # fill the slice cache once, outside the timings
        load_split(job.data, part, registry, None)
    return registry


def _bench(benchmark, registry, tmp_path, execution: Execution) -> None:
    fresh = (tmp_path / f"run{i}" for i in itertools.count())

    def run():
        records = run_grid(_spec(next(fresh)), registry, execution=execution)
        assert len(records) == 8 and all(r["status"] == "done" for r in records)

    benchmark.group = "executors"
    benchmark.extra_info["cores"] = CORES
    benchmark.pedantic(run, rounds=1, iterations=1)


def test_serial(benchmark, registry, tmp_path):
    _bench(benchmark, registry, tmp_path, Execution(executor="serial", threads=CORES))


def test_local_jobs_2(benchmark, registry, tmp_path):
    threads = max(1, CORES // 2)
    _bench(benchmark, registry, tmp_path, Execution(executor="local", jobs=2, threads=threads))


def test_ray_jobs_2(benchmark, registry, tmp_path):
    pytest.importorskip("ray")
    threads = max(1, CORES // 2)
    _bench(benchmark, registry, tmp_path, Execution(executor="ray", jobs=2, threads=threads))
