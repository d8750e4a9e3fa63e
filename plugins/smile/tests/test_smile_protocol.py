"""The ``partial`` weak-label protocol: organs dropped with probability alpha
(Petit et al. 2018 §3)."""

from __future__ import annotations

import numpy as np
import pytest

from wsbench.api import PartialLabel
from wsbench.errors import ParameterError
from wsbench.plugins import load_registry
from wsbench.testing.fixtures import tiny_phantom
from wsbench.weak.partial import PartialProtocol
from wsbench.weak.selection import select_slices


@pytest.fixture(scope="module")
def organ_case():
    return tiny_phantom(n_patients=1, size=32, n_slices=6, target="organs")[0]


def test_registered_as_the_partial_protocol():
    cls = load_registry().get("protocol", "partial")
    assert cls.produces == "partial" and cls.min_classes == 2


def test_drop_rate_matches_alpha(organ_case):
    protocol = PartialProtocol(alpha=0.3)
    draws = np.array(
        [
            protocol.simulate(organ_case, np.random.default_rng(seed)).annotated
            for seed in range(400)
        ]
    )
    assert draws.shape == (400, 3)
    # 1200 Bernoulli(0.3) drops: the rate is within 4 standard errors (0.053) of alpha,
    # for every class on its own too (400 draws: 4 SE = 0.092)
    assert abs((~draws).mean() - 0.3) < 0.053
    assert np.all(np.abs((~draws).mean(axis=0) - 0.3) < 0.092)
    # classes drop independently: all three dropped about 0.3 ** 3 of the time
    assert abs((~draws).all(axis=1).mean() - 0.027) < 0.035


@pytest.mark.parametrize("alpha, expected", [(0.0, True), (1.0, False)])
def test_alpha_zero_keeps_everything_and_one_drops_everything(organ_case, alpha, expected):
    for seed in range(20):
        weak = PartialProtocol(alpha=alpha).simulate(organ_case, np.random.default_rng(seed))
        assert (weak.annotated == expected).all()


def test_dropped_organs_become_background_and_kept_ones_are_untouched(organ_case):
    protocol = PartialProtocol(alpha=0.5)
    seen_both = False
    for seed in range(30):
        weak = protocol.simulate(organ_case, np.random.default_rng(seed))
        assert isinstance(weak, PartialLabel) and weak.label.dtype == np.uint8
        for k, kept in enumerate(weak.annotated, start=1):
            truth = organ_case.label == k
            np.testing.assert_array_equal(weak.label == k, truth if kept else np.zeros_like(truth))
        assert set(np.unique(weak.label)) <= {0} | {k for k in (1, 2, 3) if weak.annotated[k - 1]}
        seen_both |= bool(weak.annotated.any() and not weak.annotated.all())
    assert seen_both
    assert organ_case.label.max() == 3  # the case itself is not modified


def test_same_seed_same_drops(organ_case):
    protocol = PartialProtocol(alpha=0.5)
    a = protocol.simulate(organ_case, np.random.default_rng(7))
    b = protocol.simulate(organ_case, np.random.default_rng(7))
    np.testing.assert_array_equal(a.annotated, b.annotated)
    np.testing.assert_array_equal(a.label, b.label)
    many = {
        tuple(protocol.simulate(organ_case, np.random.default_rng(s)).annotated) for s in range(20)
    }
    assert len(many) > 1


def test_a_larger_alpha_drops_a_superset_for_the_same_generator_state(organ_case):
    for seed in range(20):
        low = PartialProtocol(alpha=0.3).simulate(organ_case, np.random.default_rng(seed))
        high = PartialProtocol(alpha=0.7).simulate(organ_case, np.random.default_rng(seed))
        assert np.all(high.annotated <= low.annotated)


def test_slices_come_from_the_shared_selection(organ_case):
    weak = PartialProtocol(alpha=0.5).simulate(organ_case, np.random.default_rng(0))
    np.testing.assert_array_equal(weak.slices, select_slices(organ_case, "organ"))
    every = PartialProtocol(alpha=0.5, slices="all").simulate(organ_case, np.random.default_rng(0))
    np.testing.assert_array_equal(every.slices, np.arange(organ_case.shape[0]))


@pytest.mark.parametrize("alpha", [-0.1, 1.5, "2"])
def test_alpha_outside_unit_interval_is_rejected(alpha):
    with pytest.raises(ParameterError, match=r"partial\.alpha=.*\[0\.0, 1\.0\]"):
        PartialProtocol(alpha=alpha)


def test_a_single_class_task_is_rejected_with_a_hint():
    case = tiny_phantom(n_patients=1, size=32, n_slices=4, target="liver")[0]
    with pytest.raises(ParameterError, match="needs a task with >= 2 classes.*--target organs"):
        PartialProtocol(alpha=0.5).simulate(case, np.random.default_rng(0))
