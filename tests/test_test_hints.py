"""Test-time hints: a guided segmenter gets the test case's weak label of its declared
kind, simulated in a seed stream of its own; the planner skips what no source feeds; the
record and the leaderboard mark the row "guided"."""

import dataclasses

import numpy as np
import pytest

from wsbench.execution import run_grid
from wsbench.execution.stages import hint_for
from wsbench.grid import RunSpec, plan
from wsbench.leaderboard import build_rows
from wsbench.leaderboard.rows import labeler_tags
from wsbench.weak.simulate import TEST_HINT_STREAM, weak_seed


@pytest.fixture
def registry(monkeypatch, tmp_path):
    import torch

    from wsbench.plugins import load_registry
    from wsbench.testing import toy_core, toy_plugins

    monkeypatch.setenv("WSBENCH_CACHE", str(tmp_path / "slices"))
    torch.set_num_threads(1)
    toy_core.BoxGuidedThreshold.hints = []
    return load_registry(extra=[toy_plugins, toy_core])


def spec(tmp_path, segmenters=("toy-box-guided",), **kw):
    kw.setdefault("datasets", ("toy",))
    kw.setdefault("labelers", ("toy-oracle",))
    return RunSpec(
        segmenters=segmenters,
        device="cpu",
        out=tmp_path / "out",
        **kw,
    )


def test_the_planner_picks_a_protocol_and_skips_what_nothing_feeds(tmp_path, registry):
    the_plan = plan(spec(tmp_path, segmenters=("toy-box-guided", "toy-threshold")), registry)
    hints = {c.segmenter: c.hint for c in the_plan.cells}
    assert hints == {"toy-box-guided": "box", "toy-threshold": None}
    unguided = plan(spec(tmp_path, segmenters=("toy-threshold",)), registry).cells[0]
    assert "hint" not in unguided.key  # ids of unguided cells do not change

    seg = registry.get("segmenter", "toy-box-guided")
    try:
        seg.test_hint = "coarse"  # no installed protocol produces it, toy ships nothing
        skipped = plan(spec(tmp_path), registry)
    finally:
        seg.test_hint = "box"
    assert not skipped.cells
    ((what, why),) = skipped.skipped
    assert "toy-box-guided" in what and "'coarse' hint at test time" in why


def test_guided_run_gets_test_boxes_from_its_own_seed_stream(tmp_path, registry):
    from wsbench.testing.toy_core import BoxGuidedThreshold

    (record,) = run_grid(spec(tmp_path), registry)
    assert record["status"] == "done", record["error"]
    assert record["provenance"]["guided"] == {"kind": "box", "source": "box"}
    assert record["provenance"]["identity"]["test_hint"]["source"] == "box"
    n_test = len(record["per_case"])
    assert len(BoxGuidedThreshold.hints) == n_test and n_test > 0
    # each hint boxes its test case's disc: predictions stay inside the truth's bounding box
    assert record["metrics"]["dice"] > 0.8

    job = _job(tmp_path, registry)
    case = _test_case(job, registry)
    hint = hint_for(job, case, registry)
    assert hint.kind == "box" and hint.boxes
    for b in hint.boxes:  # the box protocol's box around the disc on that slice
        assert case.label[b.z, b.y0 : b.y1, b.x0 : b.x1].any()
    assert weak_seed("box", 0, case.id, TEST_HINT_STREAM) != weak_seed("box", 0, case.id)

    rows = build_rows([record])
    assert "guided by test box" in labeler_tags(rows[0])


def test_guided_and_unguided_cells_differ(tmp_path, registry):
    one = plan(spec(tmp_path), registry).cells[0]
    assert one.key["hint"] == "box"
    assert np.all([c.hint == "box" for c in plan(spec(tmp_path), registry).cells])


def _job(tmp_path, registry):
    from wsbench.execution.jobs import resolve_jobs

    s = spec(tmp_path)
    return resolve_jobs(plan(s, registry).cells, s, registry)[0]


def _test_case(job, registry):
    from wsbench.execution.stages import load_split

    cases, _, _ = load_split(job.data, "test", registry, None)
    return cases[0]


def test_a_guided_segmenter_is_skipped_under_the_organ_crop(tmp_path, registry):
    """Hints are on the full grid; the organ crop moves the segmenter's input."""
    cropped = spec(
        tmp_path,
        datasets=("synthetic",),
        labelers=("oracle",),
        target="tumor",
        sets={"synthetic.roi": "organ", "synthetic.n_patients": "4"},
    )
    the_plan = plan(
        dataclasses.replace(cropped, segmenters=("toy-box-guided", "toy-threshold")), registry
    )
    assert {c.segmenter for c in the_plan.cells} == {"toy-threshold"}
    ((what, why),) = the_plan.skipped
    assert "toy-box-guided" in what and "synthetic.roi=none" in why
