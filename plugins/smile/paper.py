"""Petit et al. 2018: the citation, the numbers the paper reports, and the claim wsbench tests.

Petit O, Thome N, Charnoz A, Hostettler A, Soler L. Handling Missing Annotations for Semantic
Segmentation with Deep ConvNets. DLMIA (MICCAI workshop) 2018.
"""

from __future__ import annotations

from wsbench.api import Reported

CITATION = (
    "Petit O, Thome N, Charnoz A, Hostettler A, Soler L. Handling Missing Annotations for "
    "Semantic Segmentation with Deep ConvNets. DLMIA (MICCAI workshop) 2018, LNCS 11045, "
    "pp. 20-28. doi:10.1007/978-3-030-00889-5_3"
)

# The paper reports its results as curves (Fig. 3) on 72 private CT volumes; the text gives
# differences, not values a leaderboard row could show beside a reproduced one.
REPORTED: tuple[Reported, ...] = ()

CLAIM = (
    "Fig. 3: as the missing ratio alpha grows the softmax baseline drops (about 20 Dice "
    "points at alpha = 0.4) while SMILE stays close to full annotation; SMILEr at alpha = 0.7 "
    "is comparable to the fully annotated model, helping the small organs most."
)
COMMAND = (
    "wsbench run --dataset synthetic --labeler partial,smile,smiler --segmenter deeplabv3 "
    "--weak partial --sweep weak.alpha=0,0.3,0.5,0.7,0.9 --seeds 0,1,2 --set train.epochs=4"
)
