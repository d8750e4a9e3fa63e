"""Your own data: a folder of images and a folder of masks with matching file stems.

    <data-dir>/images/<stem>.png|.jpg|.jpeg|.nii|.nii.gz
    <data-dir>/masks/<stem>.png|.nii|.nii.gz       0 = background, k = classes[k-1]

2D images (PNG/JPEG, colour converted to grey) become Z = 1 volumes in their stored
row/column order with ``pixel_spacing`` mm pixels; NIfTI pairs are reoriented to RAS+
like every other volume. With one class, a 0/255 mask means 0/1. ``patient_regex``
takes the patient id from the stem (first group), so that a patient's images stay in
one split; by default every stem is its own patient.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

import numpy as np
from PIL import Image

from wsbench.api import DATASET_PARAMS, Case, CaseInfo, Dataset, Param, Task
from wsbench.data.io import (
    case_from_raw,
    check_label_values,
    data_root,
    files_fingerprint,
    load_nifti_pair,
)
from wsbench.data.nifti import affine_from_spacing
from wsbench.errors import DataError
from wsbench.params import at_least

LAYOUT = "images/ and masks/ with matching file stems"
IMAGE_ENDINGS = (".nii.gz", ".nii", ".png", ".jpg", ".jpeg", ".tif", ".tiff")


def split_name(path: Path) -> tuple[str, str]:
    """``a.nii.gz`` -> (``a``, ``.nii.gz``)."""
    name = path.name
    for ending in IMAGE_ENDINGS:
        if name.lower().endswith(ending):
            return name[: -len(ending)], ending
    return path.stem, path.suffix.lower()


def read_2d(path: Path, *, mask: bool) -> np.ndarray:
    try:
        with Image.open(path) as im:
            if im.mode in ("RGB", "RGBA", "LA") and not mask:
                im = im.convert("L")
            pixels = np.asarray(im)
    except Exception as exc:  # noqa: BLE001 - readers raise many types
        raise DataError(
            f"{path}: unreadable or truncated image ({type(exc).__name__}: {exc}); re-export it"
        ) from None
    if pixels.ndim != 2:
        raise DataError(
            f"{path}: {'mask' if mask else 'image'} has shape {pixels.shape}, not one "
            "grey channel; save masks as single-channel label images"
        )
    return pixels


class FolderDataset(Dataset):
    """A generic image/mask folder pair (2D PNG/JPEG or NIfTI)."""

    name = "folder"
    version = "0.1.0"
    citation = ""
    default_target = "all"
    params = DATASET_PARAMS + (
        Param("classes", "foreground", "comma-separated class names; mask value k = k-th name"),
        Param("patient_regex", "", "regex whose first group is the patient id in a file stem"),
        Param(
            "pixel_spacing",
            1.0,
            "pixel size in mm of 2D images",
            check=lambda v: v > 0,
            check_doc="> 0",
        ),
        Param("slice_spacing", 1.0, "slice thickness in mm given to 2D images", **at_least(1e-6)),
    )
    # 8-bit pictures by default; for CT NIfTI set window_lo/window_hi to a HU window.
    profiles: ClassVar[dict] = {
        "quick": {"window_lo": 0.0, "window_hi": 255.0},
        "paper": {"window_lo": 0.0, "window_hi": 255.0},
    }

    def class_names(self) -> tuple[str, ...]:
        return tuple(c.strip() for c in str(self.p["classes"]).split(",") if c.strip())

    def tasks(self) -> dict[str, Task]:
        names = self.class_names()
        tasks = {n: Task(n, (n,), ((k,),)) for k, n in enumerate(names, start=1)}
        tasks["all"] = Task("all", names, tuple((k,) for k in range(1, len(names) + 1)))
        return tasks

    def _pairs(self) -> dict[str, tuple[Path, Path | None]]:
        root = data_root(self, LAYOUT)
        if not (root / "images").is_dir():
            raise DataError(f"{root / 'images'}: missing; --data-dir must hold {LAYOUT}")
        masks: dict[str, Path] = {}
        if (root / "masks").is_dir():
            masks = {
                split_name(m)[0]: m
                for m in sorted((root / "masks").iterdir())
                if m.is_file() and not m.name.startswith(".")
            }
        pairs = {}
        for image in sorted((root / "images").iterdir()):
            stem, ending = split_name(image)
            if image.is_file() and ending in IMAGE_ENDINGS and not image.name.startswith("."):
                pairs[stem] = (image, masks.get(stem))
        for stem, mask in masks.items():  # an orphan mask would silently drop a case
            if stem not in pairs and split_name(mask)[1] in IMAGE_ENDINGS:
                raise DataError(
                    f"{mask}: no image images/{stem}.* for this mask; add the image or "
                    "remove the mask"
                )
        return pairs

    def _patient(self, stem: str) -> str:
        if not self.p["patient_regex"]:
            return stem
        match = re.search(self.p["patient_regex"], stem)
        if not match:
            raise DataError(
                f"{stem}: file stem does not match folder.patient_regex "
                f"{self.p['patient_regex']!r}; fix the regex or rename the file"
            )
        return match.group(1) if match.groups() else match.group(0)

    def list_cases(self) -> list[CaseInfo]:
        return [
            CaseInfo(stem, self._patient(stem), None, str(image))
            for stem, (image, _) in self._pairs().items()
        ]

    def load_case(self, info: CaseInfo, task: Task) -> Case:
        image_path, mask_path = self._pairs().get(info.id, (Path(info.source), None))
        if mask_path is None:
            raise DataError(
                f"{image_path}: missing mask (no masks/{info.id}.*); add it or remove the image"
            )
        allowed = range(len(self.class_names()) + 1)
        meta: dict = {}
        if split_name(image_path)[1].startswith(".nii"):
            image, spacing, affine, ornt, raw = load_nifti_pair(image_path, mask_path)
            meta["ornt"] = ornt
        else:
            image = read_2d(image_path, mask=False).astype(np.float32)[None]
            raw = read_2d(mask_path, mask=True)[None]
            if raw.shape != image.shape:
                raise DataError(
                    f"{mask_path}: shape {raw.shape[1:]} does not match {image_path} "
                    f"{image.shape[1:]}; re-export the mask on the image grid"
                )
            spacing = (self.p["slice_spacing"], self.p["pixel_spacing"], self.p["pixel_spacing"])
            affine = affine_from_spacing(spacing)
        raw = raw.astype(np.int32)
        if len(allowed) == 2 and raw.max() == 255 and not np.any((raw > 0) & (raw < 255)):
            raw = raw // 255  # a binary mask saved as 0/255
        check_label_values(raw, allowed, mask_path)
        return case_from_raw(
            info, task, image, raw, spacing, affine, meta=meta, source=f"{image_path} + {mask_path}"
        )

    def fingerprint(self) -> str:
        files = [p for pair in self._pairs().values() for p in pair if p is not None]
        return files_fingerprint(self, files)
