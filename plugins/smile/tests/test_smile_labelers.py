"""The labelers partial, smile and smiler: the shared conformance suite, and SMILEr's
relabelling loop driven through a stub segmenter (public API only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from wsbench.api import Intensity, LabelContext, PartialLabel, Segmenter, WeakCase
from wsbench.errors import IncompatibleError, ParameterError, WeakLabelError
from wsbench.plugins import load_registry
from wsbench.testing.fixtures import tiny_phantom
from wsbench.testing.labelers import LabelerConformance

CLASSES = ("liver", "pancreas", "stomach")


class OrganCases:
    """Conformance on the three-organ task, with about half the organs missing."""

    weak_protocol = "partial"
    protocol_overrides: ClassVar[dict[str, Any]] = {"alpha": 0.5}

    def make_cases(self):
        return tiny_phantom(n_patients=3, size=32, n_slices=4, seed=self.seed, target="organs")


class TestPartialConformance(OrganCases, LabelerConformance):
    labeler_name = "partial"


class TestSmileConformance(OrganCases, LabelerConformance):
    labeler_name = "smile"


class TestSmilerConformance(OrganCases, LabelerConformance):
    labeler_name = "smiler"
    overrides: ClassVar[dict[str, Any]] = {"rounds": 1}
    segmenter_name = "unet"
    segmenter_overrides: ClassVar[dict[str, Any]] = {"epochs": 1, "width": 4, "depth": 2}


# -- hand-made cases and a stub segmenter


def _case(case_id: str, label: np.ndarray, annotated: tuple[bool, ...]) -> WeakCase:
    partial = label.copy()
    for k, kept in enumerate(annotated, start=1):
        if not kept:
            partial[partial == k] = 0
    weak = PartialLabel(
        slices=np.arange(label.shape[0]), label=partial, annotated=np.array(annotated)
    )
    return WeakCase(case_id, case_id, label.astype(np.float32), (1.0, 1.0, 1.0), weak, CLASSES)


def _cases() -> list[WeakCase]:
    label = np.zeros((2, 4, 5), np.uint8)
    label[:, 0, :2] = 1  # liver
    label[:, 1, :3] = 2  # pancreas
    label[:, 2, :4] = 3  # stomach
    return [_case("a", label, (True, False, True)), _case("b", label, (False, True, False))]


class StubSegmenter(Segmenter):
    """Predicts fixed sigmoid maps and records what it was trained on and started from."""

    name = "stub"
    trained_on: ClassVar[list[list[Any]]] = []
    started_from: ClassVar[list[Any]] = []

    def __init__(self, prob: np.ndarray):
        super().__init__()
        self.prob = prob
        self.source = None

    def warm_start(self, source):
        self.source = source

    def fit(self, cases, labels, ctx):
        StubSegmenter.trained_on.append(list(labels))
        StubSegmenter.started_from.append(self.source)
        return {"loss": [0.0]}

    def predict(self, image: np.ndarray, intensity: Intensity, ctx) -> np.ndarray:
        return self.prob


def _stub_probabilities(shape: tuple[int, ...]) -> np.ndarray:
    """Every class scored by a ramp: higher to the left, > 0.5 on the left 14 of 20 pixels."""
    ramp = np.linspace(0.99, 0.05, int(np.prod(shape[1:]))).reshape(shape[1:])
    return np.stack([ramp] * shape[0]).astype(np.float32)


def _smiler(**params):
    return load_registry().get("labeler", "smiler")(profile="quick", **params)


def _context(tmp_path: Path, prob: np.ndarray | None) -> LabelContext:
    return LabelContext(
        device="cpu",
        seed=0,
        classes=CLASSES,
        workdir=tmp_path,
        new_segmenter=None if prob is None else (lambda: StubSegmenter(prob)),
    )


def test_smiler_adds_exactly_the_top_gamma_fraction(tmp_path):
    cases = _cases()
    prob = _stub_probabilities((3, 2, 4, 5))
    smile = load_registry().get("labeler", "smile")().label(cases, _context(tmp_path, None))
    StubSegmenter.trained_on.clear()
    out = _smiler(rounds=2, gamma_max=0.66).label(cases, _context(tmp_path, prob))
    assert len(StubSegmenter.trained_on) == 2  # rounds t = 1, 2; the runner trains the last
    # round 1 trains on the SMILE targets themselves
    np.testing.assert_array_equal(StubSegmenter.trained_on[0][0].weight, smile[0].weight)
    for case, base, final in zip(cases, smile, out):
        assert final.multilabel and final.target.shape == (3, 2, 4, 5)
        for k, kept in enumerate(case.weak.annotated):
            if kept:  # annotated classes are never touched
                np.testing.assert_array_equal(final.target[k], base.target[k])
                np.testing.assert_array_equal(final.weight[k], base.weight[k])
                continue
            candidates = (prob[k] > 0.5) & (base.weight[k] == 0)
            added = (final.weight[k] == 1) & (base.weight[k] == 0)
            assert added.sum() == int(np.floor(0.66 * candidates.sum() + 0.5))
            assert (final.target[k][added] == 1).all()
            assert prob[k][added].min() >= prob[k][candidates & ~added].max(initial=0.0)
            # certain negatives (pixels of annotated organs) stay negative
            np.testing.assert_array_equal(final.target[k][base.weight[k] == 1], 0)


def test_smiler_second_round_trains_on_the_gamma_one_targets(tmp_path):
    cases = _cases()
    prob = _stub_probabilities((3, 2, 4, 5))
    StubSegmenter.trained_on.clear()
    _smiler(rounds=2, gamma_max=0.66).label(cases, _context(tmp_path, prob))
    round2 = StubSegmenter.trained_on[1][1]  # case b: liver and stomach missing
    candidates = (prob[0] > 0.5) & ~np.isin(cases[1].weak.label, [2])
    assert round2.target[0].sum() == int(np.floor(0.33 * candidates.sum() + 0.5))


def test_smiler_on_fully_annotated_data_is_smile_without_training(tmp_path):
    label = _cases()[0].weak.label
    cases = [_case("a", label, (True, True, True))]
    StubSegmenter.trained_on.clear()
    out = _smiler().label(cases, _context(tmp_path, _stub_probabilities((3, 2, 4, 5))))
    assert StubSegmenter.trained_on == []
    assert (out[0].weight == 1).all()


def test_smiler_needs_a_segmenter_factory(tmp_path):
    with pytest.raises(IncompatibleError, match="new_segmenter"):
        _smiler().label(_cases(), _context(tmp_path, None))


def test_smiler_rejects_softmax_predictions(tmp_path):
    softmax = np.full((4, 2, 4, 5), 0.25, np.float32)  # K + 1 channels
    with pytest.raises(IncompatibleError, match="sigmoid"):
        _smiler(rounds=1).label(_cases(), _context(tmp_path, softmax))


@pytest.mark.parametrize(
    "params", [{"rounds": 0}, {"rounds": -2}, {"gamma_max": 0.0}, {"gamma_max": 1.2}]
)
def test_smiler_rejects_bad_parameters(params):
    with pytest.raises(ParameterError, match=r"smiler\.(rounds|gamma_max)=.* it must be"):
        _smiler(**params)


def test_paper_profile_is_t2_gamma066_warm_started_with_relabelling():
    p = load_registry().get("labeler", "smiler")(profile="paper").p
    assert (p["rounds"], p["gamma_max"]) == (2, 0.66)
    assert p["warm_start"] and p["relabel"] and p["ambiguity"]


@pytest.mark.parametrize("warm", [True, False])
def test_smiler_round_two_starts_from_round_one_when_warm(tmp_path, warm):
    prob = _stub_probabilities((3, 2, 4, 5))
    StubSegmenter.started_from.clear()
    labeler = _smiler(rounds=2, warm_start=warm)
    labeler.label(_cases(), _context(tmp_path, prob))
    first, second = StubSegmenter.started_from
    assert first is None  # round 1 is SMILE, from a fresh network
    assert (second is not None) == warm
    assert [r.round for r in labeler.history] == [0, 1, 2]
    assert [r.strength for r in labeler.history[1:]] == pytest.approx([0.33, 0.66])


@pytest.mark.parametrize("name", ["partial", "smile", "smiler"])
def test_labelers_reject_other_weak_labels(tmp_path, name):
    from wsbench.api import BoxLabel

    case = _cases()[0]
    case.weak = BoxLabel(slices=case.weak.slices)
    from wsbench.api import check_weak_kind

    labeler = load_registry().get("labeler", name)()
    with pytest.raises(WeakLabelError, match="--weak partial"):  # the runner's check
        check_weak_kind(labeler, [case])


def test_the_baseline_treats_missing_organs_as_background(tmp_path):
    cases = _cases()
    out = load_registry().get("labeler", "partial")().label(cases, _context(tmp_path, None))
    np.testing.assert_array_equal(out[1].target, cases[1].weak.label)
    assert set(np.unique(out[1].target)) == {0, 2}
    assert (out[1].weight == 1).all() and not out[1].multilabel


def test_the_w1_mutant_trains_missing_organs_as_certain_negatives(tmp_path):
    cases = _cases()
    smile = load_registry().get("labeler", "smile")
    real = smile().label(cases, _context(tmp_path, None))
    mutant = smile(ambiguity=False).label(cases, _context(tmp_path, None))
    for r, m in zip(real, mutant):
        np.testing.assert_array_equal(m.target, r.target)
        assert (m.weight == 1).all() and (r.weight == 0).any()


def test_the_no_relabel_mutant_retrains_every_round_on_the_smile_targets(tmp_path):
    cases = _cases()
    prob = _stub_probabilities((3, 2, 4, 5))
    smile = load_registry().get("labeler", "smile")().label(cases, _context(tmp_path, None))
    StubSegmenter.trained_on.clear()
    out = _smiler(rounds=2, relabel=False).label(cases, _context(tmp_path, prob))
    assert len(StubSegmenter.trained_on) == 2  # the rounds still train
    for labels in [*StubSegmenter.trained_on, out]:
        for got, base in zip(labels, smile):
            np.testing.assert_array_equal(got.target, base.target)
            np.testing.assert_array_equal(got.weight, base.weight)
