"""The LiTS challenge layout: ``volume-N.nii[.gz]`` + ``segmentation-N.nii[.gz]``.

    <data-dir>/Training Batch 1/volume-0.nii        CT in HU
    <data-dir>/Training Batch 1/segmentation-0.nii  0 background, 1 liver, 2 tumour
    <data-dir>/.../organs-0.nii                     optional multi-organ map (wsbench phantom
                                                    values, see wsbench.data.phantom.LABELS)

Files are found in any subfolder. One volume is one patient (patient id = N). Targets:
``tumor`` (default, label 2) and ``liver`` (labels 1 + 2); ``organs`` (liver, pancreas,
stomach) where every volume has an ``organs-N.nii`` beside it. Nothing is written into
the data folder.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from wsbench.api import DATASET_PARAMS, Case, CaseInfo, Dataset, Task
from wsbench.data.io import case_from_raw, check_label_values, files_fingerprint, load_nifti_pair
from wsbench.data.nifti import load_label_like
from wsbench.data.tasks import LITS_TASKS as TASKS
from wsbench.data.tasks import LIVER_VALUES
from wsbench.errors import DataError, ParameterError

LAYOUT = "volume-N.nii[.gz] and segmentation-N.nii[.gz] files (in any subfolder)"
_NAME = re.compile(r"^(volume|segmentation|organs)-(\d+)\.nii(\.gz)?$")
SEGMENTATION_VALUES = (0, 1, 2)


class LitsDataset(Dataset):
    """Liver Tumor Segmentation Benchmark (LiTS) CT volumes with liver and tumour masks."""

    name = "lits"
    version = "0.1.0"
    citation = (
        "Bilic et al., The Liver Tumor Segmentation Benchmark (LiTS), Medical Image "
        "Analysis 84:102680, 2023"
    )
    params = DATASET_PARAMS
    default_target = "tumor"

    def __init__(self, profile: str = "quick", data_dir: Path | None = None, **overrides):
        super().__init__(profile, data_dir, **overrides)
        self._index: dict[int, dict[str, Path]] | None = None

    # -- discovery --------------------------------------------------------------

    def _files(self) -> dict[int, dict[str, Path]]:
        """N -> {"volume": path, "segmentation": path, ["organs": path]}, checked once."""
        if self._index is not None:
            return self._index
        if self.data_dir is None:
            raise DataError(f"dataset lits needs --data-dir: a folder holding {LAYOUT}")
        if not self.data_dir.is_dir():
            raise DataError(f"{self.data_dir}: not a folder; --data-dir must hold {LAYOUT}")
        found: dict[int, dict[str, Path]] = {}
        for path in sorted(self.data_dir.rglob("*.nii*")):
            match = _NAME.match(path.name)
            if match is None or not path.is_file():
                continue
            kind, number = match.group(1), int(match.group(2))
            other = found.setdefault(number, {}).get(kind)
            if other is not None:
                raise DataError(f"{path}: duplicate of {other} ({kind} {number}); keep one of them")
            found[number][kind] = path
        for number, files in sorted(found.items()):
            if "volume" not in files:  # an orphan would silently drop a case and move the split
                orphan = next(iter(files.values()))
                raise DataError(
                    f"{orphan}: no volume-{number}.nii[.gz] beside it; add the volume or "
                    "remove this file"
                )
        volumes = found
        if not volumes:
            raise DataError(
                f"{self.data_dir}: no volume-N.nii[.gz] found; --data-dir must hold {LAYOUT}"
            )
        for files in volumes.values():
            if "segmentation" not in files:
                seg = files["volume"].name.replace("volume", "segmentation", 1)
                raise DataError(
                    f"{files['volume']}: no {seg} (or .nii/.nii.gz) found; add the "
                    "segmentation or remove the volume"
                )
        self._index = dict(sorted(volumes.items()))
        return self._index

    def tasks(self) -> dict[str, Task]:
        tasks = {"tumor": TASKS["tumor"], "liver": TASKS["liver"]}
        if self.data_dir is not None and self.data_dir.is_dir():
            files = self._files()
            if all("organs" in f for f in files.values()):
                tasks["organs"] = TASKS["organs"]
        tasks["all"] = TASKS["all"]  # liver and tumour as two classes
        return tasks

    def list_cases(self) -> list[CaseInfo]:
        return [
            CaseInfo(f"lits-{n}", str(n), None, f"{f['volume']} + {f['segmentation']}")
            for n, f in self._files().items()
        ]

    # -- loading ----------------------------------------------------------------

    def load_case(self, info: CaseInfo, task: Task) -> Case:
        number = int(info.id.rsplit("-", 1)[1])
        files = self._files().get(number)
        if files is None:
            raise DataError(
                f"{self.data_dir}: no volume-{number}.nii[.gz] for case {info.id}; "
                "list the cases again"
            )
        volume, seg = files["volume"], files["segmentation"]
        image, spacing, affine, ornt, raw = load_nifti_pair(volume, seg)
        check_label_values(raw, set(SEGMENTATION_VALUES), seg)
        source = f"{volume} + {seg}"
        if task.target == "organs":
            if "organs" not in files:
                raise ParameterError(
                    f"target 'organs' needs {volume.name.replace('volume', 'organs', 1)} beside "
                    f"{volume}; use --target tumor or liver, or add organs-N.nii maps"
                )
            raw = load_label_like(files["organs"], volume, image.shape, affine)
            source += f" + {files['organs']}"
        organ_values = set(LIVER_VALUES) | {v for vals in task.values for v in vals}
        return case_from_raw(
            info,
            task,
            image,
            raw,
            spacing,
            affine,
            organ=np.isin(raw, sorted(organ_values)),
            meta={"ornt": ornt},
            source=source,
        )

    def fingerprint(self) -> str:
        return files_fingerprint(self, [p for f in self._files().values() for p in f.values()])
