"""The ``cam`` and ``acol`` labelers: conformance, ignore map, bad input, reported numbers."""

from __future__ import annotations

import numpy as np
import pytest
from wsbench_plugins.acol.acol import AcolLabeler
from wsbench_plugins.acol.cam import CamLabeler
from wsbench_plugins.acol.mining import resize_map

from wsbench.api import Box, BoxLabel, Intensity, LabelContext, WeakCase
from wsbench.errors import ParameterError, WeakLabelError
from wsbench.plugins import load_registry
from wsbench.testing.labelers import LabelerConformance

TINY = {"fpn_channels": 8, "hidden": 8, "roi_size": 5, "epochs": 1, "negatives": 4}


class TestCamConformance(LabelerConformance):
    labeler_name = "cam"
    overrides = TINY


class TestAcolConformance(LabelerConformance):
    labeler_name = "acol"
    overrides = TINY


def weak_case(boxes: list[Box], slices=(0, 1), shape=(2, 24, 24)) -> WeakCase:
    image = np.zeros(shape, np.float32)
    for b in boxes:
        if b.z < shape[0]:
            image[b.z, b.y0 : b.y1, b.x0 : b.x1] = 150.0
    return WeakCase(
        "case-7",
        "p7",
        image,
        (3.0, 1.0, 1.0),
        BoxLabel(slices=np.array(slices, np.int64), boxes=boxes),
        ("tumor",),
        Intensity(),
    )


def ctx(tmp_path) -> LabelContext:
    return LabelContext(device="cpu", seed=0, classes=("tumor",), workdir=tmp_path)


def test_pseudo_mask_keeps_crf_foreground_inside_boxes_and_ignores_in_box_background():
    box = Box(1, 4, 6, 10, 12)
    case = weak_case([box])
    refined = np.zeros((24, 24), np.float32)
    refined[5:8, 7:10] = 0.9  # foreground inside the box
    refined[15:20, 15:20] = 0.9  # outside every box: must stay background
    pseudo = AcolLabeler("quick").pseudo_label(case, [box], [refined])
    fg = np.zeros((2, 24, 24), bool)
    fg[1, 5:8, 7:10] = True
    np.testing.assert_array_equal(pseudo.target, fg.astype(np.uint8))
    in_box = np.zeros((2, 24, 24), bool)
    in_box[1, 4:10, 6:12] = True
    np.testing.assert_array_equal(pseudo.weight == 0, in_box & ~fg)
    np.testing.assert_array_equal(pseudo.slices, [0, 1])
    kept = AcolLabeler("quick", ignore_box_background=False).pseudo_label(case, [box], [refined])
    assert (kept.weight == 1).all()


def test_map_is_resized_bilinearly_to_the_box():
    import torch

    up = resize_map(torch.tensor([[0.0, 1.0], [0.0, 1.0]]), 3, 8)
    assert up.shape == (3, 8) and up.min() >= 0 and up.max() <= 1
    assert (np.diff(up[0]) >= 0).all() and up[0, 0] < 0.1 and up[0, -1] > 0.9


@pytest.mark.parametrize(
    "boxes, match",
    [
        ([Box(0, 20, 20, 30, 26)], "outside the image"),
        ([Box(0, 5, 5, 5, 9)], "degenerate"),
        ([Box(4, 1, 1, 5, 5)], "outside the image"),
        ([], "box lists of all 1 training cases are empty"),
    ],
)
@pytest.mark.parametrize("labeler", [CamLabeler, AcolLabeler])
def test_bad_boxes_fail_with_one_line_messages(labeler, boxes, match, tmp_path):
    with pytest.raises(WeakLabelError, match=match) as info:
        labeler("quick", **TINY).label([weak_case(boxes)], ctx(tmp_path))
    assert "\n" not in str(info.value)


def test_required_boxes_rules(tmp_path):
    case = weak_case([Box(0, 2, 2, 8, 8)], slices=(0, 1))
    with pytest.raises(WeakLabelError, match=r"target slices \[1\] have no box"):
        AcolLabeler("quick", require_boxes="slice").boxes_by_slice(case)
    empty = weak_case([], slices=(0, 1))
    with pytest.raises(WeakLabelError, match="case 'case-7': empty box list"):
        AcolLabeler("quick", require_boxes="case").boxes_by_slice(empty)
    assert AcolLabeler("quick").boxes_by_slice(empty) == {}  # a tumour-free training case


@pytest.mark.parametrize("delta", ["0", "1", "1.5", "-0.2"])
def test_delta_outside_the_open_unit_interval_is_rejected(delta):
    with pytest.raises(ParameterError, match=r"acol.delta=.* must be in \(0, 1\)"):
        AcolLabeler("quick", delta=delta)
    assert AcolLabeler("quick", delta="0.4").delta == 0.4


def test_registered_with_the_paper_profile_and_reported_numbers():
    registry = load_registry()
    assert registry.get("labeler", "acol") is AcolLabeler
    assert registry.get("labeler", "cam") is CamLabeler
    paper = AcolLabeler("paper").p
    assert (paper["backbone"], paper["epochs"], paper["batch_size"], paper["lr"]) == (
        "resnet50",
        50,
        8,
        1e-3,
    )
    assert (paper["momentum"], paper["weight_decay"], paper["image_size"]) == (0.9, 5e-4, 512)
    assert (paper["delta"], paper["negatives"], paper["keep_fraction"]) == (0.6, 256, 0.1)
    assert tuple(paper["anchor_sizes"]) == (32, 64, 128, 256)
    table = {(r.labeler, r.segmenter): r.value for r in AcolLabeler.reported}
    assert table == {
        ("box-fill", "deeplabv3"): 0.563,
        ("cam", "deeplabv3"): 0.617,
        ("acol", "deeplabv3"): 0.658,
        ("oracle", "unet"): 0.702,
        ("oracle", "deeplabv3"): 0.711,
        ("sdi", "deeplabv3"): 0.626,
        ("wssl", "deeplabv3"): 0.632,
    }
    assert {(r.dataset, r.target, r.metric) for r in AcolLabeler.reported} == {
        ("lits", "tumor", "dice")
    }
