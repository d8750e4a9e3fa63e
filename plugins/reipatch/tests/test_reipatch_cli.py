"""The issue's command runs end to end, on the phantom's files written in the LiTS layout."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from wsbench.cli import main
from wsbench.data.phantom import write_lits_layout
from wsbench.store import Store

TINY = (
    "reipatch.image_size=24",
    "reipatch.width=4",
    "reipatch.loc_width=4",
    "reipatch.aspp_channels=8",
    "reipatch.epochs=1",
    "reipatch.loc_epochs=1",
    "reipatch.rounds=1",
    "reipatch.max_patches=8",
    "reipatch.finetune_epochs=1",
    "unet.epochs=1",
)


@pytest.mark.slow
def test_fused_grid_runs_on_lits_files(tmp_path):
    root = tmp_path / "lits"
    write_lits_layout(root, n_patients=3, size=32, n_slices=4)
    out = tmp_path / "out"
    args = ["run", "--dataset", "lits", "--data-dir", str(root), "--target", "liver"]
    args += ["--labeler", "oracle,box-fill", "--segmenter", "reipatch,unet"]
    args += ["--set", "reipatch.plane=fused", "--device", "cpu", "--out", str(out)]
    for value in TINY:
        args += ["--set", value]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    records = Store(out / "results.sqlite").records()
    assert {(r["labeler"], r["segmenter"]) for r in records} == {
        (lab, seg) for lab in ("oracle", "box-fill") for seg in ("reipatch", "unet")
    }
    assert all(r["status"] == "done" for r in records), [r.get("error") for r in records]
    fused = next(r for r in records if (r["labeler"], r["segmenter"]) == ("oracle", "reipatch"))
    rounds = fused["provenance"]["train_log"]["rounds"]
    assert set(rounds) == {"axial", "coronal", "sagittal"}  # Dice per round is recorded
    assert json.dumps(rounds)  # plain JSON in the record
