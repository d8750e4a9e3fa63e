"""Fan et al. 2022's Table 2 claim on the phantom: box-fill < CAM < ACoL < full supervision.

Runs the grid through the public runner: ``synthetic`` (tumour task) at 64 x 64 x 16, boxes
on the tumour slices, labelers box-fill, cam, acol and oracle, DeepLabV3 (quick), seeds 0-2.
What is asserted is the ordering that holds on the phantom, the **pseudo-label** Dice against
the training ground truth: box-fill < acol, cam < acol < oracle. The paper's ordering of the
**test** Dice is not asserted: within this test's budget (one DeepLabV3 epoch) no segmenter
learns the tumours, not even from the oracle's masks; see README.md, "Analysis". The test
Dice is recorded (printed) beside the pseudo-label Dice.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wsbench.plugins import load_registry
from wsbench.runner import RunSpec, run_grid
from wsbench.stats import PM_FOOTER, mean_sd

LABELERS = ("box-fill", "cam", "acol", "oracle")
SEEDS = (0, 1, 2)
SETS = {
    "synthetic.size": "64",
    "synthetic.n_slices": "16",
    "weak.slices": "target",
    "train.epochs": "1",
}


@pytest.fixture
def one_thread():
    """One torch thread: on a shared 2-core machine two spinning threads per process are
    several times slower. Restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.slow
def test_pseudo_label_ordering_of_table_2_on_the_phantom(tmp_path, one_thread):
    spec = RunSpec(
        datasets=("synthetic",),
        labelers=LABELERS,
        segmenters=("deeplabv3",),
        seeds=SEEDS,
        profile="quick",
        device="cpu",
        out=tmp_path,
        target="tumor",
        sets=SETS,
    )
    records = run_grid(spec, load_registry())
    failed = [(r["labeler"], r["seed"], r.get("error")) for r in records if r["status"] != "done"]
    assert not failed, failed
    test, pseudo = {}, {}
    for name in LABELERS:
        rows = [r for r in records if r["labeler"] == name]
        assert len(rows) == len(SEEDS)
        test[name] = np.array([r["metrics"]["dice"] for r in rows])
        pseudo[name] = np.array([r["pseudo"]["dice"] for r in rows])
    for name in LABELERS:  # the record behind README.md's table
        print(
            f"{name:9s} test Dice {mean_sd(test[name]).text()}   "
            f"pseudo Dice {mean_sd(pseudo[name]).text()}"
        )
    print(PM_FOOTER)
    mean = {name: float(v.mean()) for name, v in pseudo.items()}
    assert mean["box-fill"] < mean["acol"], mean
    assert mean["cam"] < mean["acol"], mean
    assert mean["acol"] < mean["oracle"], mean
    assert mean["oracle"] == pytest.approx(1.0)
    assert all(np.isfinite(v).all() for v in test.values())
