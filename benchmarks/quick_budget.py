"""How many optimiser steps the ``quick`` profile gives a segmenter, on two datasets.

Counts (no training): the training slices a run selects (split, weak-label slices), the
batches per epoch, and the steps under the quick profile's epochs and ``min_steps``:

* the quick phantom (``synthetic``, liver target, the default run);
* a small real-format set: one phantom patient at 96 x 96 x 64 cut into 8 axial slabs of 8
  slices, written in the MSD layout (``dataset.json``, ``imagesTr``, ``labelsTr``), liver
  target; the shape of the 8-slab MRI set of issue #12.

    OMP_NUM_THREADS=1 python benchmarks/quick_budget.py
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np

from wsbench.data.splits import split_dataset
from wsbench.plugins import load_registry
from wsbench.weak.simulate import simulate_weak


def eight_slabs(root: Path) -> Path:
    """One phantom patient cut into 8 slabs of 8 slices, MSD layout (labels: liver = 1)."""
    from wsbench.data.phantom import SyntheticDataset

    ph = SyntheticDataset("quick", n_patients=1, n_slices=64).generate(0)
    affine = np.diag([3.3, 3.3, 4.0, 1.0])
    training = []
    for i in range(8):
        sl = slice(8 * i, 8 * (i + 1))
        image = np.ascontiguousarray(ph.image[sl].transpose(2, 1, 0))  # (x, y, z) on disk
        label = np.ascontiguousarray(np.isin(ph.labels[sl], (1, 2)).astype(np.uint8).T)
        for folder, arr in (("imagesTr", image.astype(np.int16)), ("labelsTr", label)):
            (root / folder).mkdir(parents=True, exist_ok=True)
            nib.save(nib.Nifti1Image(arr, affine), str(root / folder / f"slab_{i}.nii.gz"))
        training.append(
            {"image": f"./imagesTr/slab_{i}.nii.gz", "label": f"./labelsTr/slab_{i}.nii.gz"}
        )
    (root / "dataset.json").write_text(
        json.dumps(
            {
                "name": "slabs",
                "labels": {"0": "background", "1": "liver"},
                "numTraining": 8,
                "training": training,
            }
        )
    )
    return root


def steps(dataset, target: str, segmenter: str, registry) -> dict[str, int]:
    task = dataset.tasks()[target]
    protocol = registry.get("protocol", "box")("quick")
    slices = 0
    for info in split_dataset(dataset)["train"]:
        case = dataset.load_case(info, task)
        slices += len(simulate_weak(protocol, case, 0).slices)
    seg = registry.get("segmenter", segmenter)("quick")
    batch = seg.p["batch_size"]
    per_epoch = max(1, math.ceil(slices / batch) - (1 if slices % batch == 1 and slices > 1 else 0))
    epochs = max(seg.p["epochs"], math.ceil(seg.p.get("min_steps", 0) / per_epoch))
    return {
        "train_slices": slices,
        "batches_per_epoch": per_epoch,
        "epochs_only": seg.p["epochs"] * per_epoch,
        "steps": epochs * per_epoch,
    }


def main() -> None:
    registry = load_registry()
    synthetic = registry.get("dataset", "synthetic")("quick")
    with tempfile.TemporaryDirectory() as tmp:
        msd = registry.get("dataset", "msd")("quick", data_dir=eight_slabs(Path(tmp)))
        for name, ds, target in (
            ("phantom (quick)", synthetic, "liver"),
            ("8 slabs (MSD)", msd, "liver"),
        ):
            for seg in ("unet", "deeplabv3"):
                print(name, seg, steps(ds, target, seg, registry))


if __name__ == "__main__":
    main()
