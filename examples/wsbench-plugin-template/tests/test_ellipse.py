"""The template's tests: wsbench's conformance suite, then the method's own unit tests."""

from __future__ import annotations

import numpy as np
import pytest
from wsbench.api import Box, BoxLabel, Intensity, LabelContext, WeakCase
from wsbench.plugins import load_registry
from wsbench.testing.labelers import LabelerConformance

from wsbench_ellipse.labeler import EllipseFill, inscribed_ellipse


class TestEllipseFill(LabelerConformance):
    """Every check wsbench runs on its own labelers, on tiny phantom cases."""

    labeler_name = "ellipse-fill"


def test_found_through_the_entry_point():
    registry = load_registry()
    assert registry.get("labeler", "ellipse-fill") is EllipseFill
    assert registry.source("labeler", "ellipse-fill") == "ellipse"


def test_a_disc_fills_a_quarter_pi_of_its_box():
    inside = inscribed_ellipse(200, 200)
    assert inside.mean() == pytest.approx(np.pi / 4, abs=0.01)
    assert inside[100, 100] and not inside[0, 0] and inside[0, 100] and inside[100, 0]


def test_boxes_become_ellipses_with_weights_outside(tmp_path):
    image = np.zeros((2, 12, 16), np.float32)
    weak = BoxLabel(slices=np.array([1]), boxes=[Box(1, 2, 4, 9, 11)])
    case = WeakCase("c1", "p1", image, (3.0, 1.0, 1.0), weak, ("tumor",), Intensity())
    ctx = LabelContext(device="cpu", seed=0, classes=("tumor",), workdir=tmp_path)
    (pseudo,) = EllipseFill(outside_weight=0.0).label([case], ctx)
    expected = np.zeros((2, 12, 16), np.uint8)
    expected[1, 2:9, 4:11] = inscribed_ellipse(7, 7)
    np.testing.assert_array_equal(pseudo.target, expected)
    box = np.zeros_like(expected, bool)
    box[1, 2:9, 4:11] = True
    assert (pseudo.weight[box & (expected == 0)] == 0).all()
    assert (pseudo.weight[~box] == 1).all() and (pseudo.weight[expected == 1] == 1).all()
    np.testing.assert_array_equal(pseudo.slices, [1])
