"""Labeler ``cam``: the CAM baseline of Fan et al. 2022 Table 2 (Zhou et al. 2016) on the same box
classifier as ACoL, with a single branch and no erasing."""

from __future__ import annotations

from .mining import BoxMiningLabeler

CITATION = (
    "Fan M, Liu H, Zhu Z, Jiao C, Gou S. Weakly Supervised Liver Tumor Segmentation Based on "
    "Anchor Box and Adversarial Complementary Learning. ICIS 2022, pp. 68-75. "
    "doi:10.1007/978-3-031-14903-0_8"
)


class CamLabeler(BoxMiningLabeler):
    """Box classifier (GT boxes vs nearby anchors) -> class activation map of the box's class,
    min-max normalised, resized to the box, DenseCRF-refined; in-box background ignored."""

    name = "cam"
    version = "0.1.0"
    citation = CITATION
    two_branch = False
