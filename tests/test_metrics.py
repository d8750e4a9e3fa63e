"""Metrics against medpy (same surface definition: tight) and MONAI (overlap: tight; HD95:
the same directed distances, a different way of pooling), both nearest-neighbour searches
against brute force, the empty policy (misses get the worst-case distance), and AHD."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from medpy.metric import binary as medpy_binary
from monai.metrics import (
    compute_average_surface_distance,
    compute_dice,
    compute_hausdorff_distance,
    compute_iou,
    get_confusion_matrix,
)
from scipy import ndimage
from scipy.spatial.distance import cdist

from wsbench import metrics
from wsbench.errors import DataError, UnknownPluginError
from wsbench.metrics import nearest
from wsbench.plugins import load_registry
from wsbench.stats import mean_sd

CASES = [  # shape, spacing (anisotropic), seed
    ((20, 40, 36), (2.5, 0.8, 0.7), 0),
    ((20, 40, 36), (2.5, 0.8, 0.7), 1),
    ((12, 30, 30), (5.0, 0.6, 0.6), 2),
    ((60, 50), (0.9, 0.6), 3),
    ((60, 50), (1.0, 1.7), 4),
]


def blob_pair(shape, seed: int, fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Smooth random blobs (thresholded smoothed noise) and a perturbed copy of them; both
    touch the array border in places, which the bounding-box crop must not change."""
    rng = np.random.default_rng(seed)
    base = ndimage.gaussian_filter(rng.normal(size=shape), 3)
    other = ndimage.gaussian_filter(rng.normal(size=shape), 3)
    gt = base > np.quantile(base, 1 - fraction)
    mix = base + 0.3 * other * base.std() / other.std()
    pred = mix > np.quantile(mix, 1 - 1.1 * fraction)
    return pred, gt


def _monai(pred, gt):
    return torch.from_numpy(pred)[None, None].float(), torch.from_numpy(gt)[None, None].float()


@pytest.mark.parametrize("shape, spacing, seed", CASES)
def test_overlap_matches_medpy_and_monai(shape, spacing, seed):
    pred, gt = blob_pair(shape, seed)
    ours = metrics.compute_all(pred, gt, spacing)
    assert ours["dice"] == pytest.approx(medpy_binary.dc(pred, gt), abs=1e-12)
    assert ours["iou"] == pytest.approx(medpy_binary.jc(pred, gt), abs=1e-12)
    assert ours["precision"] == pytest.approx(medpy_binary.precision(pred, gt), abs=1e-12)
    assert ours["recall"] == pytest.approx(medpy_binary.recall(pred, gt), abs=1e-12)
    p, g = _monai(pred, gt)
    assert ours["dice"] == pytest.approx(compute_dice(p, g).item(), abs=1e-6)
    assert ours["iou"] == pytest.approx(compute_iou(p, g).item(), abs=1e-6)
    tp, fp, tn, fn = get_confusion_matrix(p, g)[0, 0].tolist()  # MONAI's own counts
    assert ours["accuracy"] == pytest.approx((tp + tn) / (tp + fp + tn + fn), abs=1e-12)
    assert ours["vs"] == pytest.approx(1 - abs(fp - fn) / (2 * tp + fp + fn), abs=1e-12)


@pytest.fixture(params=["kdtree", "ball"])
def search(request, monkeypatch):
    """Run a test once per nearest-neighbour search: "auto" picks the one named here."""
    limit = 10**12 if request.param == "kdtree" else 0
    monkeypatch.setattr(nearest, "BALL_SEARCH_MIN_POINTS", limit)
    return request.param


