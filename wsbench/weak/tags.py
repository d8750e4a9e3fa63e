"""The ``tags`` protocol: image-level findings, ``present[z, k-1]`` for every slice z."""

from __future__ import annotations

import numpy as np

from wsbench.api import Case, Param, TagLabel
from wsbench.params import at_least
from wsbench.weak.selection import SLICES_PARAM, SliceSelectingProtocol, require_label


class TagsProtocol(SliceSelectingProtocol):
    name = "tags"
    produces = "tags"
    version = "0.1.0"
    citation = (
        "Viniavskyi et al., Weakly-Supervised Segmentation for Disease Localization in Chest "
        "X-Ray Images (Viniavskyi et al. 2020): image-level labels"
    )
    params = (
        SLICES_PARAM,
        Param(
            "min_size",
            1,
            "a class is tagged on a slice when it covers at least this many pixels there",
            **at_least(1),
        ),
    )

    def simulate(self, case: Case, rng: np.random.Generator) -> TagLabel:
        label = require_label(case)
        counts = np.stack(
            [np.count_nonzero(label == k, axis=(1, 2)) for k in range(1, len(case.classes) + 1)],
            axis=1,
        )
        return TagLabel(slices=self.select_slices(case), present=counts >= self.p["min_size"])
