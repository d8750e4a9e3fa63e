"""Choose the DenseCRF parameters of ``cam``/``acol`` on the TRAINING split of ``synthetic``.

    python -m wsbench_plugins.acol.tune_crf --labeler acol --seed 0

Trains the labeler's box classifier on the training cases (``quick`` profile), computes every
box's localization map once, then scores a small grid of CRF settings by the Dice of the
pseudo masks against the training ground truth on the labelled slices. Test cases are never
loaded. The winning values are written into ``mining.TUNED_CRF`` by hand and the table goes
into the README; rerun this script when the classifier or the phantom changes.
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np

from wsbench.api import Case, LabelContext, WeakCase
from wsbench.data.splits import split_dataset
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


def training_cases(n_patients: int, seed: int) -> tuple[list[Case], list[WeakCase]]:
    """The training split of ``synthetic`` (tumour task) with simulated box weak labels."""
    registry = load_registry()
    dataset = registry.get("dataset", "synthetic")("quick", n_patients=n_patients)
    task = dataset.tasks()["tumor"]
    infos = split_dataset(dataset)["train"]
    protocol = registry.get("protocol", "box")("quick")
    cases = [dataset.load_case(info, task) for info in infos]
    weak = [weak_case(c, simulate_weak(protocol, c, seed), dataset.intensity()) for c in cases]
    return cases, weak


def box_items(
    labeler_name: str, cases: Sequence[WeakCase], seed: int, **overrides
) -> tuple[list[CrfItem], list]:
    """Train the labeler's classifier and return every box's CRF item and its box."""
    labeler = load_registry().get("labeler", labeler_name)("quick", **overrides)
    with TemporaryDirectory() as tmp:
        ctx = LabelContext(device="auto", seed=seed, classes=cases[0].classes, workdir=Path(tmp))
        model, _ = labeler.train_classifier(labeler.training_images(cases), len(ctx.classes), ctx)
    device = next(model.parameters()).device
    items, owners = [], []
    for case in cases:
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
    n_patients: int = 8,
    seed: int = 0,
    workers: int = 1,
    grid: dict[str, Sequence[float]] | None = None,
) -> list[tuple[float, CrfParams]]:
    """Every grid point's training Dice, best first; row 0 of the table is the raw map."""
    cases, weak = training_cases(n_patients, seed)
    truth = {c.id: c.label for c in cases}
    items, owners = box_items(labeler_name, weak, seed)
    base = CrfParams.from_plugin(load_registry().get("labeler", labeler_name)("quick").p)
    grid = grid or GRID
    rows = []
    for values in itertools.product(*grid.values()):
        params = replace(base, **dict(zip(grid, values)))
        rows.append((box_dice(refine_many(items, params, workers), owners, truth), params))
    rows.sort(key=lambda r: -r[0])
    raw = box_dice((it.prob for it in items), owners, truth)
    fill = box_dice((np.ones_like(it.prob) for it in items), owners, truth)
    print(f"training boxes: {len(items)}; box-fill Dice {fill:.3f}; raw map > 0.5 Dice {raw:.3f}")
    for dice, params in rows[:10]:
        print(f"{dice:.3f}  " + ", ".join(f"{k}={getattr(params, k)}" for k in grid))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labeler", default="acol", choices=("acol", "cam"))
    parser.add_argument("--patients", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    tune(args.labeler, args.patients, args.seed, args.workers)


if __name__ == "__main__":
    main()
