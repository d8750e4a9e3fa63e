"""Ouassit et al. 2022: the citation, the numbers the paper reports, and the claims wsbench tests.

Ouassit Y, Ardchir S, El Ghoumari MY, Azzouazi M. A Weakly Reiterative Patches-Wise Framework
for CT Liver and Lesions Segmentation. IJIES 2022.

Ouassit et al. 2022's mIoU column is not reported: in 19 cells of Tables 7-8 the "mIoU"
exceeds the Dice of the same cell, which no single-class IoU can do (IoU = Dice / (2 - Dice)
<= Dice). See README.md.
"""

from __future__ import annotations

from wsbench.api import Reported

CITATION = (
    "Ouassit Y, Ardchir S, El Ghoumari MY, Azzouazi M. A Weakly Reiterative Patches-Wise "
    "Framework for CT Liver and Lesions Segmentation. International Journal of Intelligent "
    "Engineering and Systems 2022."
)

_T5 = "Ouassit et al. 2022, Table 5"
_T6 = "Ouassit et al. 2022, Table 6"
_T7 = "Ouassit et al. 2022, Table 7"
_T8 = "Ouassit et al. 2022, Table 8"

# Tables 7 (liver) and 8 (lesions): {plane: {model: (acc val, acc test, dice val, dice test)}}
_LIVER = {
    "axial": {
        "segnet": (0.9578, 0.9543, 0.7738, 0.7667),
        "unet": (0.9661, 0.9525, 0.8293, 0.8251),
        "deeplabv3": (0.9375, 0.9564, 0.8891, 0.8807),
        "reipatch": (0.9732, 0.9621, 0.9511, 0.9465),
    },
    "coronal": {
        "segnet": (0.9210, 0.9213, 0.7716, 0.7594),
        "unet": (0.9565, 0.9113, 0.8285, 0.8241),
        "deeplabv3": (0.9432, 0.9724, 0.8838, 0.8798),
        "reipatch": (0.973, 0.9542, 0.9501, 0.9425),
    },
    "sagittal": {
        "segnet": (0.9340, 0.9290, 0.7690, 0.7480),
        "unet": (0.9542, 0.9662, 0.8280, 0.8130),
        "deeplabv3": (0.9135, 0.9834, 0.8838, 0.8793),
        "reipatch": (0.9631, 0.9732, 0.9465, 0.9330),
    },
}
_LESION = {
    "axial": {
        "segnet": (0.9631, 0.9493, 0.7363, 0.5899),
        "unet": (0.9564, 0.9410, 0.8125, 0.7900),
        "deeplabv3": (0.9711, 0.9651, 0.8659, 0.8615),
        "reipatch": (0.9471, 0.9736, 0.9313, 0.9199),
    },
    "coronal": {
        "segnet": (0.7440, 0.9444, 0.7280, 0.5477),
        "unet": (0.9625, 0.9410, 0.8031, 0.7850),
        "deeplabv3": (0.9233, 0.9442, 0.8627, 0.8614),
        "reipatch": (0.9331, 0.9725, 0.9225, 0.9075),
    },
    "sagittal": {
        "segnet": (0.9582, 0.9359, 0.7068, 0.4539),
        "unet": (0.9637, 0.9431, 0.7952, 0.7846),
        "deeplabv3": (0.9732, 0.9680, 0.8615, 0.8334),
        "reipatch": (0.9314, 0.9431, 0.9225, 0.9056),
    },
}
_NOTES = {
    "segnet": "SegNet (Badrinarayanan et al. 2015); reported only, not implemented",
    "unet": "the paper's U-Net baseline [20]",
    "deeplabv3": "the paper's DeepLabV3 baseline [22]",
    "reipatch": "'Ours'",
}

# Table 5 (axial liver, per self-labelling round N): (acc val, acc test, dice val, dice test)
_ROUNDS = {
    0: (0.9520, 0.9410, 0.8402, 0.8510),
    1: (0.9572, 0.9481, 0.8682, 0.8964),
    2: (0.9600, 0.9575, 0.8953, 0.9015),
    3: (0.9690, 0.9591, 0.9120, 0.9265),
    4: (0.9701, 0.9610, 0.9420, 0.9310),
    5: (0.9732, 0.9621, 0.9511, 0.9331),
    6: (0.9730, 0.9732, 0.9641, 0.9244),
    7: (0.9710, 0.9730, 0.9672, 0.9202),
}

# Table 6 (3D-IRCADb; split not stated): (acc, dice)
_IRCADB = {"liver": (0.9701, 0.9330), "tumor": (0.9524, 0.9417)}


def _plane_key(segmenter: str) -> str:
    return "reipatch.plane" if segmenter == "reipatch" else "train.axis"


def _tables() -> list[Reported]:
    out = []
    for target, table, source in (("liver", _LIVER, _T7), ("tumor", _LESION, _T8)):
        for plane, models in table.items():
            for segmenter, (acc_val, acc_test, dice_val, dice_test) in models.items():
                for metric, value, split in (
                    ("dice", dice_test, "test"),
                    ("dice", dice_val, "val"),
                    ("accuracy", acc_test, "test"),
                    ("accuracy", acc_val, "val"),
                ):
                    out.append(
                        Reported(
                            dataset="lits",
                            target=target,
                            labeler="oracle",
                            segmenter=segmenter,
                            metric=metric,
                            value=value,
                            source=source,
                            note=f"{_NOTES[segmenter]}; {plane} plane",
                            params={_plane_key(segmenter): plane},
                            split=split,
                        )
                    )
    for n, (acc_val, acc_test, dice_val, dice_test) in _ROUNDS.items():
        for metric, value, split in (
            ("dice", dice_test, "test"),
            ("dice", dice_val, "val"),
            ("accuracy", acc_test, "test"),
            ("accuracy", acc_val, "val"),
        ):
            out.append(
                Reported(
                    dataset="lits",
                    target="liver",
                    labeler="oracle",
                    segmenter="reipatch",
                    metric=metric,
                    value=value,
                    source=_T5,
                    note=f"axial plane after N = {n} self-labelling rounds",
                    params={
                        "reipatch.plane": "axial",
                        "reipatch.rounds": n,
                        "reipatch.patience": 0,
                    },
                    split=split,
                )
            )
    for target, (acc, dsc) in _IRCADB.items():
        for metric, value in (("dice", dsc), ("accuracy", acc)):
            out.append(
                Reported(
                    dataset="ircadb",
                    target=target,
                    labeler="oracle",
                    segmenter="reipatch",
                    metric=metric,
                    value=value,
                    source=_T6,
                    note="3D-IRCADb-01; plane and split not stated: its LiTS row equals the "
                    "axial validation numbers, so axial is assumed",
                    params={"reipatch.plane": "axial"},
                )
            )
    return out


REPORTED: tuple[Reported, ...] = tuple(_tables())

CLAIMS = {
    "C4": "Table 4: the multi-level loss beats one loss on the top output (Dice 0.9511 "
    "against 0.9430, axial LiTS liver).",
    "C9": "§3.10: the soft-voted three-plane volume is at least as good as the single planes "
    "(argued, never measured).",
    "C6": "Table 5: Dice rises over the first self-labelling rounds (test 0.8510 at N = 0 to "
    "0.9331 at N = 5).",
    "C1": "Tables 7-8: ours > DeepLabV3 > U-Net on Dice, every plane.",
}
CLAIM = " ".join(CLAIMS.values())
COMMAND = (
    "wsbench run --dataset synthetic --target liver --labeler oracle,box-fill "
    "--segmenter reipatch,unet,deeplabv3 --set reipatch.plane=fused --seeds 0,1,2"
)
