"""The ``full`` protocol: the ground truth itself, for the oracle (fully supervised bound)."""

from __future__ import annotations

import numpy as np

from wsbench.api import Case, FullLabel
from wsbench.weak.selection import SLICES_PARAM, SliceSelectingProtocol, require_label


class FullProtocol(SliceSelectingProtocol):
    name = "full"
    produces = "full"
    version = "0.1.0"
    citation = "full supervision: every voxel of the selected slices labelled"
    params = (SLICES_PARAM,)

    def simulate(self, case: Case, rng: np.random.Generator) -> FullLabel:
        label = require_label(case)
        return FullLabel(slices=self.select_slices(case), label=label.astype(np.uint8, copy=True))
