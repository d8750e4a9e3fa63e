"""The claim machinery itself: a real difference holds, noise and ties do not."""

import numpy as np
import pytest

from wsbench.testing.claims import assert_claim, paired_claim


def _scores(mean: float, noise: float, seed: int) -> dict[int, dict[str, float]]:
    rng = np.random.default_rng(seed)
    return {s: {f"p{u}": mean + noise * rng.standard_normal() for u in range(12)} for s in range(3)}


def test_a_clear_improvement_holds():
    verdict = paired_claim("a > b", _scores(0.7, 0.05, 0), _scores(0.5, 0.05, 1))
    assert_claim(verdict, holds=True)
    assert verdict.n_units == 36 and verdict.n_seeds == 3


def test_identical_methods_do_not_hold():
    same = _scores(0.6, 0.05, 0)
    assert_claim(paired_claim("a > a", same, same), holds=False)


def test_a_worse_method_does_not_hold():
    verdict = paired_claim("a > b", _scores(0.5, 0.05, 0), _scores(0.7, 0.05, 1))
    assert_claim(verdict, holds=False)
    with pytest.raises(AssertionError, match="does not hold"):
        assert_claim(verdict, holds=True)


def test_fewer_than_three_seeds_is_refused():
    two = {s: {"p": 0.5} for s in range(2)}
    with pytest.raises(ValueError, match="needs 3"):
        paired_claim("a > b", two, two)
