"""Property-based tests (hypothesis): metrics, protocols and RLE on random tiny inputs.

Every property runs 1,000 examples on arrays of at most a few hundred voxels, so the file
stays within seconds of CI time. Brute force is the reference: pairwise distances between
surface voxels found by erosion (medpy's surface definition), written out here.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage

from wsbench.api import Case
from wsbench.data.rle import decode_rle, encode_rle
from wsbench.metrics import compute_all, worst_distance
from wsbench.weak.box import BoxProtocol
from wsbench.weak.partial import PartialProtocol
from wsbench.weak.recist import RecistProtocol

MANY = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
OVERLAP = ("dice", "iou", "precision", "recall", "accuracy", "vs")
DISTANCE = ("hd95", "assd", "ahd")
SYMMETRIC = ("dice", "iou", "accuracy", "vs", "hd95", "assd", "ahd")

spacings = st.floats(0.25, 4.0, allow_nan=False, allow_infinity=False)


@st.composite
def mask_pairs(draw, ndim: int | None = None, max_side: int = 7):
    """Two boolean masks of one random 2D or 3D shape, and a spacing per axis."""
    ndim = ndim or draw(st.sampled_from((2, 3)))
    lo = 2 if ndim == 3 else 1  # a one-slice volume is scored as 2D by design
    shape = tuple(draw(st.integers(lo, max_side if ndim == 2 else 4)) for _ in range(ndim))
    pred = draw(arrays(bool, shape))
    gt = draw(arrays(bool, shape))
    spacing = tuple(draw(spacings) for _ in range(ndim))
    return pred, gt, spacing


def _surface(mask: np.ndarray) -> np.ndarray:
    structure = ndimage.generate_binary_structure(mask.ndim, 1)
    return mask & ~ndimage.binary_erosion(mask, structure=structure, border_value=0)


def _nearest(a: np.ndarray, b: np.ndarray, spacing) -> np.ndarray:
    """For every True voxel of ``a`` (C order) the distance in mm to the nearest of ``b``."""
    pa = np.argwhere(a) * np.asarray(spacing)
    pb = np.argwhere(b) * np.asarray(spacing)
    return np.sqrt(((pa[:, None, :] - pb[None, :, :]) ** 2).sum(-1)).min(1)


def brute_force(pred, gt, spacing) -> dict[str, float]:
    tp = int((pred & gt).sum())
    fp, fn = int((pred & ~gt).sum()), int((~pred & gt).sum())
    tn = pred.size - tp - fp - fn
    out = {
        "dice": 1.0 if tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn),
        "iou": 1.0 if tp + fp + fn == 0 else tp / (tp + fp + fn),
        "precision": (1.0 if fn == 0 else 0.0) if tp + fp == 0 else tp / (tp + fp),
        "recall": (1.0 if fp == 0 else 0.0) if tp + fn == 0 else tp / (tp + fn),
        "accuracy": (tp + tn) / pred.size,
        "vs": 1.0 if tp + fp + fn == 0 else 1 - abs(fp - fn) / (2 * tp + fp + fn),
    }
    if not pred.any() and not gt.any():
        out.update(hd95=0.0, assd=0.0, ahd=0.0)
    elif pred.any() != gt.any():
        worst = worst_distance(gt.shape, spacing)
        out.update(hd95=worst, assd=worst, ahd=worst)
    else:
        sp, sg = _surface(pred), _surface(gt)
        both = np.concatenate([_nearest(sp, sg, spacing), _nearest(sg, sp, spacing)])
        out["hd95"] = float(np.percentile(both, 95))
        out["assd"] = float(both.mean())
        out["ahd"] = float(
            max(_nearest(pred, gt, spacing).mean(), _nearest(gt, pred, spacing).mean())
        )
    return out


@MANY
@given(mask_pairs())
def test_metrics_agree_with_brute_force(pair):
    pred, gt, spacing = pair
    got = compute_all(pred, gt, spacing, OVERLAP + DISTANCE)
    want = brute_force(pred, gt, spacing)
    for name in OVERLAP + DISTANCE:
        assert got[name] == pytest.approx(want[name], rel=1e-9, abs=1e-9), name


@MANY
@given(mask_pairs())
def test_metrics_are_symmetric_and_bounded(pair):
    pred, gt, spacing = pair
    ab = compute_all(pred, gt, spacing, OVERLAP + DISTANCE)
    ba = compute_all(gt, pred, spacing, OVERLAP + DISTANCE)
    for name in SYMMETRIC:
        assert ab[name] == pytest.approx(ba[name], rel=1e-12, abs=1e-12), name
    assert ab["precision"] == pytest.approx(ba["recall"])
    for name in OVERLAP:
        assert 0.0 <= ab[name] <= 1.0, name
    worst = worst_distance(gt.shape, spacing)
    for name in DISTANCE:
        assert 0.0 <= ab[name] <= worst + 1e-9, name
    assert ab["iou"] <= ab["dice"] + 1e-12  # J = D / (2 - D) <= D


@MANY
@given(mask_pairs(), st.integers(0, 3), st.integers(0, 3))
def test_metrics_are_invariant_to_zero_padding(pair, before, after):
    pred, gt, spacing = pair
    pad = [(before, after)] * gt.ndim
    names = ("dice", "iou", "precision", "recall", "vs")
    if pred.any() and gt.any():  # a miss scores the field-of-view diagonal, which grows
        names += DISTANCE
    small = compute_all(pred, gt, spacing, names)
    big = compute_all(np.pad(pred, pad), np.pad(gt, pad), spacing, names)
    for name in names:
        assert big[name] == pytest.approx(small[name], rel=1e-9, abs=1e-9), name


@MANY
@given(mask_pairs())
def test_identical_masks_score_perfectly_and_empty_cases_follow_the_policy(pair):
    _, gt, spacing = pair
    same = compute_all(gt, gt, spacing, OVERLAP + DISTANCE)
    assert all(same[n] == 1.0 for n in OVERLAP) and all(same[n] == 0.0 for n in DISTANCE)
    empty = np.zeros_like(gt)
    miss = compute_all(empty, gt, spacing, ("dice",) + DISTANCE)
    if gt.any():
        assert miss["dice"] == 0.0
        assert all(miss[n] == worst_distance(gt.shape, spacing) for n in DISTANCE)


def _case(label: np.ndarray, spacing, classes) -> Case:
    return Case("c", "p", np.zeros(label.shape, np.float32), label, spacing, np.eye(4), classes)


@st.composite
def label_volumes(draw, n_classes: int = 2):
    shape = (draw(st.integers(1, 3)), draw(st.integers(2, 9)), draw(st.integers(2, 9)))
    label = draw(arrays(np.uint8, shape, elements=st.integers(0, n_classes)))
    in_plane = draw(spacings)
    spacing = (draw(spacings), in_plane, draw(st.one_of(st.just(in_plane), spacings)))
    return label, spacing


@MANY
@given(
    label_volumes(),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
    st.integers(0, 2**32 - 1),
)
def test_boxes_lie_inside_the_image_and_cover_their_component(vol, looseness, jitter, seed):
    label, spacing = vol
    case = _case(label, spacing, ("a", "b"))
    weak = BoxProtocol(profile="quick", looseness=looseness, jitter=jitter, slices="all").simulate(
        case, np.random.default_rng(seed)
    )
    _, height, width = label.shape
    for b in weak.boxes:
        assert 0 <= b.z < label.shape[0]
        assert 0 <= b.y0 < b.y1 <= height and 0 <= b.x0 < b.x1 <= width
        assert b.cls in (1, 2)
    if looseness == 0 and jitter == 0:  # tight boxes hold every voxel of their class
        for z in range(label.shape[0]):
            for cls in (1, 2):
                inside = np.zeros((height, width), bool)
                for b in weak.boxes:
                    if b.z == z and b.cls == cls:
                        inside[b.y0 : b.y1, b.x0 : b.x1] = True
                assert not ((label[z] == cls) & ~inside).any()


@MANY
@given(label_volumes(n_classes=1), st.sampled_from((0.0, 0.0, 1.0, 5.0)), st.integers(0, 2**32 - 1))
def test_recist_axes_lie_inside_the_lesion(vol, noise_mm, seed):
    label, spacing = vol
    case = _case(label, spacing, ("lesion",))
    weak = RecistProtocol(profile="quick", slices="all", noise_mm=noise_mm).simulate(
        case, np.random.default_rng(seed)
    )
    for lesion in weak.lesions:
        mask = label[lesion.z] == lesion.cls
        ends = np.array([*lesion.long_axis, *lesion.short_axis])
        assert (ends >= 0).all() and (ends <= np.array(mask.shape) - 1).all()  # in the image
        if noise_mm:
            continue
        for end in ends:  # without reader noise every endpoint is a lesion pixel
            y, x = np.rint(end).astype(int)
            assert mask[y, x], lesion
        long_mm = np.linalg.norm((ends[1] - ends[0]) * spacing[1:])
        short_mm = np.linalg.norm((ends[3] - ends[2]) * spacing[1:])
        # the long axis joins pixel centres while the short one is sampled inside pixel
        # extents, so the short axis may exceed the long one, by less than a pixel
        assert short_mm < long_mm + max(spacing[1:])
    n_components = sum(
        ndimage.label(label[z] == 1, np.ones((3, 3)))[1]
        for z in range(label.shape[0])
        if (label[z] == 1).any()
    )
    assert len(weak.lesions) == n_components


@MANY
@given(
    label_volumes(n_classes=4),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
    st.integers(0, 2**32 - 1),
)
def test_partial_drops_nest_as_alpha_grows(vol, a, b, seed):
    label, spacing = vol
    low, high = sorted((a, b))
    case = _case(label, spacing, ("a", "b", "c", "d"))
    kept_low = PartialProtocol(profile="quick", alpha=low).simulate(
        case, np.random.default_rng(seed)
    )
    kept_high = PartialProtocol(profile="quick", alpha=high).simulate(
        case, np.random.default_rng(seed)
    )
    assert not (kept_high.annotated & ~kept_low.annotated).any()  # dropped at low => at high
    for k, kept in enumerate(kept_high.annotated, start=1):
        assert ((kept_high.label == k) == ((label == k) if kept else False)).all()


@MANY
@given(
    st.tuples(st.integers(1, 12), st.integers(1, 12)).flatmap(lambda s: arrays(bool, s)),
    st.booleans(),
)
def test_rle_round_trips(mask, relative):
    text = encode_rle(mask, relative=relative)
    assert np.array_equal(decode_rle(text, mask.shape, relative=relative), mask)
    if not mask.any():
        assert text == "-1"
