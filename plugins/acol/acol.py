"""Labeler ``acol``: anchor-box negatives and Adversarial Complementary Learning
(Fan et al. 2022 §2-3.2).

Two classifier branches A and B on RoIAlign features of each box; B sees the features with
A's salient region (normalised map > delta) erased; the fused map max(M_A, M_B) becomes the
box's pseudo mask after DenseCRF. The paper's numbers (LiTS, Dice) are in ``reported``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from wsbench.api import Reported
from wsbench.params import Param, in_range

from .cam import CITATION
from .mining import MINING_PARAMS, QUICK, BoxMiningLabeler

_T1 = "Fan et al. 2022, Table 1"
_T2 = "Fan et al. 2022, Table 2"


def _lits(labeler: str, segmenter: str, value: float, source: str, note: str = "") -> Reported:
    return Reported(
        dataset="lits",
        target="tumor",
        labeler=labeler,
        segmenter=segmenter,
        metric="dice",
        value=value,
        source=source,
        note=note,
    )


class AcolLabeler(BoxMiningLabeler):
    """ResNet-FPN box classifier with ACoL branches A/B and erasing at ``delta``."""

    name = "acol"
    version = "0.1.0"
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
    )
    profiles: ClassVar[dict[str, dict[str, Any]]] = {"quick": QUICK, "paper": {}}
    reported = (
        _lits("box-fill", "deeplabv3", 0.563, _T2, "baseline: every pixel in the box"),
        _lits("cam", "deeplabv3", 0.617, _T2),
        _lits("acol", "deeplabv3", 0.658, _T2, "'Our' in Tables 1 and 2"),
        _lits("oracle", "unet", 0.702, _T1, "pixel-level (full) supervision"),
        _lits("oracle", "deeplabv3", 0.711, _T1, "pixel-level (full) supervision"),
        _lits("sdi", "deeplabv3", 0.626, _T1, "SDI_box (Khoreva et al. 2017); not implemented"),
        _lits("wssl", "deeplabv3", 0.632, _T1, "WSSL (Papandreou et al. 2015); not implemented"),
    )

    @property
    def delta(self) -> float:
        return float(self.p["delta"])