@pytest.mark.parametrize("shape, spacing, seed", CASES)
def test_surface_metrics_equal_medpy(shape, spacing, seed, search):
    pred, gt = blob_pair(shape, seed)
    ours = metrics.compute_all(pred, gt, spacing, ("hd95", "assd"))
    assert ours["hd95"] == pytest.approx(medpy_binary.hd95(pred, gt, spacing), rel=1e-12)
    assert ours["assd"] == pytest.approx(medpy_binary.assd(pred, gt, spacing), rel=1e-12)
    assert metrics.hd95(pred, gt, spacing) == ours["hd95"]
    assert metrics.assd(pred, gt, spacing) == ours["assd"]


@pytest.mark.parametrize("shape, spacing, seed", CASES)
def test_surface_metrics_against_monai(shape, spacing, seed, search):
    """MONAI finds the same surfaces and distances (ASSD equal to float32 precision) but its
    HD95 is the larger of the two directed 95th percentiles, where ours (medpy's) is the 95th
    percentile of both sets pooled, so ours is never larger."""
    pred, gt = blob_pair(shape, seed)
    p, g = _monai(pred, gt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        monai_hd95 = compute_hausdorff_distance(p, g, percentile=95, spacing=spacing).item()
        monai_assd = compute_average_surface_distance(p, g, symmetric=True, spacing=spacing).item()
    to_gt, to_pred = metrics.surface_distances(pred, gt, spacing)
    assert metrics.assd(pred, gt, spacing) == pytest.approx(monai_assd, rel=1e-5)
    directed_max = max(np.percentile(to_gt, 95), np.percentile(to_pred, 95))
    assert directed_max == pytest.approx(monai_hd95, rel=1e-5)
    assert metrics.hd95(pred, gt, spacing) <= monai_hd95 * (1 + 1e-5)


def test_disjoint_masks_equal_medpy(search):
    pred, gt = blob_pair((16, 40, 40), 9, fraction=0.03)
    pred = np.roll(pred, (3, 15, -9), axis=(0, 1, 2))
    spacing = (2.0, 0.8, 1.1)
    ours = metrics.compute_all(pred, gt, spacing, ("hd95", "assd"))
    assert ours["hd95"] == pytest.approx(medpy_binary.hd95(pred, gt, spacing), rel=1e-12)
    assert ours["assd"] == pytest.approx(medpy_binary.assd(pred, gt, spacing), rel=1e-12)


def test_crop_does_not_change_distances():
    pred, gt = blob_pair((16, 32, 32), 5)
    big_pred, big_gt = (np.pad(m, 6) for m in (pred, gt))
    spacing = (3.0, 0.7, 0.9)
    assert metrics.compute_all(big_pred, big_gt, spacing, ("hd95", "assd", "ahd")) == (
        pytest.approx(metrics.compute_all(pred, gt, spacing, ("hd95", "assd", "ahd")), rel=1e-12)
    )


def test_ahd_hand_computed():
    """A: x 0..3 on one row; B: x 0..5. d(A, B) = 0; d(B, A) = (0 * 4 + 1 + 2) / 6 mm * 2 mm
    spacing along x = 1.0 mm; AHD = max = 1.0."""
    a = np.zeros((3, 8), bool)
    b = np.zeros((3, 8), bool)
    a[1, 0:4] = True
    b[1, 0:6] = True
    assert metrics.ahd(a, b, (1.0, 2.0)) == pytest.approx(1.0)
    assert metrics.ahd(b, a, (1.0, 2.0)) == pytest.approx(1.0)
    # two single points 3 rows and 4 columns apart: a plain Euclidean distance
    p, q = np.zeros((5, 5), bool), np.zeros((5, 5), bool)
    p[0, 0], q[3, 4] = True, True
    assert metrics.ahd(p, q, (1.0, 1.0)) == pytest.approx(5.0)


def test_empty_policy():
    empty = np.zeros((4, 10, 10), bool)
    blob = empty.copy()
    blob[1:3, 2:6, 3:7] = True
    both = metrics.compute_all(empty, empty, (2.0, 1.0, 1.0))
    assert {k: both[k] for k in metrics.OVERLAP_METRICS} == dict.fromkeys(
        metrics.OVERLAP_METRICS, 1.0
    )
    assert both["hd95"] == both["assd"] == both["ahd"] == 0.0
    diagonal = np.sqrt((4 * 2.0) ** 2 + 10.0**2 + 10.0**2)  # field of view, mm
    assert metrics.worst_distance((4, 10, 10), (2.0, 1.0, 1.0)) == pytest.approx(diagonal)
    for pred, gt in ((empty, blob), (blob, empty)):  # missed, then spurious
        one = metrics.compute_all(pred, gt, (2.0, 1.0, 1.0))
        assert one["dice"] == one["iou"] == one["vs"] == 0.0
        assert one["precision"] == 0.0 and one["recall"] == 0.0
        assert 0.0 < one["accuracy"] < 1.0
        assert [one[k] for k in ("hd95", "assd", "ahd")] == [pytest.approx(diagonal)] * 3
    assert metrics.surface_distances(empty, blob, (2.0, 1.0, 1.0))[0].size == 0
    # a one-slice volume is a 2D image: the diagonal of the slice
    flat = metrics.compute_all(blob[1:2], empty[1:2], (2.0, 1.0, 1.0), ("hd95",))
    assert flat["hd95"] == pytest.approx(np.sqrt(200.0))


def test_worst_distance_exceeds_every_real_distance():
    """Two single voxels in opposite corners are as far apart as two masks can be; a miss
    must still score worse."""
    shape, spacing = (5, 12, 9), (3.0, 0.7, 1.1)
    pred, gt = np.zeros(shape, bool), np.zeros(shape, bool)
    pred[0, 0, 0], gt[-1, -1, -1] = True, True
    found = metrics.compute_all(pred, gt, spacing, ("hd95", "assd", "ahd"))
    missed = metrics.compute_all(np.zeros(shape, bool), gt, spacing, ("hd95", "assd", "ahd"))
    for name in found:
        assert found[name] < missed[name] == metrics.worst_distance(shape, spacing)


def test_summarize_is_over_cases_with_sample_sd():
    rows = [
        {"dice": 0.5, "hd95": 2.0},
        {"dice": 0.0, "hd95": float("nan")},  # a plugin metric may still be undefined
        {"dice": 1.0, "hd95": 4.0},
    ]
    summary = metrics.summarize(rows)
    assert summary["dice"]["mean_over_cases"] == pytest.approx(0.5)
    assert summary["dice"]["sd_over_cases"] == pytest.approx(np.std([0.5, 0.0, 1.0], ddof=1))
    assert summary["dice"]["sd_over_cases"] == mean_sd([0.5, 0.0, 1.0]).sd
    assert summary["dice"]["median_over_cases"] == 0.5 and summary["dice"]["n_nan"] == 0
    assert summary["hd95"]["mean_over_cases"] == pytest.approx(3.0)
    assert summary["hd95"]["n_cases"] == 2 and summary["hd95"]["n_nan"] == 1
    assert np.isnan(metrics.summarize([{"dice": 0.5}])["dice"]["sd_over_cases"])


def test_one_slice_volume_is_a_2d_image():
    pred, gt = blob_pair((40, 30), 6)
    flat = metrics.compute_all(pred, gt, (0.8, 0.6))
    assert metrics.compute_all(pred[None], gt[None], (5.0, 0.8, 0.6)) == flat


def test_compute_classes_and_multilabel():
    gt = np.zeros((3, 20, 20), np.uint8)
    gt[:, 2:12, 2:12] = 1
    gt[:, 5:8, 5:8] = 2
    pred = gt.copy()
    pred[:, 5:8, 5:8] = 1  # class 2 missed entirely
    out = metrics.compute_classes(pred, gt, (2.0, 1.0, 1.0), ("liver", "tumor"), ("dice", "hd95"))
    assert out["dice/tumor"] == 0.0
    assert out["hd95/tumor"] == metrics.worst_distance(gt.shape, (2.0, 1.0, 1.0))
    assert out["dice/liver"] == pytest.approx(metrics.dice(pred == 1, gt == 1))
    assert out["dice"] == pytest.approx(out["dice/liver"] / 2)
    assert out["hd95"] == pytest.approx((out["hd95/liver"] + out["hd95/tumor"]) / 2)
    assert out["missed/tumor"] == 1.0 and out["missed/liver"] == 0.0
    assert out["spurious/tumor"] == 0.0 and out["spurious/liver"] == 0.0
    stack = np.stack([(gt >= 1), (gt == 2)]).astype(np.uint8)  # overlapping multilabel
    multi = metrics.compute_classes(stack, gt, (2.0, 1.0, 1.0), ("liver", "tumor"), ("dice",))
    assert multi["dice/tumor"] == 1.0 and multi["dice/liver"] < 1.0
    assert multi["missed/tumor"] == multi["spurious/tumor"] == 0.0


def test_spurious_and_absent_classes_are_flagged():
    gt = np.zeros((3, 20, 20), np.uint8)
    gt[:, 2:12, 2:12] = 1  # no tumour in this case
    pred = gt.copy()
    out = metrics.compute_classes(pred, gt, (2.0, 1.0, 1.0), ("liver", "tumor"), ("dice", "assd"))
    assert out["dice/tumor"] == 1.0 and out["assd/tumor"] == 0.0  # absent and not predicted
    assert out["spurious/tumor"] == out["missed/tumor"] == 0.0
    pred[1, 15:18, 15:18] = 2  # a false tumour
    out = metrics.compute_classes(pred, gt, (2.0, 1.0, 1.0), ("liver", "tumor"), ("dice", "assd"))
    assert out["spurious/tumor"] == 1.0 and out["missed/tumor"] == 0.0
    assert out["assd/tumor"] == metrics.worst_distance(gt.shape, (2.0, 1.0, 1.0))
    assert out["dice/tumor"] == 0.0


def test_per_slice():
    pred, gt = blob_pair((6, 30, 30), 7)
    pred[0], gt[0] = False, False
    rows = metrics.per_slice(pred, gt, (0.7, 0.7), ("dice", "hd95"))
    assert [r["z"] for r in rows] == [z for z in range(6) if pred[z].any() or gt[z].any()]
    for row in rows:
        z = row["z"]
        assert row["dice"] == pytest.approx(metrics.dice(pred[z], gt[z]))
        if pred[z].any() and gt[z].any():
            assert row["hd95"] == pytest.approx(medpy_binary.hd95(pred[z], gt[z], (0.7, 0.7)))
    assert [r["z"] for r in metrics.per_slice(pred, gt, (0.7, 0.7), ("dice",), slices=[0])] == [0]


def test_metric_plugins_registered():
    registry = load_registry()
    pred, gt = blob_pair((10, 20, 20), 8)
    for name in metrics.DEFAULT_METRICS:
        cls = registry.get("metric", name)
        metric = cls(profile="quick")
        assert metric.compute(pred, gt, (2.0, 1.0, 1.0)) == pytest.approx(
            metrics.compute_all(pred, gt, (2.0, 1.0, 1.0), (name,))[name]
        )
        is_distance = name in ("hd95", "assd", "ahd")
        assert cls.higher_is_better is not is_distance
        assert cls.unit == ("mm" if is_distance else "")
    assert metrics.compute_all(pred, gt, (2.0, 1.0, 1.0), [registry.get("metric", "dice")()]) == {
        "dice": metrics.dice(pred, gt)
    }


def test_bad_input_is_rejected():
    a = np.zeros((2, 4, 4), bool)
    with pytest.raises(UnknownPluginError, match="dice"):
        metrics.compute_all(a, a, (1, 1, 1), ("dcie",))
    with pytest.raises(DataError, match="differs"):
        metrics.compute_all(a, a[:, :3], (1, 1, 1))
    with pytest.raises(DataError, match="one spacing per axis"):
        metrics.compute_all(a, a, (1, 1))
    with pytest.raises(DataError, match="positive"):
        metrics.compute_all(a, a, (1, 0, 1))


def test_surface_equals_the_face_connected_erosion():
    from scipy import ndimage

    from wsbench.metrics import surface

    rng = np.random.default_rng(0)
    for shape in [(7, 9, 11), (20, 30, 25), (15, 17)]:
        for _ in range(10):
            mask = ndimage.binary_dilation(rng.random(shape) > 0.9, iterations=2)
            structure = ndimage.generate_binary_structure(mask.ndim, 1)
            expected = mask & ~ndimage.binary_erosion(mask, structure=structure, border_value=0)
            np.testing.assert_array_equal(surface(mask), expected)


def brute_force(source: np.ndarray, target: np.ndarray, spacing) -> np.ndarray:
    """Every pairwise distance between voxel centres in mm, minimum per source voxel."""
    return cdist(np.argwhere(source) * spacing, np.argwhere(target) * spacing).min(axis=1)


@pytest.mark.parametrize("method", ["kdtree", "ball"])
@pytest.mark.parametrize(
    "shape, spacing",
    [((12, 30, 28), (2.5, 0.78, 0.78)), ((8, 20, 20), (5.0, 0.6, 0.9)), ((60, 50), (0.9, 0.6))],
)
def test_nearest_distances_equal_brute_force(method, shape, spacing):
    """Scattered small components, some far from anything in the other mask, so the ball
    search meets both hits inside its radius and its k-d tree fallback beyond it."""
    rng = np.random.default_rng(len(shape) + int(spacing[0] * 10))
    for _ in range(3):
        a = ndimage.binary_dilation(rng.random(shape) > 0.995, iterations=2)
        b = ndimage.binary_dilation(rng.random(shape) > 0.995, iterations=1)
        sa, sb = metrics.surface(a), metrics.surface(b)
        got = nearest.nearest_distances(sa, sb, spacing, method)
        np.testing.assert_allclose(got, brute_force(sa, sb, spacing), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("spacing", [(2.5, 0.78, 0.78), (1.0, 1.0, 1.0), (0.9, 0.6), (30.0, 40.0)])
def test_ball_lists_every_offset_up_to_its_radius(spacing):
    spacing = np.asarray(spacing)
    offsets, lengths, radius = nearest.ball_offsets(spacing)
    assert len(offsets) <= 1.15 * nearest.BALL_MAX_OFFSETS  # lattice points in that ball
    assert np.all(np.diff(lengths) >= 0) and lengths[0] == 0.0
    reach = [int(radius // s) + 1 for s in spacing]
    grid = np.stack(
        [g.ravel() for g in np.meshgrid(*[np.arange(-k, k + 1) for k in reach], indexing="ij")], 1
    )
    within = grid[np.sqrt(((grid * spacing) ** 2).sum(1)) <= radius]
    assert {tuple(o) for o in within} == {tuple(o) for o in offsets}


# The published SMILE study (leaderboards/smile-alpha/synthetic.json, alpha = 0.9, deeplabv3,
# quick profile; 2 test patients x 3 seeds = 6 pooled cases): per method and organ, in how
# many of the 6 cases the organ was predicted at all (6 - hd95/<organ>_n_missing) and the
# mean HD95 of those cases in mm (hd95/<organ>_mean).
SMILE_ALPHA_09 = {
    "partial": {"liver": (2, 26.804), "pancreas": (0, None), "stomach": (0, None)},
    "smile": {"liver": (4, 35.295), "pancreas": (2, 39.909), "stomach": (2, 29.436)},
    "smiler": {"liver": (4, 25.757), "pancreas": (2, 106.922), "stomach": (2, 31.557)},
}
ORGANS = ("liver", "pancreas", "stomach")


def shifted(mask: np.ndarray, voxels: int) -> np.ndarray:
    """``mask`` moved along x by ``voxels``, what leaves the array dropped."""
    out = np.zeros_like(mask)
    out[..., voxels:] = mask[..., : mask.shape[-1] - voxels]
    return out


def test_alpha_09_baseline_is_no_longer_best_on_hd95():
    """The published alpha = 0.9 row, rescored: the softmax baseline ``partial`` had the
    best HD95 (26.8 mm) with the worst Dice (0.071) because its missed organs were NaN and
    dropped from every mean.

    Rerunning the study takes 17 minutes; a tiny run_grid would not miss organs the way the
    published models did. So the test rebuilds the published situation on the study's own
    ground truth (two synthetic phantom patients at the quick size, 96 x 96 x 24, organs
    target) and scores it with ``compute_classes``: per method, organ and pooled case, the
    organ is predicted in exactly as many cases as published, as its ground truth moved
    along x until its HD95 is closest to the published mean, and is empty in the others.
    Aggregation is the leaderboard's: class mean per case, then mean over the 6 cases.
    Under the old policy (distances of a missed organ NaN, left out of both means) the
    baseline is best on HD95 again; under the new one its misses cost the field-of-view
    diagonal and it is worst.
    """
    from wsbench.data.phantom import TASKS, make_phantom

    task = TASKS["organs"]
    patients = [make_phantom(p) for p in (6, 7)]  # quick-profile phantoms, as in the study
    truths = [np.stack([np.isin(ph.labels, values) for values in task.values]) for ph in patients]
    best_shift: dict = {}

    def moved(case: int, organ: int, target_mm: float) -> np.ndarray:
        key = (case % 2, organ, target_mm)
        gt, spacing = truths[case % 2][organ], patients[case % 2].spacing
        if key not in best_shift:
            errors = [
                abs(metrics.hd95(shifted(gt, k), gt, spacing) - target_mm) for k in range(1, 40)
            ]
            best_shift[key] = 1 + int(np.argmin(errors))
        return shifted(gt, best_shift[key])

    scores = {}
    for method, organs in SMILE_ALPHA_09.items():
        rows = []
        for case in range(6):
            truth = truths[case % 2]
            pred = np.zeros_like(truth)
            for k, organ in enumerate(ORGANS):
                n_found, hd95_mm = organs[organ]
                if case < n_found:
                    pred[k] = moved(case, k, hd95_mm)
            label_map = np.zeros(truth.shape[1:], np.uint8)
            for k in range(len(ORGANS)):
                label_map[truth[k]] = k + 1
            rows.append(
                metrics.compute_classes(
                    pred, label_map, patients[case % 2].spacing, ORGANS, ("dice", "hd95")
                )
            )
        old = []  # the old policy: a missed organ's distance is NaN, dropped from the means
        for row in rows:
            found = [row[f"hd95/{o}"] for o in ORGANS if not row[f"missed/{o}"]]
            old.append(np.mean(found) if found else np.nan)
        scores[method] = {
            "dice": np.mean([row["dice"] for row in rows]),
            "hd95_old": np.nanmean(old),
            "hd95": np.mean([row["hd95"] for row in rows]),
            "missed": {o: sum(row[f"missed/{o}"] for row in rows) for o in ORGANS},
        }
    partial = scores["partial"]
    assert partial["missed"] == {"liver": 4.0, "pancreas": 6.0, "stomach": 6.0}
    assert partial["dice"] == min(s["dice"] for s in scores.values())
    # the published situation: the baseline best on HD95 when misses are dropped ...
    assert partial["hd95_old"] == pytest.approx(26.804, rel=0.15)
    assert partial["hd95_old"] == min(s["hd95_old"] for s in scores.values())
    # ... and worst once a miss costs the declared worst-case distance
    assert all(np.isfinite(s["hd95"]) for s in scores.values())
    assert partial["hd95"] > max(s["hd95"] for m, s in scores.items() if m != "partial")
