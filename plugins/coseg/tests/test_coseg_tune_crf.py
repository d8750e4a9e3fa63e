"""tune_crf reads masks of validation patients only, within the declared budget, and ranks
the CRF settings by validation Dice."""

from __future__ import annotations

import pytest
import torch
from wsbench_plugins.coseg import tune_crf
from wsbench_plugins.coseg.segmenters import TUNED_ON_VAL_MASKS

from wsbench.data.splits import split_dataset
from wsbench.errors import ParameterError
from wsbench.plugins import load_registry

SMALL = {"n_patients": 8, "size": 48, "n_slices": 6, "tumor_mm": (20.0, 60.0)}
TINY_SEGMENTER = {"epochs": 1, "steps_per_epoch": 2, "crop_size": 32, "width": 8}


def _splits():
    dataset = load_registry().get("dataset", "synthetic")("quick", **{**tune_crf.DATASET, **SMALL})
    return {k: {i.patient for i in v} for k, v in split_dataset(dataset).items()}


def test_masks_come_from_the_validation_split_within_the_budget(monkeypatch):
    from wsbench.data.phantom.dataset import SyntheticDataset

    loaded = []
    original = SyntheticDataset.load_case

    def spy(self, info, task):
        loaded.append(info.patient)
        return original(self, info, task)

    monkeypatch.setattr(SyntheticDataset, "load_case", spy)
    data = tune_crf.tuning_data(1, seed=0, **SMALL)
    patients = _splits()
    assert not set(loaded) & patients["test"]  # test patients are never loaded
    assert len({v.case_id for v in data.val}) >= 1
    val_patients = {p for p in loaded if p in patients["val"]}
    assert len(val_patients) == 1 and val_patients == {sorted(patients["val"])[0]}
    assert all(not hasattr(c, "label") for c in data.train)  # weak cases only


def test_a_budget_beyond_the_validation_split_is_refused():
    with pytest.raises(ParameterError, match="--val-masks 9: the validation split has 2"):
        tune_crf.tuning_data(9, seed=0, **SMALL)


def test_settings_are_ranked_by_validation_dice():
    torch.set_num_threads(1)
    grid = {"bilateral_compat": (0.0, 10.0), "confidence": (1.0, 0.6)}
    plain, rows = tune_crf.tune(1, 0, grid, TINY_SEGMENTER, **SMALL)
    dice = [s["dice"] for s, _ in rows]
    assert len(rows) == 4 and dice == sorted(dice, reverse=True)
    assert {(p.bilateral_compat, p.confidence) for _, p in rows} == {
        (0.0, 1.0), (0.0, 0.6), (10.0, 1.0), (10.0, 0.6)
    }  # fmt: skip
    assert 0.0 <= plain["dice"] <= 1.0 and set(plain) == set(tune_crf.METRICS)
    assert "| off |" in tune_crf.report(plain, rows, grid)


def test_the_segmenter_declares_the_budget_only_with_the_crf():
    registry = load_registry()
    assert registry.get("segmenter", "coseg")("quick", crf=True).p["val_masks"] == (
        TUNED_ON_VAL_MASKS
    )
    assert registry.get("segmenter", "fcn32")("quick").p["val_masks"] == 0
