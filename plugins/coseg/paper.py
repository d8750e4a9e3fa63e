"""Agarwal et al. 2020: the citation, the numbers the paper reports, and the claims wsbench
tests.

Agarwal V, Tang Y, Xiao J, Summers RM. Weakly Supervised Lesion Co-segmentation on CT
Scans. ISBI 2020.
"""

from __future__ import annotations

from wsbench.api import Reported

CITATION = (
    "Agarwal V, Tang Y, Xiao J, Summers RM. Weakly Supervised Lesion Co-segmentation on CT "
    "Scans. IEEE ISBI 2020, pp. 203-206. doi:10.1109/ISBI45749.2020.9098407"
)

METRICS = ("recall", "precision", "dice", "ahd", "vs")
AVD_NOTE = (
    "AVD in the paper's unstated unit (likely pixels of the 128 px crop); wsbench's ahd is "
    "in mm: not comparable"
)

# (source, segmenter, selecting params, recall, precision, Dice, AVD, VS); the mean over
# the 1,000 manually segmented DeepLesion lesions (one score per lesion).
_CSA = {"attention": "csa", "ca": "se", "sa": "msa"}
_MG = "2,4,8"
ROWS: tuple[tuple[str, str, dict, tuple[float, ...]], ...] = (
    ("Table 1", "fcn32", {}, (0.917, 0.882, 0.893, 0.396, 0.938)),
    (
        "Table 1",
        "coseg",
        {
            "optimizer": "adam",
            "lr": 1e-5,
            "multi_grid": "none",
            "decoder": "d1",
            "crf": True,
            **_CSA,
        },
        (0.915, 0.895, 0.898, 0.349, 0.942),
    ),
    (
        "Table 1",
        "coseg",
        {"optimizer": "sgd", "multi_grid": "none", "decoder": "d1", "crf": True, **_CSA},
        (0.918, 0.890, 0.898, 0.357, 0.942),
    ),
    (
        "Table 1",
        "coseg",
        {"optimizer": "adam", "lr": 1e-5, "multi_grid": _MG, "decoder": "d1", "crf": True, **_CSA},
        (0.899, 0.910, 0.898, 0.355, 0.943),
    ),
    (
        "Tables 1 and 2",
        "coseg",
        {"optimizer": "sgd", "multi_grid": _MG, "decoder": "d1", "crf": True, **_CSA},
        (0.907, 0.906, 0.901, 0.342, 0.946),
    ),
    (
        "Table 2",
        "coseg",
        {"optimizer": "sgd", "multi_grid": _MG, "decoder": "d1", "crf": False, **_CSA},
        (0.921, 0.890, 0.899, 0.350, 0.944),
    ),
    (
        "Tables 2 and 3",
        "coseg",
        {"optimizer": "sgd", "multi_grid": _MG, "decoder": "d2", "crf": False, **_CSA},
        (0.920, 0.898, 0.903, 0.321, 0.943),
    ),
    (
        "Table 2",
        "coseg",
        {"optimizer": "sgd", "multi_grid": _MG, "decoder": "d2", "crf": True, **_CSA},
        (0.905, 0.908, 0.901, 0.326, 0.945),
    ),
    (
        "Table 3",
        "coseg",
        {
            "optimizer": "sgd",
            "multi_grid": _MG,
            "decoder": "d2",
            "crf": False,
            "attention": "csa",
            "ca": "se",
            "sa": "aspp",
        },
        (0.924, 0.892, 0.902, 0.335, 0.941),
    ),
    (
        "Table 3",
        "coseg",
        {
            "optimizer": "sgd",
            "multi_grid": _MG,
            "decoder": "d2",
            "crf": False,
            "attention": "csa",
            "ca": "eca",
            "sa": "msa",
        },
        (0.926, 0.891, 0.902, 0.331, 0.941),
    ),
    (
        "Table 3",
        "coseg",
        {
            "optimizer": "sgd",
            "multi_grid": _MG,
            "decoder": "d2",
            "crf": False,
            "attention": "csa",
            "ca": "eca",
            "sa": "aspp",
        },
        (0.921, 0.895, 0.902, 0.338, 0.943),
    ),
    (
        "Table 3",
        "coseg",
        {
            "optimizer": "sgd",
            "multi_grid": _MG,
            "decoder": "d2",
            "crf": False,
            "attention": "danet",
        },
        (0.921, 0.894, 0.902, 0.333, 0.944),
    ),
)


def _reported() -> tuple[Reported, ...]:
    out = []
    for source, segmenter, params, values in ROWS:
        for metric, value in zip(METRICS, values):
            out.append(
                Reported(
                    dataset="deeplesion",
                    target="lesion",
                    labeler="grabcut",
                    segmenter=segmenter,
                    metric=metric,
                    value=value,
                    source=f"Agarwal et al. 2020, {source}",
                    note=AVD_NOTE if metric == "ahd" else "",
                    params={f"{segmenter}.{k}": v for k, v in params.items()},
                )
            )
    return tuple(out)


REPORTED: tuple[Reported, ...] = _reported()

CLAIM = (
    "C1 (Table 1): co-segmentation (DRN-101 CSA + D1) beats the DRN-101 FCN-32 baseline on "
    "Dice (0.898 against 0.893; AVD 0.349 against 0.396). C5 (Table 2): the DenseCRF raises "
    "precision and lowers recall, with both decoders."
)
COMMAND = (
    "wsbench run --dataset synthetic --target tumor --weak recist --set weak.slices=target "
    "--set synthetic.evaluate=lesions --labeler grabcut,oracle --segmenter coseg,fcn32 "
    "--seeds 0,1,2"
)
