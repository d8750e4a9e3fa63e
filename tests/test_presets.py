"""Presets are documented bundles of --set values; ``{dataset}`` keys follow the run."""

from __future__ import annotations

import pytest

from wsbench.cli import _spec
from wsbench.errors import ParameterError
from wsbench.presets import PRESETS, TUMOUR, TUMOUR_CPU, get_preset, with_preset


def test_the_tumour_preset_writes_its_dataset_keys_for_every_dataset_of_the_run():
    sets = with_preset("tumour", {}, ["lits", "ircadb"])
    assert sets["lits.evaluate"] == sets["ircadb.evaluate"] == "images"
    assert sets["lits.roi"] == sets["ircadb.roi"] == "organ"
    assert sets["weak.slices"] == "target"
    assert not any("{" in key for key in sets)


def test_the_users_values_win_over_the_preset():
    sets = with_preset("tumour", {"lits.roi": "none", "train.min_steps": "50"}, ["lits"])
    assert sets["lits.roi"] == "none" and sets["train.min_steps"] == "50"
    assert sets["lits.evaluate"] == "images"


def test_tumour_cpu_is_the_tumour_protocol_on_a_larger_phantom():
    for key, value in TUMOUR.sets.items():
        assert TUMOUR_CPU.sets[key.format(dataset="synthetic")] == value
    assert TUMOUR_CPU.sets["synthetic.n_patients"] == "64"
    assert TUMOUR_CPU.target == TUMOUR.target == "tumor"


def test_an_unknown_preset_names_the_known_ones():
    with pytest.raises(ParameterError, match="'tumor-cpu' is unknown.*tumour-cpu"):
        get_preset("tumor-cpu")
    assert set(PRESETS) == {"tumour", "tumour-cpu"}


def test_the_cli_expands_the_preset_for_the_named_datasets(tmp_path):
    spec = _spec(
        "acol",
        "deeplabv3",
        "lits",
        tmp_path,
        None,
        "box",
        "0",
        "quick",
        "cpu",
        tmp_path,
        (),
        (),
        False,
        preset="tumour",
    )
    assert spec.target == "tumor"
    assert spec.sets["lits.evaluate"] == "images" and "synthetic.evaluate" not in spec.sets
