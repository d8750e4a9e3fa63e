"""The ``partial`` protocol: whole organs missing from the annotation (Petit et al. 2018).

For each training volume and each class independently, the class's annotation is dropped
with probability ``alpha``; its voxels become background in the label map, as in the
paper's partially annotated dataset. ``PartialLabel.annotated[k-1]`` records whether class
k was kept, so labelers know which background is certain and which is ambiguous.
"""

from __future__ import annotations

import numpy as np

from wsbench.api import Case, Param, PartialLabel
from wsbench.errors import ParameterError
from wsbench.params import in_range
from wsbench.weak.selection import SLICES_PARAM, SliceSelectingProtocol, require_label


class PartialProtocol(SliceSelectingProtocol):
    name = "partial"
    produces = "partial"
    version = "0.1.0"
    min_classes = 2  # the planner skips targets with fewer classes (wsbench.grid)
    citation = (
        "Petit et al., Handling Missing Annotations for Semantic Segmentation with Deep "
        "ConvNets, DLMIA 2018: each organ's annotation removed with probability alpha"
    )
    params = (
        SLICES_PARAM,
        Param(
            "alpha",
            0.7,
            "probability of dropping each class's annotation, per volume and class",
            type=float,
            **in_range(0.0, 1.0),
        ),
    )

    def simulate(self, case: Case, rng: np.random.Generator) -> PartialLabel:
        label = require_label(case)
        if len(case.classes) < 2:
            raise ParameterError(
                f"protocol 'partial' needs a task with >= 2 classes, but case {case.id!r} has "
                f"{len(case.classes)} ({', '.join(case.classes) or 'none'}); use --target organs "
                "on synthetic, or a target naming several labels on msd/folder"
            )
        # One draw per class whatever alpha: with the same generator, a larger alpha drops a
        # superset of the organs a smaller one drops.
        annotated = rng.random(len(case.classes)) >= self.p["alpha"]
        dropped = [k for k in range(1, len(case.classes) + 1) if not annotated[k - 1]]
        partial = label.astype(np.uint8, copy=True)
        partial[np.isin(partial, dropped)] = 0
        return PartialLabel(slices=self.select_slices(case), label=partial, annotated=annotated)
