"""Labeler ``cam``: the CAM baseline of Fan et al. 2022 Table 2 (Zhou et al. 2016) on the same box
classifier as ACoL, with a single branch and no erasing."""

from __future__ import annotations

from .mining import BoxMiningLabeler
from .paper import CITATION


class CamLabeler(BoxMiningLabeler):
    """Box classifier (GT boxes vs nearby anchors) -> class activation map of the box's class,
    min-max normalised, resized to the box, DenseCRF-refined; in-box background ignored."""

    name = "cam"
    version = "0.2.0"  # CRF defaults re-tuned on validation masks (val_masks=4)
    citation = CITATION
    two_branch = False
