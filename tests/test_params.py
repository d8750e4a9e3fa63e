"""Declared parameters: parsing, validation and profiles."""

import pytest

from wsbench.errors import ParameterError
from wsbench.params import Param, in_range, resolve, stable_hash

DELTA = Param("delta", 0.6, "erasing threshold", **in_range(0, 1, lo_open=True, hi_open=True))
PARAMS = (
    DELTA,
    Param("epochs", 5, "epochs"),
    Param("loss", "dice", "loss", choices=("ce", "dice")),
    Param("flip", False, "flip"),
)


def test_profile_then_overrides():
    p = resolve(
        "acol",
        PARAMS,
        {"quick": {"epochs": 2}, "paper": {"epochs": 50}},
        "quick",
        {"delta": "0.5", "flip": "yes"},
    )
    assert p == {"delta": 0.5, "epochs": 2, "loss": "dice", "flip": True}


@pytest.mark.parametrize(
    "over, fragment",
    [
        ({"delta": "1.5"}, "acol.delta=1.5 is out of range; it must be in (0, 1)"),
        ({"delta": "0"}, "in (0, 1)"),
        ({"epochs": "2.5"}, "acol.epochs='2.5' is not a valid int"),
        ({"loss": "bce"}, "choose one of ce, dice"),
        (
            {"nope": "1"},
            "acol has no parameter 'nope'; its parameters are: delta, epochs, flip, loss",
        ),
    ],
)
def test_bad_values_name_key_and_fix(over, fragment):
    with pytest.raises(ParameterError) as err:
        resolve("acol", PARAMS, {"quick": {}}, "quick", over)
    assert fragment in str(err.value)


def test_unknown_profile():
    with pytest.raises(ParameterError, match="no profile 'fast'"):
        resolve("acol", PARAMS, {"quick": {}, "paper": {}}, "fast", {})


def test_stable_hash_ignores_key_order():
    assert stable_hash({"a": 1, "b": [1, 2]}) == stable_hash({"b": [1, 2], "a": 1})
    assert stable_hash({"a": 1}) != stable_hash({"a": 2})
