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

About 10 minutes of one CPU core (seven plane trainings per seed; 16 minutes of wall time
on the shared 2-core machine): ``long``. Claims that do not reproduce are
``xfail(strict=True)`` with the measured numbers (see the README's Result).
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
@pytest.mark.xfail(
    strict=True,
    reason="does not reproduce at this size: test Dice 0.866 (multi-level; seeds 0.863, "
    "0.876, 0.860) vs 0.864 (one loss; 0.868, 0.861, 0.863), p = 0.21 over 9 test patients, "
    "seed spread 0.008 (leaderboards/reipatch/claims.json)",
)
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
@pytest.mark.xfail(
    strict=True,
    reason="the intersection mutant passes too: 0.851 vs the mean plane 0.836, p = 0.049; "
    "fusing the planes helps, whichever vote (union fails: 0.800); soft voting (0.859) is "
    "not shown to be the reason (leaderboards/reipatch/claims.json)",
)
def test_c9_mutant_intersection_fails(verdict):
    print(verdict["C9 mutant"])
    assert_claim(verdict["C9 mutant"], holds=False)


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="does not reproduce: self-labelled patches lower the test Dice (round 0: 0.866, "
    "round 1: 0.805, round 2: 0.748, mean of seeds 0-2), so the validation Dice keeps round "
    "0 in every seed (leaderboards/reipatch/claims.json, dice_vs_round.png)",
)
def test_c6_self_labelling_rounds_raise_dice(verdict):
    print(verdict["C6"])
    assert_claim(verdict["C6"], holds=True)


@pytest.mark.slow
def test_c6_mutant_without_patches_fails(verdict):
    print(verdict["C6 mutant"])
    assert_claim(verdict["C6 mutant"], holds=False)
