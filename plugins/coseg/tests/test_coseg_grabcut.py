"""The GrabCut labeler: its seeds from the RECIST marks, and what GrabCut makes of them."""

from __future__ import annotations

import cv2
import numpy as np
from wsbench_plugins.coseg.grabcut import GrabCutLabeler, grabcut_mask, seed_map

from wsbench.api import Recist
from wsbench.metrics import dice
from wsbench.testing.labelers import LabelerConformance
from wsbench.weak.recist import diameters


class TestGrabCutConformance(LabelerConformance):
    labeler_name = "grabcut"
    weak_protocol = "recist"


def _mark_of(mask: np.ndarray) -> Recist:
    long_axis, short_axis = diameters(mask, np.array([1.0, 1.0]))
    return Recist(0, tuple(map(tuple, long_axis)), tuple(map(tuple, short_axis)))


def _ellipse(shape=(48, 48), centre=(24, 22), axes=(12, 7)) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return ((yy - centre[0]) / axes[0]) ** 2 + ((xx - centre[1]) / axes[1]) ** 2 <= 1


def test_seed_map_marks_axes_quadrilateral_box_and_outside():
    mark = Recist(0, ((10.0, 20.0), (30.0, 20.0)), ((20.0, 14.0), (20.0, 26.0)))
    seeds = seed_map((48, 48), mark, axis_dilation=0, box_margin=0.25)
    assert seeds[20, 20] == cv2.GC_FGD and seeds[10, 20] == cv2.GC_FGD  # on the axes
    assert seeds[15, 18] == cv2.GC_PR_FGD  # inside the quadrilateral, off the axes
    assert seeds[11, 15] == cv2.GC_PR_BGD  # in the box, outside the quadrilateral
    assert seeds[6, 20] == cv2.GC_PR_BGD  # in the 25 % margin (5 px) above the box
    assert seeds[2, 20] == cv2.GC_BGD and seeds[40, 40] == cv2.GC_BGD  # outside


def test_axis_dilation_grows_the_sure_foreground():
    mark = Recist(0, ((10.0, 20.0), (30.0, 20.0)), ((20.0, 14.0), (20.0, 26.0)))
    thin = seed_map((48, 48), mark, 0, 0.1) == cv2.GC_FGD
    thick = seed_map((48, 48), mark, 2, 0.1) == cv2.GC_FGD
    assert thick.sum() > 2 * thin.sum() and (thick >= thin).all()


def test_grabcut_recovers_an_ellipse_better_than_its_quadrilateral():
    rng = np.random.default_rng(0)
    truth = _ellipse()
    grey = np.clip(60 + 120 * truth + rng.normal(0, 10, truth.shape), 0, 255).astype(np.uint8)
    mark = _mark_of(truth)
    quad = grabcut_mask(grey, mark, iterations=0)  # the seeds only
    cut = grabcut_mask(grey, mark, iterations=5)
    assert dice(cut, truth) > 0.9 and dice(cut, truth) > dice(quad, truth) + 0.1


def test_labeler_marks_only_the_recist_slices(tmp_path):
    from wsbench.api import Intensity, LabelContext, RecistLabel, WeakCase

    truth = _ellipse()
    image = np.zeros((3, 48, 48), np.float32)
    image[1] = 150.0 * truth
    mark = _mark_of(truth)
    weak = RecistLabel(
        slices=np.array([1]), lesions=[Recist(1, mark.long_axis, mark.short_axis, 1)]
    )
    case = WeakCase("c", "p", image, (2.0, 1.0, 1.0), weak, ("tumor",), Intensity())
    label = GrabCutLabeler().label_case(case, LabelContext("cpu", 0, ("tumor",), tmp_path))
    assert label.slices.tolist() == [1]
    assert label.target[0].max() == 0 and label.target[2].max() == 0
    assert dice(label.target[1] == 1, truth) > 0.9
