"""The relabel-and-retrain loop of SelfTrainingLabeler, with a recording segmenter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from wsbench.api import FullLabel, LabelContext, PseudoLabel, Segmenter, WeakCase
from wsbench.errors import DataError, IncompatibleError
from wsbench.labelers.self_training import SelfTrainingLabeler


class Recorder(Segmenter):
    """Predicts, for class 1, the mean of the targets it was trained on (per voxel)."""

    name = "recorder"
    made: list[Recorder] = []

    def __init__(self, profile="quick", **overrides):
        super().__init__(profile, **overrides)
        self.started_from: Recorder | None = None
        self.mean: np.ndarray | None = None
        Recorder.made.append(self)

    def warm_start(self, source):
        self.started_from = source

    def fit(self, cases, labels, ctx):
        self.mean = np.mean([lab.target for lab in labels], axis=0).astype(np.float32)
        self.workdir = ctx.workdir
        return {"loss": [1.0], "warm": self.started_from is not None}

    def predict(self, image, intensity, ctx, spacing=None):
        return np.stack([1 - self.mean, self.mean])


class Halver(SelfTrainingLabeler):
    """Starts from all-ones targets; each round keeps voxels whose prediction > strength / 2."""

    name = "halver"
    consumes = ("full",)
    stop_after: int | None = None

    def initial_labels(self, cases, ctx):
        return [
            PseudoLabel(
                c.id, np.ones(c.image.shape, np.uint8), np.ones(c.image.shape, np.float32), c.slices
            )
            for c in cases
        ]

    def relabel(self, round, strength, cases, labels, segmenter, ctx):
        out = []
        for case, lab in zip(cases, labels):
            prob = segmenter.predict(case.image, case.intensity, ctx)[1]
            target = (prob * round > strength * 2 - 0.5).astype(np.uint8)
            out.append(PseudoLabel(case.id, target, lab.weight, lab.slices))
        return out

    def should_stop(self, round, segmenter, ctx):
        return self.stop_after is not None and round >= self.stop_after


def _cases(n=2):
    return [
        WeakCase(
            f"c{i}",
            f"p{i}",
            np.zeros((2, 3, 3), np.float32),
            (1.0, 1.0, 1.0),
            FullLabel(slices=np.arange(2)),
            ("a",),
        )
        for i in range(n)
    ]


def _ctx(tmp_path: Path, events: list) -> LabelContext:
    return LabelContext(
        device="cpu",
        seed=0,
        classes=("a",),
        workdir=tmp_path,
        new_segmenter=Recorder,
        progress=lambda *e: events.append(e),
    )


@pytest.mark.parametrize("warm", [False, True])
def test_rounds_schedule_history_progress_and_warm_start(tmp_path, warm):
    Recorder.made = []
    events: list = []
    labeler = Halver(rounds=3, warm_start=warm)
    cases = _cases()
    out = labeler.label(cases, _ctx(tmp_path, events))
    assert [r.round for r in labeler.history] == [0, 1, 2, 3]
    assert [r.strength for r in labeler.history] == pytest.approx([0, 1 / 3, 2 / 3, 1])
    assert out is labeler.history[-1].labels
    assert events == [("halver round", t, 3) for t in range(4)]
    assert len(Recorder.made) == 3
    assert [s.started_from for s in Recorder.made] == (
        [None, Recorder.made[0], Recorder.made[1]] if warm else [None] * 3
    )
    assert [r.fit_log["warm"] for r in labeler.history[1:]] == [False, warm, warm]
    assert [s.workdir.name for s in Recorder.made] == [f"halver-round{t}" for t in (1, 2, 3)]
    assert all(s.workdir.is_dir() for s in Recorder.made)


def test_should_stop_keeps_that_rounds_labels(tmp_path):
    labeler = Halver(rounds=5)
    labeler.stop_after = 2
    out = labeler.label(_cases(), _ctx(tmp_path, []))
    assert len(labeler.history) == 3 and out is labeler.history[2].labels


def test_needs_new_segmenter_and_one_label_per_case(tmp_path):
    ctx = _ctx(tmp_path, [])
    ctx.new_segmenter = None
    with pytest.raises(IncompatibleError, match="new_segmenter is None"):
        Halver().label(_cases(), ctx)

    class Dropper(Halver):
        name = "dropper"

        def relabel(self, *args):
            return super().relabel(*args)[:1]

    with pytest.raises(DataError, match="round 1: pseudo labels"):
        Dropper().label(_cases(), _ctx(tmp_path, []))


def test_warm_start_needs_a_segmenter_that_can(tmp_path):
    ctx = _ctx(tmp_path, [])

    class NoWarm(Segmenter):
        name = "nowarm"

        def fit(self, cases, labels, ctx):
            return {"loss": [0.0]}

        def predict(self, image, intensity, ctx, spacing=None):
            return np.stack([np.ones(image.shape, np.float32), np.zeros(image.shape, np.float32)])

    ctx.new_segmenter = NoWarm
    with pytest.raises(IncompatibleError, match="'nowarm' cannot"):
        Halver(rounds=2, warm_start=True).label(_cases(), ctx)
