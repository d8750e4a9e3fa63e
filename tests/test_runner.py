"""The runner on toy plugins: outputs, provenance, caching, resume and failure isolation."""

import json

import nibabel as nib
import numpy as np
import pytest

from wsbench.grid import RunSpec
from wsbench.runner import run_grid
from wsbench.store import Store


def _spec(tmp_path, **kw):
    base = dict(
        datasets=("toy",),
        labelers=("toy-oracle",),
        segmenters=("toy-threshold",),
        seeds=(0,),
        device="cpu",
        out=tmp_path / "out",
    )
    base.update(kw)
    return RunSpec(**base)


def test_cell_outputs_and_provenance(tmp_path, toy_registry):
    (rec,) = run_grid(_spec(tmp_path), toy_registry)
    assert rec["status"] == "done", rec["error"]
    assert rec["metrics"]["dice"] > 0.9  # the threshold separates bright discs
    assert rec["pseudo"]["dice"] == pytest.approx(1.0)  # the oracle copies ground truth
    prov = rec["provenance"]
    for key in (
        "wsbench",
        "plugins",
        "protocol",
        "dataset",
        "seed",
        "device",
        "git_sha",
        "labeler",
        "segmenter",
    ):
        assert key in prov
    assert prov["dataset"]["fingerprint"] and prov["dataset"]["split_hash"]
    assert prov["protocol"]["name"] == "full" and prov["protocol"]["hash"]
    cell_dir = tmp_path / "out" / "toy" / rec["id"]
    summary = json.loads((cell_dir / "summary.json").read_text())
    assert set(summary) >= {"metric_per_case", "mean"}
    assert summary["mean"]["dice"] == pytest.approx(rec["metrics"]["dice"])
    preds = sorted((cell_dir / "predictions").glob("*.nii.gz"))
    assert preds
    img = nib.load(str(preds[0]))
    assert np.allclose(img.affine, np.diag([1.0, 1.0, 3.0, 1.0]))
    assert img.shape == (24, 24, 4)  # (x, y, z) on disk
    assert list((cell_dir / "overlays").glob("*.png"))
    with Store(tmp_path / "out" / "results.sqlite") as store:
        stored = store.get(rec["id"])
    assert stored["status"] == "done" and stored["per_case"]


def test_resume_and_pseudo_label_cache(tmp_path, toy_registry):
    from wsbench.testing import toy_plugins

    spec = _spec(tmp_path, seeds=(0, 1))
    first = run_grid(spec, toy_registry)
    assert toy_plugins.ToyOracle.calls == 2
    again = run_grid(spec, toy_registry)
    assert all(r.get("resumed") for r in again)
    assert toy_plugins.ToyOracle.calls == 2  # nothing re-run
    fresh = run_grid(_spec(tmp_path, seeds=(0, 1), resume=False), toy_registry)
    assert toy_plugins.ToyOracle.calls == 2  # re-trained, but pseudo labels came from cache
    assert all(r["provenance"]["pseudo_cache"]["hit"] for r in fresh)
    assert [r["metrics"]["dice"] for r in fresh] == [r["metrics"]["dice"] for r in first]


def test_failing_cell_is_stored_and_grid_goes_on(tmp_path, toy_registry):
    ok = run_grid(_spec(tmp_path), toy_registry)
    assert ok[0]["status"] == "done"
    bad = run_grid(
        _spec(tmp_path, seeds=(0, 1), sets={"toy-threshold.explode": "true"}), toy_registry
    )
    assert [r["status"] for r in bad] == ["failed", "failed"]
    assert "exploded on purpose" in bad[0]["error"]
    with Store(tmp_path / "out" / "results.sqlite") as store:
        statuses = sorted(r["status"] for r in store.records())
    assert statuses == ["done", "failed", "failed"]  # the finished cell survived


def test_sweep_expands_and_keeps_ids_apart(tmp_path, toy_registry):
    recs = run_grid(_spec(tmp_path, sweeps={"toy.n_cases": ["4", "6"]}), toy_registry)
    assert [r["sweep"] for r in recs] == [{"toy.n_cases": "4"}, {"toy.n_cases": "6"}]
    assert len({r["id"] for r in recs}) == 2
    assert (
        recs[0]["provenance"]["dataset"]["split_sizes"]
        != recs[1]["provenance"]["dataset"]["split_sizes"]
    )
