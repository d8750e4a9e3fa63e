"""tune_crf reads masks of validation patients only, within the declared budget."""

from __future__ import annotations

import pytest
from wsbench_plugins.acol.mining import TUNED_ON_VAL_MASKS
from wsbench_plugins.acol.tune_crf import tuning_data

from wsbench.data.splits import split_dataset
from wsbench.errors import ParameterError
from wsbench.plugins import load_registry

SMALL = {"n_patients": 8, "size": 48, "n_slices": 8, "tumor_mm": (20.0, 60.0)}


def test_masks_come_from_the_validation_split_within_the_budget():
    data = tuning_data(1, seed=0, **SMALL)
    dataset = load_registry().get("dataset", "synthetic")(
        "quick", **{"val_fraction": 0.25, "test_fraction": 0.25, "seed": 1, **SMALL}
    )
    splits = split_dataset(dataset)
    val_ids = {i.id for i in splits["val"]}
    assert set(data.val_masks) <= val_ids and len({c.patient for c in data.val}) == 1
    assert {c.id for c in data.train} == {i.id for i in splits["train"]}
    assert not hasattr(data.train[0], "label")  # training cases are weak cases only
    assert not {i.id for i in splits["test"]} & ({c.id for c in data.train} | set(data.val_masks))


def test_a_budget_beyond_the_validation_split_is_refused():
    with pytest.raises(ParameterError, match="--val-masks 9: the validation split has 2"):
        tuning_data(9, seed=0, **SMALL)


def test_labelers_declare_the_budget_behind_their_crf_defaults():
    registry = load_registry()
    for name in ("cam", "acol"):
        assert registry.get("labeler", name)("quick").p["val_masks"] == TUNED_ON_VAL_MASKS
