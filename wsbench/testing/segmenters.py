"""A conformance suite every segmenter passes, and the tiny disc data it trains on.

Subclass ``SegmenterConformance`` in a test module, set ``segmenter_name`` and small
``overrides`` (tiny width, few epochs), and pytest runs every check::

    from wsbench.testing.segmenters import SegmenterConformance

    class TestMySegmenter(SegmenterConformance):
        segmenter_name = "my-net"
        overrides = {"epochs": 8, "width": 4}

The checks use only the public API: the registry, ``fit``, ``predict``, ``save``, ``load``.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import torch

from wsbench.api import (
    WEAK_KINDS,
    FullLabel,
    Intensity,
    PseudoLabel,
    Segmenter,
    TrainContext,
    WeakCase,
)
from wsbench.metrics import dice
from wsbench.plugins import load_registry

DISC_HU = (60.0, 160.0)  # class 1 and class 2 intensities; background is 0 HU


def disc_cases(
    n_cases: int, *, slices: int = 4, size: int = 32, classes: int = 1, seed: int = 0
) -> tuple[list[WeakCase], list[np.ndarray]]:
    """Noisy volumes with one bright disc per class and slice; returns cases and task labels.

    Class 1 is a disc of 60 HU, class 2 (when ``classes == 2``) a smaller disc of 160 HU,
    on a 0 HU background with Gaussian noise (sd 30 HU). Every slice is a training slice.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    names = tuple(f"disc{k}" for k in range(1, classes + 1))
    cases, truths = [], []
    for i in range(n_cases):
        image = rng.normal(0.0, 30.0, (slices, size, size)).astype(np.float32)
        label = np.zeros((slices, size, size), np.uint8)
        for z in range(slices):
            for k in range(1, classes + 1):
                radius = rng.uniform(0.12, 0.22) * size / k
                cy, cx = rng.uniform(radius + 1, size - radius - 1, 2)
                disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
                image[z][disc] += DISC_HU[k - 1]
                label[z][disc] = k
        weak = FullLabel(slices=np.arange(slices), label=label)
        cases.append(WeakCase(f"case{i}", f"p{i}", image, (2.0, 1.0, 1.0), weak, names))
        truths.append(label)
    return cases, truths


def full_labels(cases: list[WeakCase], truths: list[np.ndarray]) -> list[PseudoLabel]:
    """Pseudo labels equal to the truth, weight 1 everywhere."""
    return [
        PseudoLabel(c.id, t, np.ones(t.shape, np.float32), c.slices) for c, t in zip(cases, truths)
    ]


def multilabel_labels(cases: list[WeakCase], truths: list[np.ndarray], k: int) -> list[PseudoLabel]:
    """SMILE-style targets: (K, Z, Y, X) one-vs-rest maps, weight 1 everywhere."""
    out = []
    for c, t in zip(cases, truths):
        target = np.stack([(t == cls).astype(np.uint8) for cls in range(1, k + 1)])
        out.append(
            PseudoLabel(c.id, target, np.ones(target.shape, np.float32), c.slices, multilabel=True)
        )
    return out


