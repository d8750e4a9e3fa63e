"""The organ-ROI crop (wsbench.roi) and Fan et al. 2022's per-image scoring (wsbench.per_image)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from wsbench.api import Case
from wsbench.errors import DataError
from wsbench.metrics import compute_classes
from wsbench.per_image import evaluate_images, evaluate_lesions, lesion_boxes, target_slices
from wsbench.roi import crop_case, organ_windows, paste
from wsbench.testing.fixtures import dice, tiny_phantom


@pytest.fixture(scope="module")
def cases():
    return tiny_phantom(n_patients=3, size=48, n_slices=6)


def test_windows_share_one_size_and_hold_each_organ(cases):
    windows = organ_windows(cases, margin=2)
    assert len({(w.y1 - w.y0, w.x1 - w.x0) for w in windows}) == 1
    for case, w in zip(cases, windows):
        assert 0 <= w.y0 < w.y1 <= case.shape[1] and 0 <= w.x0 < w.x1 <= case.shape[2]
        inside = np.zeros(case.shape, bool)
        inside[w.cut] = True
        assert not (case.organ & ~inside).any()  # no organ voxel is cut away
        assert not ((case.label > 0) & ~inside).any()


def test_crop_then_paste_gives_back_the_labels(cases):
    for case, w in zip(cases, organ_windows(cases, margin=0)):
        small = crop_case(case, w)
        assert small.image.shape[1:] == (w.y1 - w.y0, w.x1 - w.x0)
        assert small.spacing == case.spacing and small.meta["roi"] == w
        np.testing.assert_array_equal(paste(small.label, w), case.label)
        stack = paste(small.label[None], w)  # (K, Z, Y, X) stacks too
        assert stack.shape == (1, *case.shape)


def test_metrics_in_mm_do_not_change_with_the_crop(cases):
    case = cases[0]
    w = organ_windows(cases, margin=1)[0]
    small = crop_case(case, w)
    rng = np.random.default_rng(0)
    pred = (small.label > 0) ^ (rng.random(small.label.shape) < 0.02)  # a noisy prediction
    pred = pred.astype(np.uint8)
    on_crop = compute_classes(pred, small.label, small.spacing, case.classes)
    on_full = compute_classes(paste(pred, w), case.label, case.spacing, case.classes)
    for key in ("dice", "hd95", "assd"):
        assert on_crop[key] == pytest.approx(on_full[key])


def test_crop_needs_an_organ_mask(cases):
    bare = dataclasses.replace(cases[0], organ=None, source="p0.nii")
    with pytest.raises(DataError, match="p0.nii.*no organ mask"):
        organ_windows([bare], margin=0)


def test_per_image_dice_matches_brute_force(cases):
    case = cases[1]
    rng = np.random.default_rng(1)
    pred = ((case.label > 0) & (rng.random(case.shape) < 0.7)).astype(np.uint8)
    rows = evaluate_images(
        pred, case, lambda p, g, s: compute_classes(p, g, s, case.classes, ["dice", "hd95"])
    )
    slices = [z for z in range(case.shape[0]) if case.label[z].any()]
    assert [r["case"] for r in rows] == [f"{case.id}:{z}" for z in slices]
    assert slices == target_slices(case).tolist()
    for r, z in zip(rows, slices):
        assert r["dice"] == pytest.approx(dice(pred[z] > 0, case.label[z] > 0))
        assert r["volume"] == case.id and r["patient"] == case.patient
        assert np.isfinite(r["hd95"])  # scored in 2D with the in-plane spacing


def _two_lesion_case() -> Case:
    """One 40 x 40 slice at 0.5 mm with two lesions of class 1, 4 px apart."""
    label = np.zeros((1, 40, 40), np.uint8)
    label[0, 10:16, 10:16] = 1  # 6 x 6
    label[0, 10:14, 20:24] = 1  # 4 x 4, 4 px to its right
    return Case(
        id="v",
        patient="p",
        image=np.zeros(label.shape, np.float32),
        label=label,
        spacing=(1.0, 0.5, 0.5),
        affine=np.eye(4),
        classes=("tumor",),
    )


def test_each_lesion_is_scored_in_its_own_box_without_its_neighbour():
    case = _two_lesion_case()
    pred = np.zeros_like(case.label)
    pred[0, 10:16, 10:16] = 1  # the first lesion exactly
    pred[0, 6:8, 6:8] = 1  # a false blob inside the first lesion's box (margin 4)
    rows = evaluate_lesions(
        pred, case, lambda p, g, s: compute_classes(p, g, s, case.classes, ["dice", "hd95"])
    )
    assert [r["case"] for r in rows] == ["v:0:0", "v:0:1"]
    # brute force: lesion 0 in rows 6..20 (margin 4), false blob of 4 px counts against it
    assert rows[0]["dice"] == pytest.approx(2 * 36 / (36 + 40))
    assert rows[1]["dice"] == 0.0  # missed: the first lesion's pixels in its box are ignored
    assert rows[1]["hd95"] > 0 and np.isfinite(rows[1]["hd95"])  # the declared worst case
    (_, box0), (_, box1) = lesion_boxes(case.label[0])
    assert box0 == (slice(6, 20), slice(6, 20))
    assert box1 == (slice(6, 18), slice(16, 28))


def test_lesion_scores_match_image_scores_for_one_lesion_per_image(cases):
    """On slices with one lesion whose box holds every predicted pixel, both modes agree."""
    case = cases[2]
    pred = case.label.copy()
    per_image = evaluate_images(
        pred, case, lambda p, g, s: compute_classes(p, g, s, case.classes, ["dice"])
    )
    per_lesion = evaluate_lesions(
        pred, case, lambda p, g, s: compute_classes(p, g, s, case.classes, ["dice"])
    )
    assert len(per_lesion) >= len(per_image) > 0
    assert all(r["dice"] == 1.0 for r in per_image + per_lesion)


def test_run_scores_per_image_on_the_liver_roi(tmp_path):
    """The paper protocol through the runner: tumour slices only, liver-ROI crop, one row per
    test image; the written prediction has the full grid again."""
    import nibabel as nib

    from wsbench.plugins import load_registry
    from wsbench.runner import RunSpec, run_grid

    sets = {
        "synthetic.size": "48",
        "synthetic.n_slices": "8",
        "synthetic.n_patients": "4",
        "synthetic.tumor_mm": "20,60",
        "synthetic.evaluate": "images",
        "synthetic.roi": "organ",
        "weak.slices": "target",
        "train.epochs": "1",
        "train.min_steps": "3",
    }
    spec = RunSpec(
        datasets=("synthetic",),
        labelers=("oracle",),
        segmenters=("unet",),
        device="cpu",
        out=tmp_path,
        target="tumor",
        sets=sets,
    )
    (record,) = run_grid(spec, load_registry())
    assert record["status"] == "done", record["error"]
    prov = record["provenance"]
    assert prov["evaluation"] == "images"
    assert prov["dataset"]["params"]["roi"] == "organ"
    assert prov["train_log"]["steps"] >= 3
    rows = record["per_case"]
    assert rows and all(":" in r["case"] and "volume" in r for r in rows)
    assert record["metrics"]["dice"] == pytest.approx(np.mean([r["dice"] for r in rows]))
    (pred_file,) = (tmp_path / "synthetic" / record["id"] / "predictions").glob("*.nii.gz")
    assert nib.load(pred_file).shape[:2] == (48, 48)


def test_a_papers_number_alone_does_not_claim_our_scoring():
    from wsbench.leaderboard.rows import scored_text

    ours = {"seeds": [0], "scored": "per target image (2D), organ ROI"}
    assert scored_text(ours) == "per target image (2D), organ ROI"
    assert scored_text({"seeds": [0, 1]}) == "per volume (3D)"
    assert scored_text({"seeds": [], "reported": {"dice": 0.617}}) == "–"


@pytest.mark.parametrize(
    ("mode", "shown"),
    [("volume", ""), ("images", "per target image (2D)"), ("lesions", "per lesion (2D)")],
)
def test_the_leaderboard_says_how_a_row_was_scored(mode, shown):
    from wsbench.leaderboard.rows import _scored

    record = {"provenance": {"evaluation": mode, "dataset": {"params": {"roi": "none"}}}}
    assert _scored(record) == shown
