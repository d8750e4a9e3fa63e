"""Petit et al. 2018's claims on the phantom, and the mutants that must fail them.

Petit et al. (2018), Fig. 3 and §3, on mean organ Dice with 70 % of the organ annotations
missing (alpha = 0.7): SMILE beats the softmax baseline that trains missing organs as
background, and SMILEr (SMILE with curriculum relabelling) beats SMILE. Each claim is a
``wsbench.testing.claims.paired_claim`` over 3 seeds, paired on the test patients.

Each claim has a mutant, the method with its key idea removed, run in the same grid; the
mutant must fail the claim:

- SMILE with w_k = 1 everywhere (``smile.ambiguity=false``): missing organs become certain
  negatives, so it must not beat the baseline;
- SMILEr without relabelling (``smiler.relabel=false``): every round retrains on the SMILE
  targets (warm-started as the real SMILEr is), so it must not beat SMILE.

One grid (``study``) serves every test: about 13 minutes of one CPU core (9 of them SMILEr
and its mutant, three trainings per cell). See plugins/smile/README.md for the
measured numbers.
"""

from __future__ import annotations

import pytest

from wsbench.plugins import load_registry
from wsbench.runner import RunSpec, run_grid
from wsbench.testing.claims import Mutant, Scores, assert_claim, paired_claim

ALPHA = "0.7"
SEEDS = (0, 1, 2)
METHODS = ("partial", "smile", "smiler")
SMILE_W1 = Mutant(
    "smile-w1",
    "the ambiguity maps w_k: missing organs are trained as certain negatives",
    {"smile.ambiguity": "false"},
)
SMILER_NO_RELABEL = Mutant(
    "smiler-no-relabel",
    "the curriculum relabelling: every round retrains on the SMILE targets",
    {"smiler.relabel": "false"},
)
# 20 patients -> 12 training, 4 test volumes of 48 x 48 x 6; a U-Net trains in seconds.
SETS = {
    "synthetic.n_patients": "20",
    "synthetic.size": "48",
    "synthetic.n_slices": "6",
    "unet.width": "16",
    "train.epochs": "20",
}


def _scores(records, labeler: str) -> Scores:
    """``{seed: {test case: Dice}}`` of one labeler's cells."""
    failed = [(r["labeler"], r["error"]) for r in records if r["status"] != "done"]
    assert not failed, failed
    out: dict[int, dict[str, float]] = {}
    for r in records:
        if r["labeler"] == labeler:
            out[r["seed"]] = {c["case"]: c["dice"] for c in r["per_case"]}
    return out


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> dict[str, Scores]:
    """Every method and mutant at alpha = 0.7 over 3 seeds, in one output folder."""
    out = tmp_path_factory.mktemp("smile")
    registry = load_registry()

    def grid(labelers: tuple[str, ...], extra: dict[str, str]):
        spec = RunSpec(
            datasets=("synthetic",),
            labelers=labelers,
            segmenters=("unet",),
            weak="partial",
            seeds=SEEDS,
            profile="quick",
            device="cpu",
            out=out,
            target="organs",
            sets={**SETS, "weak.alpha": ALPHA, **extra},
        )
        return run_grid(spec, registry)

    records = grid(METHODS, {})
    table = {name: _scores(records, name) for name in METHODS}
    for mutant in (SMILE_W1, SMILER_NO_RELABEL):
        (labeler,) = {key.split(".")[0] for key in mutant.overrides}
        table[mutant.name] = _scores(grid((labeler,), dict(mutant.overrides)), labeler)
    for name, scores in table.items():
        means = [sum(s.values()) / len(s) for s in scores.values()]
        print(name, [round(m, 3) for m in means])
    return table


@pytest.mark.slow
def test_smile_beats_the_baseline(study):
    verdict = paired_claim("smile > partial at alpha 0.7", study["smile"], study["partial"])
    print(verdict)
    assert_claim(verdict, holds=True)


@pytest.mark.slow
def test_smile_without_ambiguity_maps_does_not_beat_the_baseline(study):
    verdict = paired_claim(
        f"{SMILE_W1.name} > partial at alpha 0.7", study[SMILE_W1.name], study["partial"]
    )
    print(verdict)
    assert_claim(verdict, holds=False)


@pytest.mark.slow
def test_smiler_beats_smile(study):
    verdict = paired_claim("smiler > smile at alpha 0.7", study["smiler"], study["smile"])
    print(verdict)
    assert_claim(verdict, holds=True)


@pytest.mark.slow
def test_smiler_without_relabelling_does_not_beat_smile(study):
    verdict = paired_claim(
        f"{SMILER_NO_RELABEL.name} > smile at alpha 0.7",
        study[SMILER_NO_RELABEL.name],
        study["smile"],
    )
    print(verdict)
    assert_claim(verdict, holds=False)
