"""Choose the DenseCRF parameters of ``cam``/``acol`` on the VALIDATION split, with a declared
budget of full masks.

    python -m wsbench_plugins.acol.tune_crf --labeler acol --seed 0 --val-masks 4

Weak means weak: no pixel label of a training patient is read. The box classifier trains on
the box weak labels of the training patients and of the first ``val_masks`` validation
patients (simulated through ``split_dataset`` and ``simulate_weak``, exactly as ``wsbench
run`` does: a labeler sees the boxes of every case it labels); every validation box gets
its localization map; a small grid of CRF settings is scored by the Dice of the pseudo
masks against those validation patients' masks. Test patients are never
loaded. The budget is the labelers' ``val_masks`` parameter, so each cell's provenance
and the leaderboard say "tuned on N val masks". The winning values are written into
``mining.TUNED_CRF`` by hand and the table into the README; rerun when the classifier or
the phantom changes.
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import numpy as np

from wsbench.api import Case, LabelContext, WeakCase
from wsbench.data.splits import split_dataset
from wsbench.errors import ParameterError
from wsbench.plugins import load_registry
from wsbench.refine.densecrf import CrfItem, CrfParams, refine_many
from wsbench.weak.simulate import simulate_weak, weak_case

# What the grid varies; everything else stays at the labeler's defaults.
GRID: dict[str, Sequence[float]] = {
    "margin": (0, 2),
    "confidence": (1.0, 0.5),
    "bilateral_compat": (0.0, 3.0, 10.0),
    "bilateral_srgb": (5.0, 15.0),
    "bilateral_sxy": (2.0, 5.0),
    "gaussian_compat": (0.0, 1.0),
}

# The phantom the defaults are tuned on: the quick phantom's tumours, with a validation
# split, drawn with generator seed 1, so no tuning patient is a patient of the benchmarks
# (which use seed 0).
DATASET: dict[str, Any] = {
    "n_patients": 16,
    "val_fraction": 0.25,
    "test_fraction": 0.25,
    "seed": 1,
}


@dataclass
class TuningData:
    """Weak training cases, and the validation cases whose masks the budget allows."""

    train: list[WeakCase]
    val: list[WeakCase]
    val_masks: dict[str, np.ndarray]  # case id -> task label map (validation patients only)


def tuning_data(val_masks: int, seed: int, **dataset_params: Any) -> TuningData:
    """The training split as weak cases and ``val_masks`` validation patients with masks."""
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
    protocol = registry.get("protocol", "box")("quick")
    intensity = dataset.intensity()

    def weak(infos) -> list[tuple[Case, WeakCase]]:
        cases = [dataset.load_case(info, task) for info in infos]
        return [(c, weak_case(c, simulate_weak(protocol, c, seed), intensity)) for c in cases]

    train = [w for _, w in weak(splits["train"])]  # masks only feed the box simulation
    val = weak([i for i in splits["val"] if i.patient in chosen])
    return TuningData(train, [w for _, w in val], {c.id: c.label for c, _ in val})


def box_items(
    labeler_name: str, train: Sequence[WeakCase], targets: Sequence[WeakCase], seed: int, **over
) -> tuple[list[CrfItem], list]:
    """Train the labeler's classifier on ``train``; every box of ``targets`` as a CRF item."""
    labeler = load_registry().get("labeler", labeler_name)("quick", **over)
    with TemporaryDirectory() as tmp:
        ctx = LabelContext(device="auto", seed=seed, classes=train[0].classes, workdir=Path(tmp))
        model, _ = labeler.train_classifier(labeler.training_images(train), len(ctx.classes), ctx)
    device = next(model.parameters()).device
    items, owners = [], []
    for case in targets:
        its, boxes = labeler.box_maps(model, case, labeler.boxes_by_slice(case), device)
        items += its
        owners += [(case.id, b) for b in boxes]
    return items, owners


def box_dice(
    refined: Iterable[np.ndarray], owners: Sequence, truth: dict[str, np.ndarray]
) -> float:
    """Dice of the in-box masks (refined > 0.5) against the ground truth inside the boxes."""
    inter = total = 0
    for prob, (case_id, b) in zip(refined, owners, strict=True):
        mask = prob[b.y0 : b.y1, b.x0 : b.x1] > 0.5
        gt = truth[case_id][b.z, b.y0 : b.y1, b.x0 : b.x1] == b.cls
        inter += int((mask & gt).sum())
        total += int(mask.sum() + gt.sum())
    return 2 * inter / max(total, 1)


def tune(
    labeler_name: str = "acol",
    val_masks: int = 4,
    seed: int = 0,
    workers: int = 1,
    grid: dict[str, Sequence[float]] | None = None,
    **dataset_params: Any,
) -> list[tuple[float, CrfParams]]:
    """Every grid point's validation Dice, best first."""
    data = tuning_data(val_masks, seed, **dataset_params)
    # the classifier sees the validation patients' boxes too, as a labeler sees the boxes of
    # every case it labels; their masks only score the CRF settings
    items, owners = box_items(labeler_name, data.train + data.val, data.val, seed)
    base = CrfParams.from_plugin(load_registry().get("labeler", labeler_name)("quick").p)
    grid = grid or GRID
    rows = []
    for values in itertools.product(*grid.values()):
        params = replace(base, **dict(zip(grid, values)))
        rows.append((box_dice(refine_many(items, params, workers), owners, data.val_masks), params))
    rows.sort(key=lambda r: -r[0])
    raw = box_dice((it.prob for it in items), owners, data.val_masks)
    fill = box_dice((np.ones_like(it.prob) for it in items), owners, data.val_masks)
    print(
        f"{len(data.train)} weak training cases; {len(items)} boxes on {val_masks} validation "
        f"patients: box-fill Dice {fill:.3f}; raw map > 0.5 Dice {raw:.3f}"
    )
    for dice, params in rows[:10]:
        print(f"{dice:.3f}  " + ", ".join(f"{k}={getattr(params, k)}" for k in grid))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labeler", default="acol", choices=("acol", "cam"))
    parser.add_argument("--val-masks", type=int, default=4, help="validation patients' masks")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    tune(args.labeler, args.val_masks, args.seed, args.workers)


if __name__ == "__main__":
    main()
