"""Fan et al. 2022, Table 2, on the tumour benchmark: the segmenter's test Dice per image.

Runs the published benchmark through ``run_grid``: the ``tumour-cpu`` preset (64 phantom
patients, boxes on the tumour slices, liver-ROI U-Net, Dice per test image with tumour;
docs/phantom.md), seeds 0-2. The claim is Table 2's headline, ACoL > box-fill on test
Dice, and its CAM steps. A claim holds when the one-sided paired Wilcoxon test over test
patients within seeds rejects "no better", or the margin exceeds the seed-to-seed spread
(``wsbench.testing.claims``). Two mutants remove ACoL's ideas and must fail the claim:
erasing off (``acol.erase=false``) and the DenseCRF off (``acol.crf_iterations=0``).

Claims that do not reproduce at this size are ``xfail(strict=True)`` with the measured
numbers, so the suite says so the day they start to hold. The cells are the published
grid's (same preset, seeds and code), so ``leaderboards/acol-tumor/claims.json`` holds the
same numbers. While ACoL itself fails the claim, the mutants' failing it is no evidence
about erasing or the CRF; the mutant tests start to mean something the day the claim
holds. Cost: 18 cells (box-fill, cam, acol, the oracle and the two mutants x 3 seeds),
about 35 minutes of one CPU core: a candidate for a separate CI job.
"""

from __future__ import annotations

import pytest
import torch
from wsbench_plugins.acol.benchmark import patient_scores

from wsbench.plugins import load_registry
from wsbench.presets import TUMOUR_CPU
from wsbench.runner import RunSpec, run_grid
from wsbench.testing.claims import Mutant, assert_claim, paired_claim

# About 35 minutes of one CPU core: deselected from the default `pytest` (30-minute budget) and
# run by `pytest -m long` in the leaderboard workflow's claims job.
pytestmark = pytest.mark.long

SEEDS = (0, 1, 2)
MUTANTS = (
    Mutant("acol without erasing", "ACoL's complementary branch", {"acol.erase": "false"}),
    Mutant("acol without the CRF", "the DenseCRF refinement", {"acol.crf_iterations": "0"}),
)


def _grid(out, labelers, extra=None):
    spec = RunSpec(
        datasets=("synthetic",),
        labelers=labelers,
        segmenters=("unet",),
        seeds=SEEDS,
        profile="quick",
        device="cpu",
        out=out,
        target=TUMOUR_CPU.target,
        sets={**TUMOUR_CPU.sets, **(extra or {})},
    )
    records = run_grid(spec, load_registry())
    failed = [(r["labeler"], r["seed"], r["error"]) for r in records if r["status"] != "done"]
    assert not failed, failed
    return records


@pytest.fixture(scope="module")
def scores(tmp_path_factory):
    """Per-seed, per-test-patient Dice of every method and mutant."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # a shared 2-core machine: one thread per process
    try:
        out = tmp_path_factory.mktemp("acol-claims")
        methods = ("box-fill", "cam", "acol", "oracle")
        records = _grid(out, methods)
        table = {name: patient_scores(records, name, "unet") for name in methods}
        for mutant in MUTANTS:
            table[mutant.name] = patient_scores(
                _grid(out, ("acol",), dict(mutant.overrides)), "acol", "unet"
            )
    finally:
        torch.set_num_threads(before)
    return table


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="does not reproduce on the tumour-cpu benchmark (leaderboards/acol-tumor/claims.json): "
    "test Dice per image, acol 0.199 (0.000 / 0.291 / 0.306 over seeds 0-2) vs box-fill 0.313 "
    "(0.301 / 0.325 / 0.313), p = 0.999. ACoL's pseudo labels score 0.079 / 0.247 / 0.573 Dice "
    "against box-fill's 0.714: its box classifier is unstable across seeds at 48 training "
    "patients (plugins/acol/README.md, Analysis)",
)
def test_acol_beats_box_fill_on_test_dice(scores):
    verdict = paired_claim("acol > box-fill", scores["acol"], scores["box-fill"])
    print(verdict)
    assert_claim(verdict, holds=True)


@pytest.mark.slow
@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_mutants_fail_the_claim(scores, mutant):
    verdict = paired_claim(f"{mutant.name} > box-fill", scores[mutant.name], scores["box-fill"])
    print(verdict)
    assert_claim(verdict, holds=False)


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="does not reproduce: cam 0.223 (0.360 / 0.000 / 0.310 over seeds 0-2) vs box-fill "
    "0.313, p = 0.989; CAM's pseudo labels score 0.296 / 0.106 / 0.329 Dice",
)
def test_cam_beats_box_fill_on_test_dice(scores):
    assert_claim(paired_claim("cam > box-fill", scores["cam"], scores["box-fill"]), holds=True)


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="does not reproduce: acol 0.199 vs cam 0.223, p = 0.565 (both unstable over seeds)",
)
def test_acol_beats_cam_on_test_dice(scores):
    assert_claim(paired_claim("acol > cam", scores["acol"], scores["cam"]), holds=True)


@pytest.mark.slow
def test_the_benchmark_separates_the_oracle_from_box_fill(scores):
    """What holds (#12): full supervision beats box-fill on test Dice (published run: oracle
    0.377 vs box-fill 0.313, p = 0.0008 over 48 patient-seed pairs)."""
    verdict = paired_claim("oracle > box-fill", scores["oracle"], scores["box-fill"])
    print(verdict)
    assert_claim(verdict, holds=True)
