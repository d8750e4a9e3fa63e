"""Ouassit et al. 2022's claims C4, C9 and C6 on a tiny phantom, each with a mutant.

``wsbench_plugins.reipatch.study.run_seed`` trains, per seed (0-2), on 5 phantom patients
(48 x 48 x 10, liver, oracle labels: the paper's own setting), selects rounds on 2 validation
patients and scores 3 test patients. A claim holds when the one-sided paired Wilcoxon test
over test patients within seeds rejects "no better", or the margin exceeds the seed-to-seed
spread (``wsbench.testing.claims``). Every mutant removes the claim's key idea and must fail:

- C4, multi-level loss > one top-output loss; mutant ``loss_levels=1`` (the paper's N = 1), which
  is the baseline itself;
- C9, soft vote of the three planes > the mean of the single planes; mutant: hard voting by
  intersection (``fusion=intersection``), one of the votes the paper rejects;
- C6, test Dice at the round the validation Dice selects > round 0; mutant
  ``self_label=false``: the same rounds of fine-tuning without self-labelled patches.

About 10 minutes of one CPU core (seven plane trainings per seed): ``long``.
"""

from __future__ import annotations

import pytest
from wsbench_plugins.reipatch.study import SEEDS, study, verdicts

from wsbench.testing.claims import assert_claim

pytestmark = pytest.mark.long


@pytest.fixture(scope="module")
def verdict(request):
    return dict(verdicts(study(SEEDS)))


@pytest.mark.slow
def test_c4_multi_level_loss_beats_one_loss(verdict):
    print(verdict["C4"])
    assert_claim(verdict["C4"], holds=True)


@pytest.mark.slow
def test_c4_mutant_one_level_fails(verdict):
    assert_claim(verdict["C4 mutant"], holds=False)


@pytest.mark.slow
def test_c9_soft_vote_beats_the_mean_plane(verdict):
    print(verdict["C9"])
    assert_claim(verdict["C9"], holds=True)


@pytest.mark.slow
def test_c9_mutant_intersection_fails(verdict):
    print(verdict["C9 mutant"])
    assert_claim(verdict["C9 mutant"], holds=False)


@pytest.mark.slow
def test_c6_self_labelling_rounds_raise_dice(verdict):
    print(verdict["C6"])
    assert_claim(verdict["C6"], holds=True)


@pytest.mark.slow
def test_c6_mutant_without_patches_fails(verdict):
    print(verdict["C6 mutant"])
    assert_claim(verdict["C6 mutant"], holds=False)
