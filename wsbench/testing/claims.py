"""Claims a paper plugin tests, and the mutants that must fail them.

A claim compares two methods on the paper's own measure, e.g. "ACoL beats box-fill on test
Dice". It holds when, over at least three seeds, either a one-sided paired test on matched
units (patients within seeds) rejects "no better" at ``alpha``, or the difference of the
seed means exceeds the seed-to-seed spread of both methods. A mutant is the method with its
key idea removed (ACoL without erasing, SMILE with every weight 1); the suite runs each
mutant through the same claim and expects it to fail::

    verdict = paired_claim("acol > box-fill", scores["acol"], scores["box-fill"])
    assert_claim(verdict, holds=True)          # the real method
    assert_claim(mutant_verdict, holds=False)  # its mutant

Scores are ``{seed: {unit: value}}``: the unit is what is paired (a patient, a test image).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.stats import wilcoxon

MIN_SEEDS = 3

Scores = Mapping[int, Mapping[str, float]]


@dataclass(frozen=True)
class Mutant:
    """The method with its key idea removed: a labeler/segmenter run with ``overrides``."""

    name: str
    removes: str  # the key idea it takes away, in words
    overrides: Mapping[str, str]  # --set style keys, e.g. {"acol.erase": "false"}


@dataclass(frozen=True)
class Verdict:
    claim: str
    holds: bool
    better_mean: float
    worse_mean: float
    spread: float  # the larger seed-to-seed sd of the two methods
    p_value: float
    n_units: int
    n_seeds: int

    def __str__(self) -> str:
        return (
            f"{self.claim}: {'holds' if self.holds else 'does not hold'} "
            f"({self.better_mean:.3f} vs {self.worse_mean:.3f}, seed spread {self.spread:.3f}, "
            f"paired one-sided p = {self.p_value:.3g} over {self.n_units} units, "
            f"{self.n_seeds} seeds)"
        )


def paired_claim(claim: str, better: Scores, worse: Scores, alpha: float = 0.05) -> Verdict:
    """Does ``better`` beat ``worse``? Pairs units within seeds; needs >= 3 common seeds."""
    seeds = sorted(set(better) & set(worse))
    if len(seeds) < MIN_SEEDS:
        raise ValueError(f"{claim}: {len(seeds)} common seed(s); a claim needs {MIN_SEEDS}")
    diffs, b_means, w_means = [], [], []
    for s in seeds:
        units = sorted(set(better[s]) & set(worse[s]))
        if not units:
            raise ValueError(f"{claim}: seed {s} has no unit scored by both methods")
        b = np.array([better[s][u] for u in units], float)
        w = np.array([worse[s][u] for u in units], float)
        diffs.append(b - w)
        b_means.append(b.mean())
        w_means.append(w.mean())
    d = np.concatenate(diffs)
    p = 1.0 if np.allclose(d, 0) else float(wilcoxon(d, alternative="greater").pvalue)
    spread = max(float(np.std(b_means, ddof=1)), float(np.std(w_means, ddof=1)))
    margin = float(np.mean(b_means) - np.mean(w_means))
    holds = bool(margin > 0 and (p < alpha or margin > spread))
    return Verdict(
        claim,
        holds,
        float(np.mean(b_means)),
        float(np.mean(w_means)),
        spread,
        p,
        d.size,
        len(seeds),
    )


def assert_claim(verdict: Verdict, holds: bool = True) -> None:
    """Fail with the measured numbers unless the verdict is as expected."""
    if verdict.holds != holds:
        expected = "hold" if holds else "fail (a mutant must not pass the claim)"
        raise AssertionError(f"expected the claim to {expected}; {verdict}")
