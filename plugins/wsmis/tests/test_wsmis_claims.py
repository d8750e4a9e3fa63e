"""Claims C3, C4 and C1 of Viniavskyi et al. 2020 at CPU size, with mutants.

C3 (Table 2): Grad-CAM++ pseudo labels >= Grad-CAM's, mIoU per positive slice; mutant:
Grad-CAM++ with every pixel weight alpha equal (``gradcampp.pixel_weights=uniform``).
C4 (Table 3): IRNet improves the CAM pseudo labels in mIoU on positive slices; mutants: the
random walk with beta = 0 (uniform affinities) and with the boundary map zeroed.
C1 (Table 1): DropBlock raises the tag classifier's F1 (reported; asserted only where it
holds over seeds). Benchmark: ``wsbench_plugins.wsmis.claims``. A claim holds when the
one-sided paired Wilcoxon over slices within seeds rejects "no better", or the margin
exceeds the seed spread (``wsbench.testing.claims``). About 12 minutes on the shared
2-core machine (5 minutes of CPU): long. None of the three claims reproduces at this size
(xfail, strict, with the measured numbers); while a claim fails, its mutants failing it is
no evidence about the removed idea.
"""

from __future__ import annotations

import pytest
import torch
from wsbench_plugins.wsmis.claims import classifier_f1, pseudo_scores

from wsbench.testing.claims import Mutant, assert_claim, paired_claim

pytestmark = [pytest.mark.long, pytest.mark.slow]

C3_MUTANT = Mutant(
    "gradcampp uniform alpha", "Grad-CAM++'s pixel weights", {"pixel_weights": "uniform"}
)
C4_MUTANTS = (
    Mutant("irn beta 0", "boundary-aware affinities (uniform walk)", {"beta": 0.0}),
    Mutant("irn no boundary", "the boundary map (zeroed)", {"boundary": False}),
)


@pytest.fixture(scope="module")
def scores(tmp_path_factory):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    work = tmp_path_factory.mktemp("wsmis-claims")
    try:
        table = {
            "gradcam": pseudo_scores("gradcam", {}, work),
            "gradcampp": pseudo_scores("gradcampp", {}, work),
            C3_MUTANT.name: pseudo_scores("gradcampp", C3_MUTANT.overrides, work),
            "irn": pseudo_scores("irn", {}, work),
        }
        for m in C4_MUTANTS:
            table[m.name] = pseudo_scores("irn", m.overrides, work)
        table["dropblock"] = classifier_f1(True, work)
        table["no dropblock"] = classifier_f1(False, work)
    finally:
        torch.set_num_threads(before)
    return table


def _verdict(scores, better, worse):
    verdict = paired_claim(f"{better} > {worse}", scores[better], scores[worse])
    print(verdict)
    return verdict


@pytest.mark.xfail(
    strict=True,
    reason="does not reproduce at CPU size (measured 2026-11-23, seeds 0-2): pseudo-label "
    "mIoU per positive slice gradcampp 0.168 vs gradcam 0.168, p = 0.75 over 249 slices; "
    "both maps cover most of the body, so neither localises the tumours (README, Analysis)",
)
def test_c3_gradcampp_beats_gradcam(scores):
    assert_claim(_verdict(scores, "gradcampp", "gradcam"), holds=True)


def test_c3_mutant_fails(scores):
    assert_claim(_verdict(scores, C3_MUTANT.name, "gradcam"), holds=False)


@pytest.mark.xfail(
    strict=True,
    reason="does not reproduce at CPU size (seeds 0-2): mIoU per positive slice irn 0.153 vs "
    "gradcampp 0.168, p = 0.997 over 249 slices; the walk's input maps are near-uniform, so "
    "the boundary map changes nothing (the mutants score the same 0.153)",
)
def test_c4_irn_improves_cam_labels(scores):
    assert_claim(_verdict(scores, "irn", "gradcampp"), holds=True)


@pytest.mark.parametrize("mutant", C4_MUTANTS, ids=lambda m: m.name)
def test_c4_mutants_fail(scores, mutant):
    assert_claim(_verdict(scores, mutant.name, "gradcampp"), holds=False)


@pytest.mark.xfail(
    strict=True,
    reason="does not hold at CPU size (seeds 0-2): test-slice F1 with DropBlock 0.949, "
    "0.945, 0.000 (seed 2 predicts no positive) vs without 0.916 on average; p = 0.75",
)
def test_c1_dropblock_raises_f1(scores):
    assert_claim(_verdict(scores, "dropblock", "no dropblock"), holds=True)
