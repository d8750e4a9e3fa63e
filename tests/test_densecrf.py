"""DenseCRF refinement: unaries, pairwise smoothing, crops, workers, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from wsbench.api import Intensity
from wsbench.errors import ParameterError
from wsbench.metrics import dice
from wsbench.params import resolve
from wsbench.refine.densecrf import CrfItem, CrfParams, crf_params, refine, refine_many, unaries


def noisy_disc(size: int = 64, radius: float = 10.0, seed: int = 0):
    """A bright disc (120 HU) in a 40 HU liver-like slice with noise, as uint8, and its mask."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    disc = (yy - size / 2) ** 2 + (xx - size / 2) ** 2 <= radius**2
    hu = np.where(disc, 120.0, 40.0) + rng.normal(0, 8, (size, size))
    return Intensity().to_uint8(hu.astype(np.float32)), disc


def test_unaries_are_negative_log_probabilities():
    p = np.array([[0.0, 0.25], [0.5, 1.0]], np.float32)
    u = unaries(p, clip=1e-3)
    assert u.shape == (2, 4) and u.dtype == np.float32 and u.flags.c_contiguous
    np.testing.assert_allclose(u[0], -np.log([1 - 1e-3, 0.75, 0.5, 1e-3]), rtol=1e-4)
    np.testing.assert_allclose(u[1], -np.log([1e-3, 0.25, 0.5, 1 - 1e-3]), rtol=1e-4)


def test_no_pairwise_terms_return_the_unary_posterior():
    image, _ = noisy_disc()
    prob = np.random.default_rng(1).uniform(0, 1, image.shape).astype(np.float32)
    params = CrfParams(gaussian_compat=0, bilateral_compat=0, iterations=3, clip=1e-4)
    out = refine(image, prob, params)
    np.testing.assert_allclose(out, np.clip(prob, 1e-4, 1 - 1e-4), atol=1e-4)


def test_bilateral_term_snaps_a_blurred_map_to_the_edge():
    image, disc = noisy_disc()
    yy, xx = np.mgrid[:64, :64]
    # a too-wide soft blob: thresholding it at 0.5 overshoots the disc
    prob = np.exp(-((yy - 32) ** 2 + (xx - 32) ** 2) / (2 * 11.0**2)).astype(np.float32)
    before = dice(prob > 0.5, disc)
    after = dice(refine(image, prob, CrfParams(bilateral_compat=10, iterations=10)) > 0.5, disc)
    assert after > before + 0.05 and after > 0.9


def test_crop_leaves_the_outside_untouched_and_margin_widens_it():
    image, _ = noisy_disc()
    prob = np.full(image.shape, 0.3, np.float32)
    prob[20:44, 20:44] = 0.7
    out = refine(image, prob, CrfParams(margin=0), crop=(24, 24, 40, 40))
    outside = np.ones(image.shape, bool)
    outside[24:40, 24:40] = False
    np.testing.assert_array_equal(out[outside], prob[outside])
    wide = refine(image, prob, CrfParams(margin=4), crop=(24, 24, 40, 40))
    assert not np.array_equal(wide[20:24, 24:40], prob[20:24, 24:40])
    np.testing.assert_array_equal(wide[:20], prob[:20])


def test_refine_many_matches_refine_with_two_workers():
    items = []
    for seed in range(3):
        image, disc = noisy_disc(seed=seed)
        items.append(CrfItem(image, disc.astype(np.float32) * 0.8 + 0.1, (16, 16, 48, 48)))
    params = CrfParams()
    serial = refine_many(items, params, workers=1)
    parallel = refine_many(items, params, workers=2)
    for a, b, it in zip(serial, parallel, items):
        np.testing.assert_allclose(a, b)
        np.testing.assert_allclose(a, refine(it.image, it.prob, params, it.crop))


@pytest.mark.parametrize(
    "image, prob, crop, match",
    [
        (np.zeros((8, 8), np.uint8), np.zeros((8, 9), np.float32), None, "same shape"),
        (np.zeros((8, 8), np.float32), np.zeros((8, 8), np.float32), None, "uint8"),
        (np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.float32), (2, 2, 2, 6), "empty"),
        (np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.float32), (0, 0, 9, 4), "outside"),
    ],
)
def test_bad_inputs_raise_one_line_errors(image, prob, crop, match):
    with pytest.raises(ValueError, match=match) as info:
        refine(image, prob, CrfParams(), crop)
    assert "\n" not in str(info.value)


def test_bad_params_and_workers():
    with pytest.raises(ParameterError, match="bilateral_srgb"):
        CrfParams(bilateral_srgb=0)
    with pytest.raises(ParameterError, match="confidence"):
        CrfParams(confidence=0)
    with pytest.raises(ParameterError, match="workers"):
        refine_many([], CrfParams(), workers=0)


def test_declared_params_round_trip_through_a_plugin_profile():
    declared = crf_params(CrfParams(margin=3))
    values = resolve("demo", declared, {"quick": {}}, "quick", {"crf_iterations": "7"})
    params = CrfParams.from_plugin(values)
    assert params.margin == 3 and params.iterations == 7
    with pytest.raises(ParameterError, match="demo.crf_clip"):
        resolve("demo", declared, {"quick": {}}, "quick", {"crf_clip": "0.7"})
