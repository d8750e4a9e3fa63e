"""Overlay pictures: each panel is titled as what it shows."""

from __future__ import annotations

import matplotlib.figure
import numpy as np
import pytest

from wsbench.api import Intensity
from wsbench.outputs import write_overlay
from wsbench.testing.fixtures import tiny_phantom


@pytest.fixture
def titles(monkeypatch):
    """The axis titles of every figure the overlay saves."""
    seen: list[list[str]] = []
    save = matplotlib.figure.Figure.savefig

    def record(fig, *args, **kwargs):
        seen.append([ax.get_title() for ax in fig.axes])
        return save(fig, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", record)
    return seen


def test_training_overlay_titles_the_pseudo_label_as_such(tmp_path, titles):
    case = tiny_phantom(n_patients=1, size=32, n_slices=3, target="liver")[0]
    pseudo = (case.label > 0).astype(np.uint8)
    paths = write_overlay(tmp_path, case, Intensity(), pseudo=pseudo, max_slices=1)
    assert len(paths) == 1 and paths[0].is_file()
    assert titles[0][1:] == ["ground truth", "pseudo label"]


def test_test_overlay_shows_the_prediction(tmp_path, titles):
    case = tiny_phantom(n_patients=1, size=32, n_slices=3, target="liver")[0]
    write_overlay(tmp_path, case, Intensity(), case.label, max_slices=1)
    assert titles[0][1:] == ["ground truth", "prediction"]
    with pytest.raises(ValueError, match="needs a prediction, a pseudo label or both"):
        write_overlay(tmp_path, case, Intensity())
