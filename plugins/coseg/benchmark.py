"""The claims' harness: Agarwal et al. 2020's protocol on the phantom, at CPU size.

RECIST marks on every tumour slice of the training patients (``recist`` protocol,
``slices=target``), GrabCut pseudo masks, a segmenter trained on the lesion crops, and
test-time RECIST hints simulated on the test patients in the hint seed stream, as
``wsbench run`` does. Scores are per lesion, as the paper scores: each 2D component of
the test label in its own box (``wsbench.per_image.evaluate_lesions``, what
``evaluate=lesions`` gives a grid). One model serves several predictions (the DenseCRF on
and off), which a ``wsbench run`` grid would train twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import numpy as np

from wsbench.api import Case, LabelContext, PseudoLabel, RecistLabel, TrainContext, WeakCase
from wsbench.data.splits import split_dataset
from wsbench.metrics import compute_all
from wsbench.per_image import evaluate_lesions
from wsbench.plugins import load_registry
from wsbench.weak.simulate import TEST_HINT_STREAM, simulate_weak, weak_case

METRICS = ("recall", "precision", "dice", "ahd", "vs")
# the phantom at claim size: 12 patients (9 training, 3 test), tumours as the quick phantom
PHANTOM = {"n_patients": 12, "val_fraction": 0.0, "test_fraction": 0.25}

Scores = dict[int, dict[str, float]]  # seed -> unit -> value


@dataclass
class Benchmark:
    train: list[WeakCase]
    labels: list[PseudoLabel]
    test: list[tuple[Case, RecistLabel]]
    classes: tuple[str, ...]


def phantom_benchmark(seed: int = 0, **phantom: Any) -> Benchmark:
    """Training cases with GrabCut pseudo labels, and test cases with their RECIST hints."""
    registry = load_registry()
    dataset = registry.get("dataset", "synthetic")("quick", **{**PHANTOM, **phantom})
    task = dataset.tasks()["tumor"]
    splits = split_dataset(dataset)
    protocol = registry.get("protocol", "recist")("quick", slices="target")
    intensity = dataset.intensity()
    train = []
    for info in splits["train"]:
        case = dataset.load_case(info, task)
        train.append(weak_case(case, simulate_weak(protocol, case, seed), intensity))
    test = []
    for info in splits["test"]:
        case = dataset.load_case(info, task)
        test.append((case, simulate_weak(protocol, case, seed, TEST_HINT_STREAM)))
    labeler = registry.get("labeler", "grabcut")("quick")
    with TemporaryDirectory() as tmp:
        ctx = LabelContext("cpu", seed, task.classes, Path(tmp))
        labels = labeler.label(train, ctx)
    return Benchmark(train, labels, test, task.classes)


def train(bench: Benchmark, segmenter: str, seed: int, overrides: Mapping[str, Any]):
    """A fitted segmenter of the quick profile with ``overrides``."""
    seg = load_registry().get("segmenter", segmenter)("quick", **dict(overrides))
    with TemporaryDirectory() as tmp:
        seg.fit(bench.train, bench.labels, TrainContext("cpu", seed, bench.classes, Path(tmp)))
    return seg


def score(bench: Benchmark, seg, **predict_params: Any) -> dict[str, dict[str, float]]:
    """``{unit: {metric: value}}`` over the test lesions; ``predict_params``
    are set on the segmenter for this prediction only (e.g. ``crf=True``)."""
    before = {k: seg.p[k] for k in predict_params}
    seg.p.update(predict_params)
    out = {}
    try:
        with TemporaryDirectory() as tmp:
            ctx = TrainContext("cpu", 0, bench.classes, Path(tmp))
            for case, hint in bench.test:
                prob = seg.predict(case.image, bench.train[0].intensity, ctx, case.spacing, hint)
                pred = (prob.argmax(0) > 0).astype(np.uint8)
                for row in evaluate_lesions(pred, case, _lesion_metrics):
                    out[row["case"]] = {m: float(row[m]) for m in METRICS}
    finally:
        seg.p.update(before)
    return out


def _lesion_metrics(
    pred: np.ndarray, gt: np.ndarray, spacing: tuple[float, ...]
) -> dict[str, float]:
    return compute_all(pred > 0, gt > 0, spacing, METRICS)


def metric(table: Mapping[int, Mapping[str, Mapping[str, float]]], name: str) -> Scores:
    """``{seed: {unit: value}}`` of one metric, for ``wsbench.testing.claims``."""
    return {s: {u: v[name] for u, v in units.items()} for s, units in table.items()}


def means(table: Mapping[int, Mapping[str, Mapping[str, float]]]) -> dict[str, float]:
    """Each metric's mean over seeds of the per-seed mean over units."""
    return {
        m: float(np.mean([np.nanmean([v[m] for v in units.values()]) for units in table.values()]))
        for m in METRICS
    }
