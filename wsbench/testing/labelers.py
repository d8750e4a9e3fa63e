"""A conformance suite every labeler passes, through the public API only.

Subclass ``LabelerConformance`` in a test module and set ``labeler_name``; pytest runs every
check on tiny phantom cases with weak labels from the registered protocol::

    from wsbench.testing.labelers import LabelerConformance

    class TestMyLabeler(LabelerConformance):
        labeler_name = "my-labeler"
        overrides = {"iterations": 1}     # keep it fast
        weak_protocol = "box"             # default: the first kind the labeler consumes
        segmenter_name = "unet"           # only for labelers with uses_segmenter = True

Override ``make_cases`` to use other data. The checks: declarations (name, version,
citation, documented params, quick and paper profiles, consumed kinds), ``describe()``,
registration, pseudo-label shapes, dtypes and value ranges, weights in [0, 1], slices equal
to the weak label's, and determinism for a seed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from wsbench.api import (
    WEAK_KINDS,
    Case,
    Intensity,
    LabelContext,
    Labeler,
    Param,
    PseudoLabel,
    WeakCase,
    check_pseudo_labels,
    check_weak_kind,
)
from wsbench.plugins import load_registry
from wsbench.weak.simulate import simulate_weak, weak_case


class LabelerConformance:
    """Checks every labeler must pass. Subclasses set ``labeler_name``."""

    labeler_name: ClassVar[str] = ""
    overrides: ClassVar[dict[str, Any]] = {}
    weak_protocol: ClassVar[str | None] = None
    protocol_overrides: ClassVar[dict[str, Any]] = {}
    segmenter_name: ClassVar[str | None] = None
    segmenter_overrides: ClassVar[dict[str, Any]] = {}
    seed: ClassVar[int] = 0
    extra_plugins: ClassVar[tuple[Any, ...]] = ()  # plugin modules not installed as entry points

    # -- helpers a subclass may override

    def make_cases(self) -> list[Case]:
        """Tiny task-encoded phantom cases (two patients, 32 x 32 x 4)."""
        from wsbench.testing.fixtures import tiny_phantom

        return tiny_phantom(n_patients=2, size=32, n_slices=4, seed=self.seed)

    def labeler_class(self) -> type[Labeler]:
        registry = load_registry(extra=self.extra_plugins)
        return registry.get("labeler", self.labeler_name)  # type: ignore[return-value]

    def weak_cases(self) -> list[WeakCase]:
        """The phantom cases with weak labels simulated by the registered protocol."""
        registry = load_registry()
        kind = self.weak_protocol or self.labeler_class().consumes[0]
        protocol = registry.get("protocol", kind)(profile="quick", **self.protocol_overrides)
        intensity = Intensity()  # the phantom's defaults, as a run would use them
        return [
            weak_case(c, simulate_weak(protocol, c, self.seed), intensity)
            for c in self.make_cases()
        ]

    def context(self, workdir: Path, classes: tuple[str, ...]) -> LabelContext:
        new_segmenter = None
        if self.labeler_class().uses_segmenter:
            if not self.segmenter_name:
                pytest.fail(f"{self.labeler_name} trains a segmenter: set segmenter_name")
            seg_cls = load_registry(extra=self.extra_plugins).get("segmenter", self.segmenter_name)

            def new_segmenter():
                return seg_cls(profile="quick", **self.segmenter_overrides)

        return LabelContext(
            device="cpu",
            seed=self.seed,
            classes=classes,
            workdir=workdir,
            new_segmenter=new_segmenter,
        )

    def run_labeler(self, workdir: Path) -> tuple[list[WeakCase], list[PseudoLabel]]:
        cases = self.weak_cases()
        labeler = self.labeler_class()(profile="quick", **self.overrides)
        check_weak_kind(labeler, cases)  # as the runner does before labelling
        return cases, labeler.label(cases, self.context(workdir, cases[0].classes))

    @pytest.fixture(scope="class")
    def labelled(self, tmp_path_factory):
        return self.run_labeler(tmp_path_factory.mktemp("label"))

    # -- declarations

    def test_declarations(self):
        cls = self.labeler_class()
        assert issubclass(cls, Labeler) and cls.name == self.labeler_name
        assert isinstance(cls.version, str) and cls.version
        assert isinstance(cls.citation, str) and cls.citation
        assert cls.consumes and set(cls.consumes) <= set(WEAK_KINDS), cls.consumes
        assert all(isinstance(p, Param) and p.doc for p in cls.params)
        assert {"quick", "paper"} <= set(cls.profiles)
        names = {p.name for p in cls.params}
        for profile in ("quick", "paper"):
            assert set(cls(profile=profile).p) == names

    def test_describe_is_json(self):
        info = self.labeler_class().describe()
        assert info["name"] == self.labeler_name and info["kind"] == "labeler"
        assert {"version", "citation", "params", "profiles"} <= set(info)
        json.dumps(info)

    # -- pseudo labels

    def test_one_pseudo_label_per_case(self, labelled):
        cases, pseudo = labelled
        assert [p.case_id for p in pseudo] == [c.id for c in cases]

    def test_shapes_dtypes_and_ranges(self, labelled):
        cases, pseudo = labelled
        multilabel = self.labeler_class().multilabel
        for case, p in zip(cases, pseudo):
            k = len(case.classes)
            expected = (k, *case.image.shape) if multilabel else case.image.shape
            assert p.multilabel == multilabel
            assert p.target.shape == expected and p.target.dtype == np.uint8, case.id
            assert p.weight.shape == expected and p.weight.dtype == np.float32, case.id
            assert p.target.max(initial=0) <= (1 if multilabel else k)
            assert np.isfinite(p.weight).all()
            assert p.weight.min() >= 0.0 and p.weight.max() <= 1.0
            assert p.foreground().shape == case.image.shape

    def test_passes_the_runner_contract_check(self, labelled):
        cases, pseudo = labelled  # what the runner checks before caching a labeler's output
        check_pseudo_labels(pseudo, cases, self.labeler_name, len(cases[0].classes))

    def test_slices_match_weak_label(self, labelled):
        cases, pseudo = labelled
        for case, p in zip(cases, pseudo):
            np.testing.assert_array_equal(np.asarray(p.slices), case.weak.slices)

    def test_deterministic_for_a_seed(self, labelled, tmp_path):
        _, first = labelled
        _, again = self.run_labeler(tmp_path)
        for a, b in zip(first, again):
            np.testing.assert_array_equal(a.target, b.target)
            np.testing.assert_array_equal(a.weight, b.weight)
