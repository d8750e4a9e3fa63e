"""Anchors on P2..P5, the level formula of Fan et al. 2022 Eq. (2) and negative sampling
(Fan et al. 2022 §2.3)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from wsbench_plugins.acol.anchors import (
    STRIDES,
    assign_levels,
    centre_distance,
    level_anchors,
    nearest_negatives,
    overlaps_any,
    pyramid_anchors,
    sample_negatives,
)

PAPER_SIZES = (32.0, 64.0, 128.0, 256.0)


def test_each_level_has_w_h_3_anchors_of_its_area():
    anchors = pyramid_anchors((512, 512), PAPER_SIZES)
    for level, size in zip((2, 3, 4, 5), PAPER_SIZES):
        a = anchors[level]
        side = 512 // STRIDES[level]
        assert a.shape == (side * side * 3, 4)
        w, h = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]
        np.testing.assert_allclose(w * h, size**2, rtol=1e-4)
        np.testing.assert_allclose(sorted(set(np.round(h / w, 3))), [0.5, 1.0, 2.0])


def test_anchor_centres_sit_on_feature_cells():
    a = level_anchors(2, 3, stride=8, size=16)
    centres = (a[:, :2] + a[:, 2:]) / 2
    np.testing.assert_allclose(centres[0], [4, 4])  # cell (0, 0), 3 shapes share it
    np.testing.assert_allclose(centres[3], [12, 4])  # cell (0, 1): x moves first
    np.testing.assert_allclose(centres[-1], [20, 12])


@pytest.mark.parametrize(
    "side, level", [(16, 2), (111, 2), (112, 3), (223, 3), (224, 4), (447, 4), (448, 5), (2000, 5)]
)
def test_level_formula_is_clamped_floor_4_plus_log2(side, level):
    box = np.array([[0, 0, side, side]], np.float32)
    assert assign_levels(box)[0] == level


def test_level_formula_on_rectangles():
    rng = np.random.default_rng(0)
    wh = rng.uniform(4, 600, (200, 2))
    boxes = np.concatenate([np.zeros((200, 2)), wh], 1)
    expected = [min(5, max(2, math.floor(4 + math.log2(math.sqrt(w * h) / 224)))) for w, h in wh]
    np.testing.assert_array_equal(assign_levels(boxes), expected)
    np.testing.assert_array_equal(assign_levels(boxes / 4, canonical=56.0), expected)


def test_touching_is_not_overlapping():
    gt = np.array([[10, 10, 20, 20]], np.float32)
    anchors = np.array([[20, 10, 30, 20], [0, 0, 10, 10], [19, 19, 25, 25]], np.float32)
    np.testing.assert_array_equal(overlaps_any(anchors, gt), [False, False, True])


def test_nearest_negatives_overlap_nothing_and_are_the_nearest_tenth():
    size = (128, 128)
    gt = np.array([[40, 50, 60, 66], [90, 20, 100, 34]], np.float32)
    anchors = level_anchors(32, 32, 4, 16)
    kept = nearest_negatives(anchors, gt, size, keep_fraction=0.1)
    inside = (anchors[:, :2] >= 0).all(1) & (anchors[:, 2] <= 128) & (anchors[:, 3] <= 128)
    candidates = anchors[inside & ~overlaps_any(anchors, gt)]
    assert len(kept) == math.ceil(0.1 * len(candidates))
    assert not overlaps_any(kept, gt).any()
    kept_set = {tuple(a) for a in kept}
    dropped = np.array([a for a in candidates if tuple(a) not in kept_set])
    assert centre_distance(kept, gt).max() <= centre_distance(dropped, gt).min()


def test_sample_negatives_draws_n_from_the_per_level_pools():
    size = (128, 128)
    gt = np.array([[40, 50, 60, 66]], np.float32)
    anchors = pyramid_anchors(size, (8.0, 16.0, 32.0, 64.0))
    pool = np.concatenate([nearest_negatives(a, gt, size) for a in anchors.values()])
    a = sample_negatives(anchors, gt, size, 20, np.random.default_rng(1))
    b = sample_negatives(anchors, gt, size, 20, np.random.default_rng(1))
    assert a.shape == (20, 4) and np.array_equal(a, b)
    pool_set = {tuple(x) for x in pool}
    assert all(tuple(x) in pool_set for x in a)
    every = sample_negatives(anchors, gt, size, 10**6, np.random.default_rng(1))
    assert len(every) == len(pool)
