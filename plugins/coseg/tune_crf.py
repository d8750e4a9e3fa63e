"""Choose coseg's DenseCRF defaults on the VALIDATION split, with a declared mask budget.

    python -m wsbench_plugins.coseg.tune_crf --seed 0 --val-masks 3

Agarwal et al. 2020 state no DenseCRF values. Weak means weak: on a phantom drawn apart
from the benchmarks' (generator seed 1), split by patient as ``wsbench run`` splits it,
the training patients give RECIST marks only (``slices=target``), GrabCut turns them into
pseudo masks and the quick ``coseg`` segmenter trains on them. Each validation image with
tumour is predicted from its RECIST marks once, without the CRF; every grid point refines
those probabilities and is scored by the mean Dice per image against the masks of the
first ``val_masks`` validation patients (the budget). Test patients are never loaded and
no training patient's mask is read, except by the RECIST simulation. The winner goes into
``segmenters.COSEG_CRF`` by hand, its budget into ``TUNED_ON_VAL_MASKS`` (the segmenter's
``val_masks``), the table into the README; rerun when the segmenter or the phantom changes.
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import numpy as np

from wsbench.api import LabelContext, PseudoLabel, RecistLabel, TrainContext, WeakCase
from wsbench.data.splits import split_dataset
from wsbench.errors import ParameterError
from wsbench.metrics import per_slice
from wsbench.plugins import load_registry
from wsbench.refine.densecrf import CrfParams
from wsbench.weak.simulate import simulate_weak, weak_case

# What the grid varies; the other CRF values stay at CrfParams' defaults (5 iterations).
GRID: dict[str, Sequence[float]] = {
    "gaussian_compat": (0.0, 1.0, 3.0),
    "bilateral_compat": (0.25, 0.5, 1.0, 3.0),
    "bilateral_sxy": (5.0, 10.0, 20.0),
    "bilateral_srgb": (3.0, 5.0, 10.0, 20.0),
    "confidence": (1.0, 0.6),
}
FIXED = {"gaussian_sxy": 1.0, "margin": 0}

# 6 training, 3 validation and 3 test patients; generator seed 1, so that no tuning patient
# is a patient of the benchmarks (seed 0)
DATASET: dict[str, Any] = {
    "n_patients": 12,
    "val_fraction": 0.25,
    "test_fraction": 0.25,
    "seed": 1,
}
METRICS = ("dice", "precision", "recall")


@dataclass
class ValImage:
    """A validation case, its RECIST marks and, within the budget, its mask."""

    case_id: str
    image: np.ndarray
    spacing: tuple[float, ...]
    hint: RecistLabel
    mask: np.ndarray


@dataclass
class TuningData:
    train: list[WeakCase]
    labels: list[PseudoLabel]
    val: list[ValImage]
    classes: tuple[str, ...]


def tuning_data(val_masks: int, seed: int, **dataset_params: Any) -> TuningData:
    """GrabCut-labelled weak training cases; ``val_masks`` validation patients with masks."""
    registry = load_registry()
    dataset = registry.get("dataset", "synthetic")("quick", **{**DATASET, **dataset_params})
    task = dataset.tasks()["tumor"]
    splits = split_dataset(dataset)
    patients = sorted({info.patient for info in splits["val"]})
    if val_masks < 1 or val_masks > len(patients):
        raise ParameterError(
            f"--val-masks {val_masks}: the validation split has {len(patients)} patient(s); "
            f"give 1..{len(patients)} or raise val_fraction"
        )
    chosen = set(patients[:val_masks])
    protocol = registry.get("protocol", "recist")("quick", slices="target")
    intensity = dataset.intensity()
    train = []
    for info in splits["train"]:  # the mask feeds the RECIST simulation only
        case = dataset.load_case(info, task)
        train.append(weak_case(case, simulate_weak(protocol, case, seed), intensity))
    val = []
    for info in (i for i in splits["val"] if i.patient in chosen):
        case = dataset.load_case(info, task)
        hint = simulate_weak(protocol, case, seed)  # a validation case's own weak label
        val.append(ValImage(case.id, case.image, tuple(case.spacing), hint, case.label))
    labeler = registry.get("labeler", "grabcut")("quick")
    with TemporaryDirectory() as tmp:
        labels = labeler.label(train, LabelContext("cpu", seed, task.classes, Path(tmp)))
    return TuningData(train, labels, val, task.classes)


def scores(prob: np.ndarray, val: ValImage) -> list[dict[str, float]]:
    """Recall, precision and Dice of each validation slice with tumour."""
    pred, gt = prob.argmax(0) > 0, np.asarray(val.mask) > 0
    slices = np.flatnonzero(gt.any(axis=(1, 2)))
    rows = per_slice(pred, gt, val.spacing[1:], METRICS, slices)
    return [{m: float(r[m]) for m in METRICS} for r in rows]


def mean_scores(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    return {m: float(np.nanmean([r[m] for r in rows])) for m in METRICS}


def tune(
    val_masks: int = 3,
    seed: int = 0,
    grid: dict[str, Sequence[float]] | None = None,
    segmenter: dict[str, Any] | None = None,
    **dataset_params: Any,
) -> tuple[dict[str, float], list[tuple[dict[str, float], CrfParams]]]:
    """The CRF-free scores and every grid point's, best mean Dice first."""
    data = tuning_data(val_masks, seed, **dataset_params)
    seg = load_registry().get("segmenter", "coseg")("quick", **(segmenter or {}))
    intensity = data.train[0].intensity
    with TemporaryDirectory() as tmp:
        ctx = TrainContext("cpu", seed, data.classes, Path(tmp))
        seg.fit(data.train, data.labels, ctx)
        probs = [seg.predict(v.image, intensity, ctx, v.spacing, v.hint) for v in data.val]
    plain = mean_scores([r for p, v in zip(probs, data.val) for r in scores(p, v)])
    grid = grid or GRID
    rows = []
    for values in itertools.product(*grid.values()):
        params = replace(CrfParams(**FIXED), **dict(zip(grid, values)))
        units = []
        for prob, v in zip(probs, data.val):
            refined = seg.refine_prediction(prob, v.image, intensity, v.spacing, v.hint, params)
            units += scores(refined, v)
        rows.append((mean_scores(units), params))
    rows.sort(key=lambda r: -r[0]["dice"])
    return plain, rows


def report(plain: dict[str, float], rows, grid, top: int = 10) -> str:
    def cells(s: dict[str, float]) -> str:
        return " | ".join(f"{s[m]:.3f}" for m in METRICS)

    lines = [
        "| CRF | " + " | ".join(METRICS) + " |",
        "|---|" + "---|" * len(METRICS),
        f"| off | {cells(plain)} |",
    ]
    for s, params in rows[:top]:
        setting = ", ".join(f"{k} {getattr(params, k):g}" for k in grid)
        lines.append(f"| {setting} | {cells(s)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--val-masks", type=int, default=3, help="validation patients' masks")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    plain, rows = tune(args.val_masks, args.seed)
    print(f"{len(rows)} CRF settings; mean per validation image with tumour:")
    print(report(plain, rows, GRID))


if __name__ == "__main__":
    main()