class SegmenterConformance:
    """Checks every segmenter must pass. Subclasses set ``segmenter_name``."""

    segmenter_name: ClassVar[str] = ""
    overrides: ClassVar[dict[str, Any]] = {}
    extra_plugins: ClassVar[tuple[Any, ...]] = ()  # plugin modules not installed as entry points
    dice_margin: ClassVar[float] = 0.3  # test Dice must beat the all-foreground baseline by this

    @pytest.fixture(autouse=True, scope="class")
    def _one_thread(self):
        """Tiny tensors gain nothing from intra-op threads, and on a loaded machine the
        thread pool's spinning makes them many times slower."""
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        yield
        torch.set_num_threads(before)

    # -- helpers

    def segmenter_class(self) -> type[Segmenter]:
        registry = load_registry(extra=self.extra_plugins)
        return registry.get("segmenter", self.segmenter_name)  # type: ignore[return-value]

    def make(self, **extra: Any) -> Segmenter:
        return self.segmenter_class()(profile="quick", **{**self.overrides, **extra})

    def context(self, tmp_path: Path, classes: tuple[str, ...], seed: int = 0) -> TrainContext:
        return TrainContext(device="cpu", seed=seed, classes=classes, workdir=tmp_path)

    @pytest.fixture(scope="class")
    def trained(self, tmp_path_factory):
        """One segmenter fitted on six disc volumes; four more for testing."""
        cases, truths = disc_cases(10, seed=1)
        ctx = self.context(tmp_path_factory.mktemp("fit"), cases[0].classes)
        seg = self.make()
        log = seg.fit(cases[:6], full_labels(cases[:6], truths[:6]), ctx)
        return seg, log, cases, truths, ctx

    # -- declarations

    def test_describe_profiles_params(self):
        cls = self.segmenter_class()
        info = cls.describe()
        assert info["name"] == self.segmenter_name and info["kind"] == "segmenter"
        assert info["version"] and info["citation"]
        assert {"quick", "paper"} <= set(cls.profiles)
        names = {p["name"] for p in info["params"]}
        for profile in cls.profiles:
            assert set(cls(profile=profile).p) == names
        assert all(p["doc"] for p in info["params"])

    def test_test_hint_is_a_weak_kind(self):
        cls = self.segmenter_class()
        hint = cls.test_hint
        assert hint is None or hint in WEAK_KINDS, hint
        if hint is not None:  # the runner passes the test case's weak label as ``hint=``
            assert "hint" in inspect.signature(cls.predict).parameters, (
                f"{cls.name} declares test_hint={hint!r}; its predict must take hint="
            )

    # -- training and inference

    def test_fit_lowers_loss_and_beats_baseline(self, trained):
        seg, log, cases, truths, ctx = trained
        assert len(log["loss"]) >= 2 and log["loss"][-1] < log["loss"][0]
        scores, baseline = [], []
        for case, truth in zip(cases[6:], truths[6:]):
            prob = seg.predict(case.image, case.intensity, ctx)
            scores.append(dice(prob.argmax(0) == 1, truth == 1))
            baseline.append(dice(np.ones_like(truth, bool), truth == 1))
        assert np.mean(scores) > np.mean(baseline) + self.dice_margin, (scores, baseline)

    def test_predict_multiclass_shape(self, trained):
        seg, _, cases, _, ctx = trained
        image = cases[6].image[:3, :20, :28]  # another grid than in training
        prob = seg.predict(image, Intensity(), ctx)
        assert prob.shape == (2, 3, 20, 28) and prob.dtype == np.float32
        np.testing.assert_allclose(prob.sum(0), 1.0, atol=1e-4)

    def test_predict_multilabel_shape(self, tmp_path):
        cases, truths = disc_cases(2, classes=2, size=24, seed=2)
        ctx = self.context(tmp_path, cases[0].classes)
        seg = self.make(epochs=1)
        seg.fit(cases, multilabel_labels(cases, truths, 2), ctx)
        prob = seg.predict(cases[0].image, cases[0].intensity, ctx)
        assert prob.shape == (2, *cases[0].image.shape) and prob.dtype == np.float32
        assert prob.min() >= 0.0 and prob.max() <= 1.0

    def test_save_load_reproduces_predictions(self, trained, tmp_path):
        seg, _, cases, _, ctx = trained
        path = tmp_path / "model.pt"
        seg.save(path)
        fresh = self.make()
        fresh.load(path)
        image = cases[7].image
        np.testing.assert_array_equal(
            fresh.predict(image, cases[7].intensity, ctx),
            seg.predict(image, cases[7].intensity, ctx),
        )

    def test_deterministic_on_cpu(self, trained, tmp_path):
        seg, log, cases, truths, ctx = trained
        again = self.make()
        log2 = again.fit(cases[:6], full_labels(cases[:6], truths[:6]), ctx)
        assert log2["loss"] == log["loss"]
        image = cases[8].image
        np.testing.assert_array_equal(
            again.predict(image, cases[8].intensity, ctx),
            seg.predict(image, cases[8].intensity, ctx),
        )

    def test_weight_zero_pixels_are_ignored(self, tmp_path):
        """Changing the target where the weight is 0 must not change training at all."""
        cases, truths = disc_cases(2, size=24, seed=3)
        ctx = self.context(tmp_path, cases[0].classes)
        rng = np.random.default_rng(0)
        clean, noisy = [], []
        for case, truth in zip(cases, truths):
            weight = (rng.random(truth.shape) < 0.5).astype(np.float32)
            garbage = np.where(weight > 0, truth, rng.integers(0, 2, truth.shape)).astype(np.uint8)
            clean.append(PseudoLabel(case.id, truth, weight, case.slices))
            noisy.append(PseudoLabel(case.id, garbage, weight, case.slices))
        preds = []
        for labels in (clean, noisy):
            seg = self.make(epochs=2)
            seg.fit(cases, labels, ctx)
            preds.append(seg.predict(cases[0].image, cases[0].intensity, ctx))
        assert not np.array_equal(clean[0].target, noisy[0].target)
        np.testing.assert_array_equal(preds[0], preds[1])


