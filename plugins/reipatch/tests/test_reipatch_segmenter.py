"""The ``reipatch`` segmenter: the shared conformance suite and the cascade's contract."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest
from wsbench_plugins.reipatch.segmenter import ReipatchSegmenter

from wsbench.api import PseudoLabel
from wsbench.errors import DataError, ParameterError
from wsbench.metrics import dice
from wsbench.testing.segmenters import (
    SegmenterConformance,
    disc_cases,
    full_labels,
    multilabel_labels,
)

TINY: dict[str, Any] = {
    "image_size": 0,
    "width": 4,
    "aspp_channels": 8,
    "loc_width": 4,
    "epochs": 6,
    "loc_epochs": 6,
    "rounds": 0,  # rounds need validation to stop (below); without it they run blind
    "finetune_epochs": 1,
    "min_component": 0,
}


class TestReipatchConformance(SegmenterConformance):
    segmenter_name = "reipatch"
    overrides: ClassVar[dict[str, Any]] = TINY

    def test_predict_multilabel_shape(self, tmp_path):
        """One softmax head (a binary paper): multilabel targets are refused in one line."""
        cases, truths = disc_cases(2, classes=2, size=24, seed=2)
        seg = self.make(epochs=1)
        with pytest.raises(DataError, match="multilabel pseudo labels"):
            seg.fit(cases, multilabel_labels(cases, truths, 2), self.context(tmp_path, ("a", "b")))


def test_fused_trains_three_planes_and_soft_votes(tmp_path):
    cases, truths = disc_cases(3, size=24, seed=4)
    seg = ReipatchSegmenter(
        "quick", **{**TINY, "epochs": 2, "loc_epochs": 2, "rounds": 0, "plane": "fused"}
    )
    ctx = SegmenterConformance().context(tmp_path, cases[0].classes)
    log = seg.fit(cases[:2], full_labels(cases[:2], truths[:2]), ctx)
    assert set(log["rounds"]) == {"axial", "coronal", "sagittal"}
    image = cases[2].image[:, :20, :22]
    planes = seg.predict_planes(image, cases[2].intensity, ctx)
    fused = seg.predict(image, cases[2].intensity, ctx)
    assert fused.shape == (2, *image.shape) and fused.dtype == np.float32
    np.testing.assert_allclose(fused, np.mean(list(planes.values()), 0), atol=1e-6)


def test_validation_dice_picks_the_best_round(tmp_path):
    """Rounds stop when the validation Dice stops improving; the best round is kept."""
    cases, truths = disc_cases(5, size=24, seed=7)
    seg = ReipatchSegmenter("quick", **{**TINY, "rounds": 3, "patience": 1, "max_patches": 24})
    ctx = SegmenterConformance().context(tmp_path, cases[0].classes)
    scores = []

    def validate(model):
        prob = model.predict(cases[4].image, cases[4].intensity, ctx)
        scores.append(dice(prob.argmax(0) == 1, truths[4] == 1))
        return {"dice": scores[-1]}

    ctx.validate = validate
    log = seg.fit(cases[:4], full_labels(cases[:4], truths[:4]), ctx)
    rounds = log["rounds"]["axial"]
    assert [r["val_dice"] for r in rounds] == scores
    assert rounds[0]["patches"] == 0 and all(r["patches"] > 0 for r in rounds[1:])
    assert all(r["slices"] == rounds[0]["slices"] + r["patches"] for r in rounds[1:])
    best = max(range(len(scores)), key=lambda i: (scores[i], -i))
    assert log["planes"]["axial"]["best_round"] == best
    stopped = len(rounds) - 1
    assert stopped == 3 or scores[stopped] <= max(scores[:stopped])
    # the kept weights are the best round's
    assert validate(seg)["dice"] == pytest.approx(scores[best])


def test_bad_parameters_are_one_line_errors():
    with pytest.raises(ParameterError, match="reipatch.aspp_rates"):
        ReipatchSegmenter("quick", aspp_rates="6,x")
    with pytest.raises(ParameterError, match="reipatch.plane"):
        ReipatchSegmenter("quick", plane="oblique")
    with pytest.raises(ParameterError, match="reipatch.mu"):
        ReipatchSegmenter("quick", mu=1.5)


def test_mismatched_pseudo_labels_are_refused(tmp_path):
    cases, truths = disc_cases(2, size=24, seed=3)
    seg = ReipatchSegmenter("quick", **TINY)
    ctx = SegmenterConformance().context(tmp_path, cases[0].classes)
    bad = [PseudoLabel(cases[0].id, truths[0][:, :10], truths[0][:, :10] * 0.0, cases[0].slices)]
    with pytest.raises(DataError):
        seg.fit(cases[:1], bad, ctx)
