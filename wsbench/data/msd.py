"""The Medical Segmentation Decathlon layout, and nnU-Net's raw layout (v1 and v2).

    <data-dir>/dataset.json   labels, and (MSD, nnU-Net v1) the training/test lists
    <data-dir>/imagesTr/      case.nii.gz, or case_0000.nii.gz (nnU-Net channel suffix)
    <data-dir>/labelsTr/      case.nii.gz
    <data-dir>/imagesTs/      unlabelled test images (not listed: they cannot be scored)

``labels`` maps value -> name (MSD) or name -> value / list of values (nnU-Net v2).
Every label name is a ``--target``; ``all`` segments every label at once.
Task03_Liver comes from LiTS and takes LiTS's targets: ``liver`` = labels 1 + 2,
``tumor`` (or ``tumour``) = label 2. One case is one patient.
"""

from __future__ import annotations

import json
from pathlib import Path

from wsbench.api import DATASET_PARAMS, Case, CaseInfo, Dataset, Param, Task
from wsbench.data.io import (
    case_from_raw,
    check_label_values,
    data_root,
    files_fingerprint,
    load_nifti_pair,
)
from wsbench.errors import DataError
from wsbench.params import at_least

LAYOUT = "dataset.json, imagesTr/ and labelsTr/ (MSD or nnU-Net raw layout)"
TUMOUR_NAMES = ("tumor", "tumour", "cancer", "lesion")


def case_stem(path: Path) -> str:
    name = path.name
    for ending in (".nii.gz", ".nii", ".nrrd", ".mha"):
        if name.endswith(ending):
            return name[: -len(ending)]
    return path.stem


class MsdDataset(Dataset):
    """Any Medical Segmentation Decathlon task or nnU-Net raw dataset folder."""

    name = "msd"
    version = "0.1.0"
    citation = (
        "Antonelli et al., The Medical Segmentation Decathlon, Nature Communications 13:4128, 2022"
    )
    params = DATASET_PARAMS + (
        Param(
            "channel",
            0,
            "input channel to load (nnU-Net _XXXX suffix, e.g. 0 for CT)",
            **at_least(0),
        ),
    )
    default_target = "all"

    # -- dataset.json -------------------------------------------------------

    def _description(self) -> dict:
        root = data_root(self, LAYOUT)
        path = root / "dataset.json"
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise DataError(
                f"{path}: missing; an MSD/nnU-Net folder needs dataset.json with its labels"
            ) from None
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: unreadable JSON ({exc}); fix or re-download it") from None

    def label_values(self) -> dict[str, tuple[int, ...]]:
        """Label name -> raw values, background excluded, in declaration order."""
        desc = self._description()
        labels = desc.get("labels")
        if not isinstance(labels, dict) or not labels:
            raise DataError(
                f"{self.data_dir / 'dataset.json'}: no 'labels' map; add e.g. "
                '{"0": "background", "1": "liver"}'
            )
        out: dict[str, tuple[int, ...]] = {}
        if all(str(k).lstrip("-").isdigit() for k in labels):  # MSD: value -> name
            for value, name in sorted(labels.items(), key=lambda kv: int(kv[0])):
                out.setdefault(str(name), ())
                out[str(name)] += (int(value),)
        else:  # nnU-Net v2: name -> value or region (list of values)
            for name, value in labels.items():
                out[str(name)] = tuple(
                    int(v) for v in (value if isinstance(value, list) else [value])
                )
        return {n: v for n, v in out.items() if n.lower() != "background" and v != (0,)}

    def _is_liver(self, names: list[str]) -> bool:
        lowered = [n.lower() for n in names]
        name = str(self._description().get("name", "")).lower()
        return (
            "liver" in lowered
            and any(t in lowered for t in TUMOUR_NAMES)
            and ("liver" in name or len(lowered) == 2)
        )

    def tasks(self) -> dict[str, Task]:
        values = self.label_values()
        names = list(values)
        tasks = {n: Task(n, (n,), (v,)) for n, v in values.items()}
        if self._is_liver(names):  # LiTS-derived: liver includes the tumour
            liver = values[next(n for n in names if n.lower() == "liver")]
            tumour = values[next(n for n in names if n.lower() in TUMOUR_NAMES)]
            tasks["liver"] = Task("liver", ("liver",), (tuple(sorted(set(liver + tumour))),))
            for alias in ("tumor", "tumour", *(n for n in names if n.lower() in TUMOUR_NAMES)):
                tasks[alias] = Task(alias, (alias,), (tumour,))
            tasks["all"] = Task("all", ("liver", "tumor"), (tasks["liver"].values[0], tumour))
        else:
            for n in names:  # the two spellings of tumour name the same label
                for a, b in (("tumor", "tumour"), ("tumour", "tumor")):
                    if a in n.lower() and n.lower().replace(a, b) not in tasks:
                        alias = n.lower().replace(a, b)
                        tasks[alias] = Task(alias, (alias,), (values[n],))
            tasks["all"] = Task("all", tuple(names), tuple(values[n] for n in names))
        return tasks

    # -- cases ----------------------------------------------------------------

    def _pairs(self) -> list[tuple[str, Path, Path]]:
        root = data_root(self, LAYOUT)
        desc = self._description()
        ending = str(desc.get("file_ending", ".nii.gz"))
        pairs = []
        if isinstance(desc.get("training"), list):  # MSD and nnU-Net v1 list their cases
            for entry in desc["training"]:
                image = root / str(entry["image"])
                label = root / str(entry["label"])
                case = case_stem(label)
                if not image.exists():  # nnU-Net v1 lists case.nii.gz for case_0000.nii.gz
                    image = image.with_name(f"{case}_{self.p['channel']:04d}{ending}")
                pairs.append((case, image, label))
        else:  # nnU-Net v2: discover labelsTr/*
            labels_dir = root / "labelsTr"
            if not labels_dir.is_dir():
                raise DataError(f"{labels_dir}: missing; {LAYOUT}")
            for label in sorted(labels_dir.glob(f"*{ending}")):
                if label.name.startswith("._"):
                    continue
                case = label.name[: -len(ending)]
                image = root / "imagesTr" / f"{case}_{self.p['channel']:04d}{ending}"
                if not image.exists():
                    image = root / "imagesTr" / label.name
                pairs.append((case, image, label))
        return [p for p in pairs if not p[2].name.startswith("._")]  # skip macOS resource forks

    def list_cases(self) -> list[CaseInfo]:
        return [CaseInfo(case, case, None, str(image)) for case, image, _ in self._pairs()]

    def load_case(self, info: CaseInfo, task: Task) -> Case:
        pairs = {case: (image, label) for case, image, label in self._pairs()}
        if info.id not in pairs:
            raise DataError(
                f"{self.data_dir}: no case {info.id!r} in dataset.json or labelsTr; "
                "list the cases again"
            )
        image_path, label_path = pairs[info.id]
        if not image_path.exists():
            raise DataError(
                f"{image_path}: missing image for {label_path.name}; add it or drop "
                "the case from dataset.json"
            )
        image, spacing, affine, ornt, raw = load_nifti_pair(image_path, label_path)
        allowed = {0, *(v for vals in self.label_values().values() for v in vals)}
        check_label_values(raw, allowed, label_path)
        return case_from_raw(
            info,
            task,
            image,
            raw,
            spacing,
            affine,
            meta={"ornt": ornt},
            source=f"{image_path} + {label_path}",
        )

    def fingerprint(self) -> str:
        root = data_root(self, LAYOUT)
        files = [root / "dataset.json"]
        for _, image, label in self._pairs():
            files += [image, label]
        return files_fingerprint(self, files)
