"""Prediction of many 2D images (SIIM-like, one slice per case): ``predict`` per image
against ``predict_many`` batching their slices, same trained model, same process; compare
the two means of group ``predict-2d`` (goal: predict_many clearly faster).

    pytest benchmarks/test_bench_predict_many.py --benchmark-only
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from wsbench.api import Intensity, TrainContext
from wsbench.segmenters.unet import UNetSegmenter
from wsbench.testing.segmenters import disc_cases, full_labels

IMAGES, SIZE = 64, 64


@pytest.fixture(scope="module")
def setup():
    torch.set_num_threads(1)
    cases, truths = disc_cases(2, slices=2, size=SIZE, seed=0)
    ctx = TrainContext(
        device="cpu", seed=0, classes=cases[0].classes, workdir=Path(tempfile.mkdtemp())
    )
    seg = UNetSegmenter(width=8, depth=3, epochs=1, batch_size=8)
    seg.fit(cases, full_labels(cases, truths), ctx)
    rng = np.random.default_rng(0)
    images = [rng.normal(0, 30, (1, SIZE, SIZE)).astype(np.float32) for _ in range(IMAGES)]
    return seg, images, ctx


@pytest.mark.benchmark(group="predict-2d")
def test_predict_per_image(benchmark, setup):
    seg, images, ctx = setup
    benchmark(lambda: [seg.predict(im, Intensity(), ctx) for im in images])


@pytest.mark.benchmark(group="predict-2d")
def test_predict_many(benchmark, setup):
    seg, images, ctx = setup
    benchmark(lambda: seg.predict_many(images, Intensity(), ctx))
