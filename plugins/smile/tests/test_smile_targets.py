"""SMILE's targets and weight maps (§2.1), the gamma schedule and the top-fraction relabelling
(§2.2), on hand-made arrays."""

from __future__ import annotations

import numpy as np
import pytest
from wsbench_plugins.smile.targets import (
    baseline_targets,
    gamma_schedule,
    smile_targets,
    top_fraction_positives,
)

from wsbench.errors import ParameterError

# one slice, 1 x 6: background, liver (1), liver, stomach (3), background, background;
# the pancreas (2) was dropped, so its pixels are background here.
LABEL = np.array([[[0, 1, 1, 3, 0, 0]]], np.uint8)
ANNOTATED = np.array([True, False, True])


def test_baseline_keeps_the_partial_map_with_weight_one():
    target, weight = baseline_targets(LABEL)
    np.testing.assert_array_equal(target, LABEL)
    assert target.dtype == np.uint8 and weight.dtype == np.float32
    assert (weight == 1).all() and weight.shape == LABEL.shape


def test_smile_targets_are_one_binary_map_per_class():
    target, _ = smile_targets(LABEL, ANNOTATED)
    assert target.shape == (3, *LABEL.shape) and target.dtype == np.uint8
    np.testing.assert_array_equal(target[0, 0, 0], [0, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(target[1, 0, 0], [0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(target[2, 0, 0], [0, 0, 0, 1, 0, 0])


def test_smile_weights_follow_section_2_1():
    _, weight = smile_targets(LABEL, ANNOTATED)
    assert weight.dtype == np.float32
    # annotated classes: w_k = 1 at every pixel
    assert (weight[0] == 1).all() and (weight[2] == 1).all()
    # the missing pancreas: w = 1 exactly on the pixels of the annotated organs
    np.testing.assert_array_equal(weight[1, 0, 0], [0, 1, 1, 1, 0, 0])


def test_a_volume_with_every_class_missing_teaches_nothing():
    _, weight = smile_targets(np.zeros_like(LABEL), np.zeros(3, bool))
    assert not weight.any()


def test_a_fully_annotated_volume_has_weight_one_everywhere():
    label = np.array([[[0, 1, 2, 3]]], np.uint8)
    _, weight = smile_targets(label, np.ones(3, bool))
    assert (weight == 1).all()


def test_gamma_schedule_is_linear_up_to_gamma_max():
    assert gamma_schedule(2, 0.66) == pytest.approx([0.33, 0.66])
    assert gamma_schedule(3, 1.0) == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert gamma_schedule(1, 0.5) == pytest.approx([0.5])


@pytest.mark.parametrize("rounds, gamma_max", [(0, 0.5), (-1, 0.5), (2, 0.0), (2, 1.01), (2, -0.2)])
def test_gamma_schedule_rejects_bad_values(rounds, gamma_max):
    with pytest.raises(ParameterError, match=r"smiler\.(rounds|gamma_max)"):
        gamma_schedule(rounds, gamma_max)


def _prob_row() -> np.ndarray:
    # ten pixels on slice 0; six above 0.5, one of them (index 0) a certain negative
    row = np.array([0.99, 0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.2, 0.1], np.float32)
    return np.stack([row, row])[:, None, :]  # (Z=2, Y=1, X=10)


def test_top_fraction_picks_the_highest_scoring_ambiguous_positives():
    prob = _prob_row()
    weight = np.zeros_like(prob)
    weight[:, 0, 0] = 1  # a pixel of an annotated organ: never relabelled
    new = top_fraction_positives(prob, weight, slices=np.array([0]), gamma=0.6)
    # candidates on slice 0: indices 1..5 (5 pixels > 0.5, 0.5 itself is not positive)
    np.testing.assert_array_equal(np.flatnonzero(new[0, 0]), [1, 2, 3])  # round(0.6 * 5) = 3
    assert not new[1].any()  # slice 1 is not a training slice


@pytest.mark.parametrize("gamma, count", [(0.1, 1), (0.33, 2), (0.5, 3), (0.66, 3), (1.0, 5)])
def test_top_fraction_adds_round_gamma_n_pixels(gamma, count):
    prob = _prob_row()
    weight = np.zeros_like(prob)
    weight[:, 0, 0] = 1
    new = top_fraction_positives(prob, weight, np.array([0]), gamma)
    assert int(new.sum()) == count
    candidates = (prob > 0.5) & (weight == 0)
    candidates[1:] = False
    assert prob[new].min() >= prob[candidates & ~new].max(initial=0.0)


def test_no_positive_prediction_adds_nothing():
    prob = np.full((1, 4, 4), 0.3, np.float32)
    assert not top_fraction_positives(prob, np.zeros_like(prob), np.array([0]), 1.0).any()
