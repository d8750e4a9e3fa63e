"""Petit et al. 2018's claims on the phantom, through ``run_grid`` (quick profile, 3 seeds,
reduced size).

Petit et al. (2018), Fig. 3 and §3: with 70 % of the organ annotations missing, SMILE beats
the softmax baseline that trains missing organs as background by a wide margin, SMILEr
matches or beats SMILE, and with every organ annotated (alpha = 0) the methods are close.
See plugins/smile/README.md for what holds at this size and why.
"""

from __future__ import annotations

import numpy as np
import pytest

from wsbench.plugins import load_registry
from wsbench.runner import RunSpec, run_grid

METHODS = ("partial", "smile", "smiler")
# 20 patients -> 12 training, 4 test volumes of 48 x 48 x 6; a U-Net trains in seconds.
SETS = {
    "synthetic.n_patients": "20",
    "synthetic.size": "48",
    "synthetic.n_slices": "6",
    "unet.width": "16",
    "train.epochs": "20",
}


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> dict[tuple[str, str], list[float]]:
    spec = RunSpec(
        datasets=("synthetic",),
        labelers=METHODS,
        segmenters=("unet",),
        weak="partial",
        seeds=(0, 1, 2),
        profile="quick",
        device="cpu",
        out=tmp_path_factory.mktemp("smile"),
        target="organs",
        sets=SETS,
        sweeps={"weak.alpha": ["0", "0.7"]},
    )
    records = run_grid(spec, load_registry())
    failed = [(r["labeler"], r["error"]) for r in records if r["status"] != "done"]
    assert not failed, failed
    table: dict[tuple[str, str], list[float]] = {}
    for r in records:
        table.setdefault((r["labeler"], r["sweep"]["weak.alpha"]), []).append(r["metrics"]["dice"])
    for key, values in sorted(table.items()):
        print(key, np.round(values, 3), round(float(np.mean(values)), 3))
    return table


def mean(table, method: str, alpha: str) -> float:
    values = table[(method, alpha)]
    assert len(values) == 3
    return float(np.mean(values))


@pytest.mark.slow
def test_smile_beats_the_baseline_when_most_organs_are_missing(study):
    assert mean(study, "smile", "0.7") > mean(study, "partial", "0.7") + 0.10


@pytest.mark.slow
def test_smiler_keeps_the_advantage_over_the_baseline(study):
    assert mean(study, "smiler", "0.7") > mean(study, "partial", "0.7") + 0.05


@pytest.mark.slow
def test_smiler_matches_smile(study):
    assert mean(study, "smiler", "0.7") >= mean(study, "smile", "0.7") - 0.05


@pytest.mark.slow
def test_methods_are_close_with_every_organ_annotated(study):
    at_zero = [mean(study, m, "0") for m in METHODS]
    assert max(at_zero) - min(at_zero) < 0.10
