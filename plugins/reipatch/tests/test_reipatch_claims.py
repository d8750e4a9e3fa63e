"""Ouassit et al. 2022's claims C4, C9 and C6 on a tiny phantom, each with a mutant.

``wsbench_plugins.reipatch.study.run_seed`` trains, per seed (0-2), on 5 phantom patients
(48 x 48 x 10, liver, oracle labels: 003's own setting), selects rounds on 2 validation
patients and scores 3 test patients. A claim holds when the one-sided paired Wilcoxon test
over test patients within seeds rejects "no better", or the margin exceeds the seed-to-seed
spread (``wsbench.testing.claims``). Every mutant removes the claim's key idea and must fail:

- C4, multi-level loss > one top-output loss; mutant ``loss_levels=1`` (003's N = 1), which
  is the baseline itself;
- C9, soft vote of the three planes > the mean of the single planes; mutant: hard voting by
  intersection (``fusion=intersection``), one of the votes 003 rejects;
- C6, test Dice at the round the validation Dice selects > round 0; mutant
  ``self_label=false``: the same rounds of fine-tuning without self-labelled patches.

About 10 minutes of one CPU core (seven plane trainings per seed): ``long``.
"""

from __future__ import annotations

import pytest
from wsbench_plugins.reipatch.study import (
    SEEDS,
    mean_of_planes,
    method_scores,
    round_scores,
    study,
)

from wsbench.testing.claims import assert_claim, paired_claim

pytestmark = pytest.mark.long


@pytest.fixture(scope="module")
def result():
    return study(SEEDS)


@pytest.mark.slow
def test_c4_multi_level_loss_beats_one_loss(result):
    verdict = paired_claim(
        "multi-level > single", method_scores(result, "multi"), method_scores(result, "single")
    )
    print(verdict)
    assert_claim(verdict, holds=True)


@pytest.mark.slow
def test_c4_mutant_one_level_fails(result):
    verdict = paired_claim(
        "N = 1 > single", method_scores(result, "single"), method_scores(result, "single")
    )
    assert_claim(verdict, holds=False)


@pytest.mark.slow
def test_c9_soft_vote_beats_the_mean_plane(result):
    verdict = paired_claim(
        "soft vote > mean plane", method_scores(result, "fused"), mean_of_planes(result)
    )
    print(verdict)
    assert_claim(verdict, holds=True)


@pytest.mark.slow
def test_c9_mutant_intersection_fails(result):
    verdict = paired_claim(
        "intersection > mean plane",
        method_scores(result, "fused-intersection"),
        mean_of_planes(result),
    )
    print(verdict)
    assert_claim(verdict, holds=False)


@pytest.mark.slow
def test_c6_self_labelling_rounds_raise_dice(result):
    verdict = paired_claim(
        "selected round > round 0",
        round_scores(result, "rounds", "selected"),
        round_scores(result, "rounds", "first"),
    )
    print(verdict)
    assert_claim(verdict, holds=True)


@pytest.mark.slow
def test_c6_mutant_without_patches_fails(result):
    verdict = paired_claim(
        "selected round (no patches) > round 0",
        round_scores(result, "no-patches", "selected"),
        round_scores(result, "no-patches", "first"),
    )
    print(verdict)
    assert_claim(verdict, holds=False)
