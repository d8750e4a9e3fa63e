"""The labelers gradcam, gradcampp and irn: conformance, negatives, and the SIIM-format run."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from wsbench.api import LabelContext
from wsbench.grid import RunSpec
from wsbench.plugins import load_registry
from wsbench.runner import run_grid
from wsbench.testing.fixtures import tiny_phantom
from wsbench.testing.labelers import LabelerConformance

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
from test_siim import write_siim  # noqa: E402  (the SIIM-format writer of the core tests)
from wsbench_plugins.wsmis.cams import GradCamPPLabeler  # noqa: E402
from wsbench_plugins.wsmis.quality import weak_tag_cases  # noqa: E402

FAST = {"epochs": 1, "batch_size": 4, "width": 8}
FAST_IRN = {**FAST, "irn_epochs": 1, "irn_batch_size": 4, "exp_times": 3}


class TestGradCam(LabelerConformance):
    labeler_name = "gradcam"
    overrides = FAST


class TestGradCamPP(LabelerConformance):
    labeler_name = "gradcampp"
    overrides = FAST


class TestIrn(LabelerConformance):
    labeler_name = "irn"
    overrides = FAST_IRN


def test_untagged_slices_are_empty_with_full_weight(tmp_path):
    cases = tiny_phantom(n_patients=2, size=32, n_slices=8)
    weak = weak_tag_cases(cases, slices="all")
    ctx = LabelContext(device="cpu", seed=0, classes=cases[0].classes, workdir=tmp_path)
    labels = GradCamPPLabeler("quick", **FAST).label(weak, ctx)
    negatives = 0
    for w, lab in zip(weak, labels, strict=True):
        assert lab.slices.tolist() == w.slices.tolist()
        for z in w.slices:
            if not w.weak.present[z].any():
                negatives += 1
                assert not lab.target[z].any() and np.all(lab.weight[z] == 1)
    assert negatives > 0


def test_no_positive_tag_is_one_clear_error(tmp_path):
    from wsbench.errors import WeakLabelError

    cases = tiny_phantom(n_patients=1, size=32, n_slices=4)
    weak = weak_tag_cases(cases)
    for w in weak:
        w.weak.present[:] = False
    ctx = LabelContext(device="cpu", seed=0, classes=cases[0].classes, workdir=tmp_path)
    with pytest.raises(WeakLabelError, match="no training slice is tagged positive"):
        GradCamPPLabeler("quick", **FAST).label(weak, ctx)


def test_siim_grid_runs_on_siim_format_files(tmp_path):
    """wsbench run --dataset siim --weak native --labeler gradcam,gradcampp,irn,oracle
    --segmenter unet,deeplabv3plus, on the SIIM-format test copy."""
    data = write_siim(tmp_path / "siim")
    sets = {f"{n}.{k}": str(v) for n in ("gradcam", "gradcampp") for k, v in FAST.items()}
    sets.update({f"irn.{k}": str(v) for k, v in FAST_IRN.items()})
    sets.update(
        {
            "train.epochs": "1",
            "train.min_steps": "0",
            "unet.width": "4",
            "siim.test_fraction": "0.4",
            "siim.val_fraction": "0",
        }
    )
    spec = RunSpec(
        datasets=("siim",),
        labelers=("gradcam", "gradcampp", "irn", "oracle"),
        segmenters=("unet", "deeplabv3plus"),
        weak="native",
        data_dir=data,
        device="cpu",
        out=tmp_path / "out",
        sets=sets,
    )
    records = run_grid(spec, load_registry())
    assert len(records) == 8
    assert all(r["status"] == "done" for r in records), [r["error"] for r in records]
    assert all(r["per_case"] for r in records)


def test_stepwise_scores_each_stage_on_train_and_test():
    from wsbench_plugins.wsmis.stepwise import stepwise

    train = tiny_phantom(n_patients=2, size=32, n_slices=6, seed=0)
    test = tiny_phantom(n_patients=1, size=32, n_slices=6, seed=1)
    table = stepwise(train, test, "quick", 0, **FAST_IRN)
    assert list(table) == ["train/cam", "train/irnet", "test/cam", "test/irnet"]
    for stage in table.values():
        assert set(stage) == {"miou", "pooled_dice", "miou@pos", "pooled_dice@pos"}
        assert 0 <= stage["miou"] <= 1
