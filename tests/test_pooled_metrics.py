"""Pooled metrics from per-case confusion counts (checked against scikit-learn on the
concatenated voxels), the leaderboard's pooled and ``@pos`` columns, and reported numbers
matched on resolved parameters and on every metric a paper reports."""

import math

import numpy as np
import pytest
from sklearn.metrics import f1_score, jaccard_score

from wsbench.api import Reported
from wsbench.leaderboard import build_rows
from wsbench.leaderboard.rows import cell_text, columns
from wsbench.metrics.pooled import confusion_counts, pooled, pooled_subsets


def _cases(n=5, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        shape = (2, 6 + i, 7)
        gt = rng.choice(3, size=shape, p=[0.7, 0.2, 0.1]).astype(np.uint8)
        pred = np.where(rng.random(shape) < 0.7, gt, rng.integers(0, 3, shape)).astype(np.uint8)
        out.append((pred, gt))
    return out


def test_pooled_metrics_match_sklearn_on_concatenated_voxels():
    cases = _cases()
    counts = [confusion_counts(p, g, ("liver", "tumour")) for p, g in cases]
    got = pooled(counts)
    pred = np.concatenate([p.ravel() for p, _ in cases])
    gt = np.concatenate([g.ravel() for _, g in cases])
    iou = jaccard_score(gt, pred, labels=[0, 1, 2], average=None)
    f1 = f1_score(gt, pred, labels=[0, 1, 2], average=None)
    assert got["miou"] == pytest.approx(iou.mean(), abs=1e-12)
    assert got["pooled_dice"] == pytest.approx(f1[1:].mean(), abs=1e-12)
    assert got["pooled_iou/background"] == pytest.approx(iou[0], abs=1e-12)
    assert got["pooled_dice/tumour"] == pytest.approx(f1[2], abs=1e-12)
    # pooling is not the mean of per-case scores
    per_case = [pooled([c])["miou"] for c in counts]
    assert not math.isclose(np.mean(per_case), got["miou"], abs_tol=1e-9)


def test_multilabel_planes_and_positive_subset():
    gt = np.zeros((1, 4, 4), np.uint8)
    gt[0, :2, :2] = 1
    planes = np.zeros((1, 1, 4, 4), np.uint8)
    planes[0, 0, :2, :1] = 1
    counts = confusion_counts(planes, gt, ("ptx",))
    assert counts == {"background": [12, 2, 0], "ptx": [2, 0, 2]}
    empty = confusion_counts(np.zeros_like(gt), np.zeros_like(gt), ("ptx",))
    out = pooled_subsets(
        [{"confusion": counts, "positive": True}, {"confusion": empty, "positive": False}]
    )
    assert out["miou@pos"] == pytest.approx((12 / 14 + 2 / 4) / 2)
    assert out["miou"] == pytest.approx((28 / 30 + 2 / 4) / 2)


@pytest.fixture
def registry(monkeypatch, tmp_path):
    import torch

    from wsbench.plugins import load_registry
    from wsbench.testing import toy_plugins

    monkeypatch.setenv("WSBENCH_CACHE", str(tmp_path / "slices"))
    torch.set_num_threads(1)
    return load_registry(extra=[toy_plugins])


def test_toy_pooled_miou_row_finds_its_reported_numbers(tmp_path, registry):
    from wsbench.execution import run_grid
    from wsbench.grid import RunSpec

    spec = RunSpec(
        datasets=("toy",),
        labelers=("toy-oracle",),
        segmenters=("toy-threshold",),
        device="cpu",
        out=tmp_path / "out",
        sets={"toy-threshold.epochs": "3", "toy.n_cases": "10"},  # --set, not a sweep
    )
    (record,) = run_grid(spec, registry)
    assert record["status"] == "done", record["error"]
    assert all(set(c["confusion"]) == {"background", "disc"} for c in record["per_case"])
    counts = [c["confusion"] for c in record["per_case"]]
    assert record["metrics"]["miou"] == pytest.approx(pooled(counts)["miou"])
    # pseudo-label quality reports every overlap metric, pooled ones too
    assert {"dice", "iou", "precision", "recall", "accuracy", "vs", "miou"} <= set(record["pseudo"])
    assert record["pseudo"]["iou/disc"] == 1.0  # the oracle's pseudo labels are the truth

    def paper(metric, value, subset="all", **params):
        return Reported(
            "toy",
            "disc",
            "toy-oracle",
            "toy-threshold",
            metric,
            value,
            "Toy 2026, Table 1",
            params=params,
            subset=subset,
        )

    reported = [
        paper("miou", 0.77, **{"train.epochs": 3}),  # the resolved value matches
        paper("miou", 0.11, **{"train.epochs": 5}),  # another setting: never shown
        paper("dice", 0.81, **{"toy-threshold.epochs": "3"}),
        paper("hd95", 4.0),
    ]
    (row,) = [r for r in build_rows([record], reported) if r.get("seeds")]
    assert row["miou_mean"] == pytest.approx(record["metrics"]["miou"])
    assert row["miou_ci_lo"] <= row["miou_mean"] <= row["miou_ci_hi"]  # 2 test patients
    assert row["reported"] == 0.81 and row["reported_comparable"]
    assert row["reported_metrics"]["miou"]["value"] == 0.77
    assert row["reported_metrics"]["hd95"]["value"] == 4.0
    keys = [k for _, k in columns([row])]
    assert {"metric:miou", "metric:pooled_dice", "reported:miou", "reported:hd95"} <= set(keys)
    assert cell_text(row, "reported:miou") == "0.770"

    pos = dict(
        record,
        per_case=[
            dict(c, positive=i % 2 == 0) for i, c in enumerate(counts and record["per_case"])
        ],
    )
    (prow,) = [
        r for r in build_rows([pos], [paper("miou", 0.5, subset="positive")]) if r.get("seeds")
    ]
    assert "metric:dice@pos" in [k for _, k in columns([prow])]
    assert prow["reported_metrics"]["miou@pos"]["value"] == 0.5
    kept = [c["confusion"] for c in pos["per_case"] if c["positive"]]
    assert prow["miou@pos_mean"] == pytest.approx(pooled(kept)["miou"])
