"""Labeler ``acol``: anchor-box negatives and Adversarial Complementary Learning
(Fan et al. 2022 §2-3.2).

Two classifier branches A and B on RoIAlign features of each box; B sees the features with
A's salient region (normalised map > delta) erased; the fused map max(M_A, M_B) becomes the
box's pseudo mask after DenseCRF. The paper's numbers (LiTS, Dice) are in ``reported``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from wsbench.params import Param, in_range

from .mining import MINING_PARAMS, QUICK, BoxMiningLabeler
from .paper import CITATION, REPORTED


class AcolLabeler(BoxMiningLabeler):
    """ResNet-FPN box classifier with ACoL branches A/B and erasing at ``delta``."""

    name = "acol"
    version = "0.2.0"  # CRF defaults re-tuned on validation masks (val_masks=4)
    citation = CITATION
    two_branch = True
    params = (
        *MINING_PARAMS,
        Param(
            "delta",
            0.6,
            "ACoL erasing threshold on min-max normalised ReLU(M_A) (Fan et al. 2022: 0.6)",
            **in_range(0, 1, lo_open=True, hi_open=True),
        ),
        Param(
            "erase",
            True,
            "erase A's salient region from branch B's input (Fan et al. 2022 §2.2); false is "
            "the claims test's mutant: two branches, no complementary learning",
        ),
    )
    profiles: ClassVar[dict[str, dict[str, Any]]] = {"quick": QUICK, "paper": {}}
    reported = REPORTED

    @property
    def delta(self) -> float:
        return float(self.p["delta"])

    @property
    def erase(self) -> bool:
        return bool(self.p["erase"])
