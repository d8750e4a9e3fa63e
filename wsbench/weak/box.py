"""The ``box`` protocol: a box per 2D connected component of each class, and box validation.

A tight box is grown by ``looseness`` (a margin per side, as a fraction of the box's height
or width) and each edge is moved by ``jitter`` (uniform in +-jitter times the box size),
then clipped to the image. Boxes are half-open: rows ``y0:y1``, columns ``x0:x1``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from wsbench.api import Box, BoxLabel, Case, Param
from wsbench.errors import WeakLabelError
from wsbench.params import at_least, in_range
from wsbench.weak.selection import SLICES_PARAM, SliceSelectingProtocol, components, require_label

MIN_SIZE_PARAM = Param(
    "min_size",
    1,
    "components with fewer pixels than this get no annotation (specks)",
    **at_least(1),
)


class BoxProtocol(SliceSelectingProtocol):
    name = "box"
    produces = "box"
    version = "0.1.0"
    citation = (
        "Fan et al., Weakly Supervised Liver Tumor Segmentation Based on Anchor Box and "
        "Adversarial Complementary Learning, ICIS 2022: a box per tumour per slice"
    )
    params = (
        SLICES_PARAM,
        Param(
            "looseness",
            0.0,
            "margin added to each side, as a fraction of the box's size",
            **at_least(0.0),
        ),
        Param(
            "jitter",
            0.0,
            "random shift of each edge, uniform in +-jitter times the box size",
            **in_range(0.0, 1.0),
        ),
        MIN_SIZE_PARAM,
    )

    def simulate(self, case: Case, rng: np.random.Generator) -> BoxLabel:
        label = require_label(case)
        slices = self.select_slices(case)
        boxes = []
        for z in slices:
            for cls in range(1, len(case.classes) + 1):
                for window, _ in components(label[z] == cls, self.p["min_size"]):
                    tight = (window[0].start, window[1].start, window[0].stop, window[1].stop)
                    edges = self.perturb(tight, label.shape[1:], rng)
                    boxes.append(Box(int(z), *edges, cls=cls))
        return BoxLabel(slices=slices, boxes=boxes)

    def perturb(
        self, tight: tuple[int, int, int, int], image_yx: tuple[int, int], rng: np.random.Generator
    ) -> tuple[int, int, int, int]:
        """Loosen, jitter, round and clip a tight (y0, x0, y1, x1) box; never degenerate."""
        y0, x0, y1, x1 = tight
        size = np.array([y1 - y0, x1 - x0, y1 - y0, x1 - x0], dtype=float)
        outward = np.array([-1.0, -1.0, 1.0, 1.0])
        # Four draws per box whatever the jitter, so a jitter sweep moves the same edges further.
        shift = rng.uniform(-1.0, 1.0, size=4) * self.p["jitter"] * size
        edges = np.array(tight, dtype=float) + outward * self.p["looseness"] * size + shift
        ny0, nx0, ny1, nx1 = (int(v) for v in np.rint(edges))
        height, width = image_yx
        ny0, nx0 = min(max(ny0, 0), height - 1), min(max(nx0, 0), width - 1)
        ny1, nx1 = min(max(ny1, ny0 + 1), height), min(max(nx1, nx0 + 1), width)
        return ny0, nx0, ny1, nx1


def validate_boxes(
    case_id: str,
    boxes: Iterable[Box],
    shape: Sequence[int],
    required_slices: Iterable[int] | None = None,
    num_classes: int | None = None,
) -> None:
    """Raise WeakLabelError for the first box a labeler cannot use.

    ``shape`` is the case's ``(Z, Y, X)``. A box must lie on a slice of the volume, inside
    the image, with positive height and width and a class in 1..num_classes (when given).
    Every slice in ``required_slices`` (e.g. the slices a labeler knows hold a target) must
    carry at least one box.
    """
    n_slices, height, width = (int(s) for s in shape)
    boxed: set[int] = set()
    for box in boxes:
        where = f"case {case_id!r}: box {box}"
        if box.height <= 0 or box.width <= 0:
            raise WeakLabelError(
                f"{where} is degenerate (height {box.height}, width {box.width}); a box needs "
                "y1 > y0 and x1 > x0 (half-open); fix or drop it"
            )
        if not (
            0 <= box.z < n_slices
            and 0 <= box.y0
            and box.y1 <= height
            and 0 <= box.x0
            and box.x1 <= width
        ):
            raise WeakLabelError(
                f"{where} lies outside the image of shape (Z, Y, X) = {tuple(shape)}; clip it "
                "to the image or regenerate the weak labels"
            )
        if box.cls < 1 or (num_classes is not None and box.cls > num_classes):
            raise WeakLabelError(
                f"{where} has class {box.cls}, outside 1..{num_classes or 'K'}; classes are "
                "1-based task labels"
            )
        boxed.add(box.z)
    required = () if required_slices is None else required_slices
    missing = sorted({int(z) for z in required} - boxed)
    if missing:
        raise WeakLabelError(
            f"case {case_id!r}: target slices {missing[:10]}{'...' if len(missing) > 10 else ''} "
            "have no box; annotate them or leave them out of the required slices"
        )
