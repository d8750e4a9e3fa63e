"""box-fill and oracle: the conformance suite, their pseudo labels, and box validation."""

from __future__ import annotations

import numpy as np
import pytest

from wsbench.api import Box, BoxLabel, FullLabel, LabelContext, WeakCase
from wsbench.errors import WeakLabelError
from wsbench.plugins import load_registry
from wsbench.testing.labelers import LabelerConformance
from wsbench.weak.box import validate_boxes


class TestBoxFillConformance(LabelerConformance):
    labeler_name = "box-fill"


class TestOracleConformance(LabelerConformance):
    labeler_name = "oracle"


def _weak_case(weak, shape=(3, 16, 20), classes=("liver", "tumor")) -> WeakCase:
    return WeakCase("c7", "p7", np.zeros(shape, np.float32), (2.0, 1.0, 1.0), weak, classes)


def _label(name: str, cases):
    labeler = load_registry().get("labeler", name)(profile="quick")
    ctx = LabelContext(device="cpu", seed=0, classes=cases[0].classes, workdir=None)
    return labeler.label(cases, ctx)


def test_box_fill_paints_boxes_higher_class_on_top():
    boxes = [Box(1, 2, 3, 10, 12, cls=2), Box(1, 0, 0, 12, 15, cls=1), Box(2, 5, 5, 6, 6, cls=1)]
    weak = BoxLabel(slices=np.array([0, 1, 2]), boxes=boxes)
    (pseudo,) = _label("box-fill", [_weak_case(weak)])
    expected = np.zeros((3, 16, 20), np.uint8)
    expected[1, 0:12, 0:15] = 1
    expected[1, 2:10, 3:12] = 2
    expected[2, 5, 5] = 1
    np.testing.assert_array_equal(pseudo.target, expected)
    assert pseudo.weight.dtype == np.float32 and (pseudo.weight == 1).all()
    np.testing.assert_array_equal(pseudo.slices, [0, 1, 2])


def test_oracle_returns_ground_truth():
    truth = np.random.default_rng(0).integers(0, 3, (3, 16, 20)).astype(np.uint8)
    (pseudo,) = _label("oracle", [_weak_case(FullLabel(slices=np.array([1]), label=truth))])
    np.testing.assert_array_equal(pseudo.target, truth)
    assert pseudo.target is not truth and (pseudo.weight == 1).all()
    np.testing.assert_array_equal(pseudo.slices, [1])


@pytest.mark.parametrize(
    "box, words",
    [
        (Box(0, 10, 10, 10, 15), "degenerate"),
        (Box(0, 4, 9, 8, 9), "degenerate"),
        (Box(0, 10, 10, 17, 15), "outside"),
        (Box(0, -1, 0, 4, 4), "outside"),
        (Box(3, 0, 0, 4, 4), "outside"),
        (Box(0, 0, 0, 4, 4, cls=3), "class 3"),
    ],
)
def test_box_fill_rejects_invalid_boxes(box, words):
    weak = BoxLabel(slices=np.array([0]), boxes=[box])
    with pytest.raises(WeakLabelError, match=words) as info:
        _label("box-fill", [_weak_case(weak)])
    assert "'c7'" in str(info.value) and str(box) in str(info.value)
    assert "\n" not in str(info.value)


def test_box_fill_rejects_other_weak_kinds():
    from wsbench.api import check_weak_kind
    from wsbench.plugins import load_registry

    box_fill = load_registry().get("labeler", "box-fill")
    with pytest.raises(WeakLabelError, match="--weak box"):
        check_weak_kind(box_fill, [_weak_case(FullLabel(label=np.zeros((3, 16, 20), np.uint8)))])


def test_oracle_rejects_mismatched_label():
    weak = FullLabel(slices=np.array([0]), label=np.zeros((3, 16, 19), np.uint8))
    with pytest.raises(WeakLabelError, match="differs from image shape"):
        _label("oracle", [_weak_case(weak)])


def test_validate_boxes_required_slices():
    boxes = [Box(0, 0, 0, 2, 2), Box(2, 0, 0, 2, 2)]
    validate_boxes("c1", boxes, (3, 4, 4), required_slices=[0, 2])
    with pytest.raises(WeakLabelError, match=r"target slices \[1\] have no box"):
        validate_boxes("c1", boxes, (3, 4, 4), required_slices=np.array([0, 1, 2]))


def test_the_default_label_loops_over_label_case_and_names_a_missing_one(tmp_path):
    from wsbench.api import LabelContext, Labeler

    class Neither(Labeler):
        name = "neither"
        consumes = ("box",)

    ctx = LabelContext(device="cpu", seed=0, classes=("tumor",), workdir=tmp_path)
    with pytest.raises(NotImplementedError, match="'neither' implements neither"):
        Neither().label([_weak_case(BoxLabel(slices=np.array([0])))], ctx)


def test_check_weak_kind_passes_consumed_kinds():
    from wsbench.api import check_weak_kind
    from wsbench.plugins import load_registry

    box_fill = load_registry().get("labeler", "box-fill")
    check_weak_kind(box_fill, [_weak_case(BoxLabel(slices=np.array([0])))])  # no error