class SliceSegmenterConformance(SegmenterConformance):
    """``SegmenterConformance`` plus the checks of ``SliceSegmenter``'s options: slicing
    planes, batched prediction, warm start, seeded augmentation, positive weighting and
    balanced batches. Subclass it for any ``SliceSegmenter``."""

    def test_coronal_and_sagittal_predict_on_the_native_grid(self, tmp_path):
        cases, truths = disc_cases(2, size=24, seed=4)  # spacing (2, 1, 1): resampled
        ctx = self.context(tmp_path, cases[0].classes)
        for axis in ("coronal", "sagittal"):
            seg = self.make(epochs=1, axis=axis)
            log = seg.fit(cases, full_labels(cases, truths), ctx)
            assert log["slices"] == 2 * 24  # every coronal/sagittal slice holds weight
            image = cases[0].image[:, :20, :22]
            for spacing in (None, (3.0, 1.0, 1.0)):
                prob = seg.predict(image, cases[0].intensity, ctx, spacing=spacing)
                assert prob.shape == (2, *image.shape) and prob.dtype == np.float32
                np.testing.assert_allclose(prob.sum(0), 1.0, atol=1e-4)

    def test_predict_many_equals_predict(self, trained):
        seg, _, cases, _, ctx = trained
        images = [cases[6].image, cases[7].image[:2], cases[8].image[:, :20, :24]]
        many = seg.predict_many(images, cases[6].intensity, ctx)
        for image, prob in zip(images, many):
            one = seg.predict(image, cases[6].intensity, ctx)
            np.testing.assert_allclose(prob, one, rtol=1e-4, atol=1e-5)

    def test_warm_start_fine_tunes_the_trained_model(self, trained, tmp_path):
        seg, log, cases, truths, ctx = trained
        labels = full_labels(cases[:6], truths[:6])
        warm = self.make(epochs=1)
        warm.warm_start(seg)
        warm_log = warm.fit(cases[:6], labels, ctx)
        assert warm_log["loss"][0] < log["loss"][0]  # starts where training ended
        path = tmp_path / "round1.pt"
        seg.save(path)
        from_file = self.make(epochs=1)
        from_file.warm_start(path)
        assert from_file.fit(cases[:6], labels, ctx)["loss"] == warm_log["loss"]

    def test_augmentation_is_seeded(self, tmp_path):
        cases, truths = disc_cases(2, size=24, seed=5)
        ctx = self.context(tmp_path, cases[0].classes)
        labels = full_labels(cases, truths)
        strong = {"aug_scale": 0.2, "aug_rotate": 20.0, "aug_blur": 1.0, "aug_brightness": 0.3}
        logs = [self.make(epochs=1, **strong).fit(cases, labels, ctx)["loss"] for _ in range(2)]
        plain = self.make(epochs=1).fit(cases, labels, ctx)["loss"]
        assert logs[0] == logs[1] and logs[0] != plain

    def test_pos_weight_and_balanced_batches(self, tmp_path):
        cases, truths = disc_cases(2, size=24, seed=6)
        truths[1][:] = 0  # a case without foreground: negative slices to balance against
        ctx = self.context(tmp_path, cases[0].classes)
        labels = full_labels(cases, truths)
        plain = self.make(epochs=1).fit(cases, labels, ctx)["loss"]
        weighted = self.make(epochs=1, pos_weight=4.0, pos_fraction=0.5)
        loss = weighted.fit(cases, labels, ctx)["loss"]
        assert np.isfinite(loss).all() and loss != plain
