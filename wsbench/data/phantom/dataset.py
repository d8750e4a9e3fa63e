"""The ``synthetic`` dataset plugin: phantom patients as task-encoded cases."""

from __future__ import annotations

from typing import Any, ClassVar

import nibabel as nib
import numpy as np

from wsbench.api import DATASET_PARAMS, Case, CaseInfo, Dataset, Param, Task
from wsbench.data.io import case_from_raw
from wsbench.data.phantom.anatomy import Phantom, make_phantom
from wsbench.data.tasks import LITS_TASKS, LIVER_VALUES
from wsbench.params import at_least, in_range, stable_hash

GENERATOR_VERSION = "phantom-1"

_PAIR = {
    "check": lambda v: len(v) == 2 and 0 < v[0] <= v[1],
    "check_doc": "two numbers 0 < lo <= hi",
}


class SyntheticDataset(Dataset):
    """Seeded CT-like abdominal phantom with liver tumours; no download needed."""

    name = "synthetic"
    version = "0.1.0"
    citation = "wsbench built-in phantom (docs/phantom.md)"
    needs_data_dir = False
    # The liver is the default target: on the quick phantom a CPU-sized network learns it
    # in seconds, so the default run separates the oracle from box-fill. Tumours
    # (``--target tumor``) are the harder, Fan et al. 2022 task; see docs/phantom.md.
    default_target = "liver"
    params = DATASET_PARAMS + (
        Param("n_patients", 8, "number of patients (one volume each)", **at_least(1)),
        Param(
            "size",
            96,
            "in-plane size in voxels (the field of view follows the body)",
            **in_range(16, 1024),
        ),
        Param("n_slices", 24, "slices per volume", **in_range(1, 1024)),
        Param("z_spacing_mm", (3.5, 5.0), "slice spacing range in mm, drawn per patient", **_PAIR),
        Param("tumor_mm", (10.0, 60.0), "tumour diameter range in mm (log-uniform)", **_PAIR),
        Param("n_tumors", (2, 6), "range of tumours per patient", **_PAIR),
        Param(
            "noise_hu", 10.0, "standard deviation of the correlated noise in HU", **in_range(0, 200)
        ),
        Param("blur", 0.5, "partial-volume blur, Gaussian sigma in voxels", **in_range(0, 5)),
        Param("seed", 0, "generator seed; patient i is drawn from rng([seed, i])"),
    )
    profiles: ClassVar[dict[str, dict[str, Any]]] = {
        "quick": {
            "n_patients": 8,
            "size": 96,
            "n_slices": 24,
            "z_spacing_mm": (3.5, 5.0),
            "tumor_mm": (10.0, 60.0),
            "noise_hu": 10.0,
            # no validation split (nothing tunes on it yet): 6 training and 2 test patients
            "val_fraction": 0.0,
            "test_fraction": 0.25,
        },
        "paper": {
            "n_patients": 40,
            "size": 512,
            "n_slices": 64,
            "z_spacing_mm": (2.5, 3.0),
            "tumor_mm": (5.0, 60.0),
            "noise_hu": 15.0,
        },
    }
    GENERATOR_KEYS: ClassVar[tuple[str, ...]] = (
        "n_patients",
        "size",
        "n_slices",
        "z_spacing_mm",
        "tumor_mm",
        "n_tumors",
        "noise_hu",
        "blur",
        "seed",
    )

    def tasks(self) -> dict[str, Task]:
        return dict(LITS_TASKS)

    def list_cases(self) -> list[CaseInfo]:
        return [
            CaseInfo(_case_id(i), _case_id(i), None, f"synthetic:{i}")
            for i in range(self.p["n_patients"])
        ]

    def generate(self, patient: int) -> Phantom:
        """The raw phantom of patient index ``patient``."""
        p = self.p
        return make_phantom(
            patient,
            seed=p["seed"],
            size=p["size"],
            n_slices=p["n_slices"],
            z_spacing_mm=p["z_spacing_mm"],
            tumor_mm=p["tumor_mm"],
            n_tumors=tuple(int(v) for v in p["n_tumors"]),
            noise_hu=p["noise_hu"],
            blur=p["blur"],
        )

    def load_case(self, info: CaseInfo, task: Task) -> Case:
        ph = self.generate(int(info.id.rsplit("-", 1)[1]))
        organ_values = set(LIVER_VALUES) | {v for vals in task.values for v in vals}
        return case_from_raw(
            info,
            task,
            ph.image,
            ph.labels,
            ph.spacing,
            ph.affine,
            organ=np.isin(ph.labels, sorted(organ_values)),
            meta={"ornt": nib.orientations.axcodes2ornt("RAS"), "tumours": ph.tumours},
            source=info.source,
        )

    def fingerprint(self) -> str:
        return stable_hash(
            {"generator": GENERATOR_VERSION, "params": {k: self.p[k] for k in self.GENERATOR_KEYS}}
        )


def _case_id(i: int) -> str:
    return f"synth-{i:03d}"
