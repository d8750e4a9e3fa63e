"""The validation split: loaded lazily, ``ctx.validate(model)`` for segmenters (no labels
handed over), and the validation cases' weak labels plus a declared mask budget for
labelers, recorded in provenance and on the leaderboard."""

import pytest

from wsbench.execution import run_grid
from wsbench.grid import RunSpec
from wsbench.leaderboard import build_rows
from wsbench.leaderboard.rows import labeler_tags


@pytest.fixture
def registry(monkeypatch, tmp_path):
    import torch

    from wsbench.plugins import load_registry
    from wsbench.testing import toy_core, toy_plugins

    monkeypatch.setenv("WSBENCH_CACHE", str(tmp_path / "slices"))
    torch.set_num_threads(1)
    toy_core.ValidatedThreshold.scores = []
    toy_core.ValBudgetBoxFill.seen = {}
    return load_registry(extra=[toy_plugins, toy_core])


def spec(tmp_path, labeler, segmenter, **kw):
    return RunSpec(
        datasets=("toy",),
        labelers=(labeler,),
        segmenters=(segmenter,),
        device="cpu",
        out=tmp_path / "out",
        sets={"toy.n_cases": "8"},
        **kw,
    )


def test_segmenter_selects_on_the_validation_split(tmp_path, registry):
    from wsbench.testing.toy_core import ValidatedThreshold

    (record,) = run_grid(spec(tmp_path, "toy-oracle", "toy-val-threshold"), registry)
    assert record["status"] == "done", record["error"]
    scores = ValidatedThreshold.scores
    assert len(scores) == 5 and all(0.0 <= s["dice"] <= 1.0 and "iou" in s for s in scores)
    assert len({round(s["dice"], 6) for s in scores}) > 1  # the cuts score differently
    assert record["provenance"]["dataset"]["split_sizes"]["val"] == 2


def test_labeler_gets_val_weak_labels_and_its_mask_budget(tmp_path, registry):
    from wsbench.testing.toy_core import ValBudgetBoxFill

    s = spec(tmp_path, "toy-val-budget", "toy-threshold", weak="box")
    (record,) = run_grid(s, registry)
    assert record["status"] == "done", record["error"]
    seen = ValBudgetBoxFill.seen
    assert len(seen["val_ids"]) == 2 and set(seen["val_kinds"]) == {"box"}
    assert not set(seen["val_ids"]) & set(seen["train_ids"])
    assert seen["mask_ids"] == sorted(seen["val_ids"])[:1] and seen["mask_shapes_ok"]
    assert record["provenance"]["val_masks"] == 1
    assert "tuned on 1 val masks" in labeler_tags(build_rows([record])[0])


def test_no_validation_split_means_no_validate(tmp_path, registry):
    from wsbench.testing.toy_core import ValidatedThreshold

    s = spec(tmp_path, "toy-oracle", "toy-val-threshold")
    s = RunSpec(**{**s.__dict__, "sets": {"toy.n_cases": "2"}})
    (record,) = run_grid(s, registry)
    assert record["status"] == "done", record["error"]
    assert ValidatedThreshold.scores == []


def test_a_segmenters_budget_is_recorded_and_added_to_the_labelers(tmp_path, registry):
    from wsbench import hookimpl
    from wsbench.params import Param
    from wsbench.plugins import load_registry
    from wsbench.testing import toy_core, toy_plugins

    class TunedThreshold(toy_plugins.ToyThreshold):  # as coseg's CRF defaults declare
        name = "toy-tuned-threshold"
        params = (*toy_plugins.ToyThreshold.params, Param("val_masks", 2, "masks of its tuning"))

    class Extra:
        @staticmethod
        @hookimpl
        def wsbench_register_segmenters():
            return [TunedThreshold]

    both = load_registry(extra=[toy_plugins, toy_core, Extra])
    (alone,) = run_grid(spec(tmp_path, "toy-oracle", "toy-tuned-threshold"), both)
    assert alone["status"] == "done", alone["error"]
    assert alone["provenance"]["val_masks"] == 2
    assert alone["provenance"]["val_masks_by"] == {"segmenter": 2}
    assert "tuned on 2 val masks" in labeler_tags(build_rows([alone])[0])

    s = spec(tmp_path, "toy-val-budget", "toy-tuned-threshold", weak="box")
    (summed,) = run_grid(s, both)
    assert summed["status"] == "done", summed["error"]
    assert summed["provenance"]["val_masks_by"] == {"labeler": 1, "segmenter": 2}
    assert summed["provenance"]["val_masks"] == 3
    assert "tuned on 3 val masks" in labeler_tags(build_rows([summed])[0])
