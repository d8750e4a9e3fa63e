"""Agarwal et al. 2020, claims C1 (Table 1) and C5 (Table 2), on the phantom at CPU size.

The harness (``wsbench_plugins.coseg.benchmark``) follows the paper's protocol: RECIST
marks on every tumour slice, GrabCut pseudo masks, lesion crops, test crops from the
test-time RECIST hint, scores per test lesion as the paper scores (the quick phantom's 8
patients: 6 for training, 2 for testing; the quick profile's 200 training steps per
model), seeds 0-2. A claim holds when the one-sided paired Wilcoxon test over test
lesions within seeds
rejects "no better", or the margin exceeds the seed-to-seed spread
(``wsbench.testing.claims``).

- C1: co-segmentation (CSA + D1) beats the FCN-32 baseline on Dice. Mutant: coseg
  without co-segmentation (each crop paired with itself, no attention), which must fail.
- C5: the DenseCRF (the defaults ``tune_crf.py`` chose on validation masks) raises
  precision and lowers recall, with D1 and with D2. Mutant: the CRF with no mean-field
  iteration (``crf_iterations=0``: the unaries only), which must fail. One trained model
  gives both predictions (CRF off and on).

The differences of 0.003 Dice or less (optimiser, multi-grid, attention variants) are
not asserted: they are within the standard error at the paper's n = 1,000.
"""

from __future__ import annotations

import pytest
import torch
from wsbench_plugins.coseg.benchmark import metric, phantom_benchmark, score, train

from wsbench.testing.claims import Mutant, assert_claim, paired_claim

# About 30 CPU-minutes (12 trainings of 200 steps, 8 phantom patients): `pytest -m long`.
pytestmark = pytest.mark.long

SEEDS = (0, 1, 2)
DECODERS = ("d1", "d2")
BUDGET: dict[str, int] = {}  # the quick profile's: 2 epochs of 100 steps
C1_MUTANT = Mutant(
    "coseg without co-segmentation",
    "the partner image and the shared attention",
    {"coseg.pairing": "self", "coseg.attention": "none"},
)
C5_MUTANT = Mutant("CRF without inference", "the DenseCRF's mean-field", {"crf_iterations": "0"})


@pytest.fixture(scope="module")
def table():
    """seed -> method -> unit -> metrics."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        bench = phantom_benchmark(0, n_patients=8)
        out: dict[str, dict[int, dict]] = {}
        for seed in SEEDS:
            fcn = train(bench, "fcn32", seed, BUDGET)
            out.setdefault("fcn32", {})[seed] = score(bench, fcn)
            mutant = {k.split(".", 1)[1]: v for k, v in C1_MUTANT.overrides.items()}
            self_paired = train(bench, "coseg", seed, {**BUDGET, **mutant})
            out.setdefault("coseg-self", {})[seed] = score(bench, self_paired)
            for decoder in DECODERS:
                seg = train(bench, "coseg", seed, {**BUDGET, "decoder": decoder})
                out.setdefault(decoder, {})[seed] = score(bench, seg)
                out.setdefault(f"{decoder}+crf", {})[seed] = score(bench, seg, crf=True)
                out.setdefault(f"{decoder}+crf0", {})[seed] = score(
                    bench, seg, crf=True, crf_iterations=0
                )
    finally:
        torch.set_num_threads(before)
    return out


@pytest.mark.xfail(
    strict=True,
    reason="does not reproduce at the quick budget (200 steps): Dice per test lesion, seeds "
    "0-2, 219 paired lesions, coseg (CSA + D1) 0.447 vs fcn32 0.451 (seed spread 0.011, "
    "p = 0.88); CSA + D2 scored 0.495 and the mutant without co-segmentation 0.475 "
    "(plugins/coseg/README.md)",
)
def test_c1_coseg_beats_fcn32_on_dice(table):
    verdict = paired_claim(
        "coseg > fcn32 (Dice)", metric(table["d1"], "dice"), metric(table["fcn32"], "dice")
    )
    print(verdict)
    assert_claim(verdict, holds=True)


@pytest.mark.xfail(
    strict=True,
    reason="the mutant passes the claim the method fails: coseg paired with itself, no "
    "attention, 0.475 vs fcn32 0.451 Dice per lesion (margin 0.024 > seed spread 0.007; "
    "p = 0.18): at this size the partner and the shared attention cost Dice, so the "
    "mutant cannot show that C1 rests on them (plugins/coseg/README.md)",
)
def test_c1_mutant_fails(table):
    verdict = paired_claim(
        f"{C1_MUTANT.name} > fcn32 (Dice)",
        metric(table["coseg-self"], "dice"),
        metric(table["fcn32"], "dice"),
    )
    print(verdict)
    assert_claim(verdict, holds=False)


@pytest.mark.parametrize("decoder", DECODERS)
def test_c5_crf_raises_precision_and_lowers_recall(table, decoder):
    crf, plain = table[f"{decoder}+crf"], table[decoder]
    precision = paired_claim(
        f"{decoder}: CRF raises precision", metric(crf, "precision"), metric(plain, "precision")
    )
    recall = paired_claim(
        f"{decoder}: CRF lowers recall", metric(plain, "recall"), metric(crf, "recall")
    )
    print(precision, recall, sep="\n")
    assert_claim(precision, holds=True)
    assert_claim(recall, holds=True)


@pytest.mark.parametrize("decoder", DECODERS)
def test_c5_mutant_fails(table, decoder):
    crf0, plain = table[f"{decoder}+crf0"], table[decoder]
    verdict = paired_claim(
        f"{decoder}: {C5_MUTANT.name} raises precision",
        metric(crf0, "precision"),
        metric(plain, "precision"),
    )
    print(verdict)
    assert_claim(verdict, holds=False)


def test_print_small_differences(table):
    """Table 1-3 differences of 0.003 Dice or less: printed, not asserted."""
    from wsbench_plugins.coseg.benchmark import means

    for name, runs in sorted(table.items()):
        print(name, {k: round(v, 3) for k, v in means(runs).items()})
