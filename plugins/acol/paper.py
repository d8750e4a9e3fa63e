"""Fan et al. 2022: the citation, the numbers the paper reports, and the claim wsbench tests.

Fan M, Liu H, Zhu Z, Jiao C, Gou S. Weakly Supervised Liver Tumor Segmentation Based on
Anchor Box and Adversarial Complementary Learning. ICIS 2022.
"""

from __future__ import annotations

from wsbench.api import Reported

CITATION = (
    "Fan M, Liu H, Zhu Z, Jiao C, Gou S. Weakly Supervised Liver Tumor Segmentation Based on "
    "Anchor Box and Adversarial Complementary Learning. ICIS 2022, pp. 68-75. "
    "doi:10.1007/978-3-031-14903-0_8"
)

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


# LiTS test Dice of DeepLabV3 (and U-Net) trained on each kind of pseudo label.
REPORTED: tuple[Reported, ...] = (
    _lits("box-fill", "deeplabv3", 0.563, _T2, "baseline: every pixel in the box"),
    _lits("cam", "deeplabv3", 0.617, _T2),
    _lits("acol", "deeplabv3", 0.658, _T2, "'Our' in Tables 1 and 2"),
    _lits("oracle", "unet", 0.702, _T1, "pixel-level (full) supervision"),
    _lits("oracle", "deeplabv3", 0.711, _T1, "pixel-level (full) supervision"),
    _lits("sdi", "deeplabv3", 0.626, _T1, "SDI_box (Khoreva et al. 2017); not implemented"),
    _lits("wssl", "deeplabv3", 0.632, _T1, "WSSL (Papandreou et al. 2015); not implemented"),
)

CLAIM = (
    "Table 2: DeepLabV3 trained on each kind of pseudo label ranks box-fill < CAM < ACoL by "
    "test Dice, with full supervision above all three (Table 1)."
)
COMMAND = (
    "wsbench run --preset tumour-cpu --labeler box-fill,cam,acol,oracle --segmenter unet "
    "--dataset synthetic --seeds 0,1,2"
)
