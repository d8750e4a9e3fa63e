"""SIIM-ACR Pneumothorax: chest X-ray DICOMs with run-length masks and native image tags.

    <data-dir>/train-rle.csv        ImageId, EncodedPixels ("-1" = no pneumothorax)
    <data-dir>/**/<ImageId>.dcm     any nesting; matched by file stem, else SOPInstanceUID

Several rows of one ImageId are unioned. The RLE is the challenge's relative,
column-major encoding (``rle=absolute`` reads the stage-2 form). Each case is one
2D image (Z = 1) in its stored row/column order; the native weak label is an image
tag (``TagLabel``), and ``Case.meta["positive"]`` says whether the image has any
pneumothorax, so results can be reported on positive cases and on all cases (see
docs/datasets.md for the empty-case policy). One image is one patient: the challenge's
anonymised PatientID is unique per image.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import ClassVar

import numpy as np

from wsbench.api import DATASET_PARAMS, Case, CaseInfo, Dataset, Param, TagLabel, Task
from wsbench.data.dicom import pixel_spacing, pixels_hu, read_dicom
from wsbench.data.io import case_from_raw, data_root, files_fingerprint
from wsbench.data.nifti import affine_from_spacing
from wsbench.data.rle import decode_rle
from wsbench.errors import DataError

LAYOUT = "train-rle.csv and the training DICOMs (any nesting)"


class SiimDataset(Dataset):
    """SIIM-ACR Pneumothorax Segmentation (2019) training images."""

    name = "siim"
    version = "0.1.0"
    citation = (
        "Zawacki et al., SIIM-ACR Pneumothorax Segmentation, Kaggle 2019; images from "
        "Wang et al., ChestX-ray8, CVPR 2017"
    )
    native_weak = ("tags",)
    default_target = "pneumothorax"
    params = DATASET_PARAMS + (
        Param("csv", "train-rle.csv", "the RLE table, relative to --data-dir"),
        Param(
            "rle",
            "relative",
            "EncodedPixels form: relative (stage 1) or absolute (stage 2)",
            choices=("relative", "absolute"),
        ),
    )
    # X-rays are not CT: no HU window by default, z-score on the raw intensities.
    profiles: ClassVar[dict] = {
        "quick": {"window_lo": 0.0, "window_hi": 255.0},
        "paper": {"window_lo": 0.0, "window_hi": 255.0},
    }

    def tasks(self) -> dict[str, Task]:
        return {"pneumothorax": Task("pneumothorax", ("pneumothorax",), ((1,),))}

    def _table(self) -> dict[str, list[str]]:
        """ImageId -> its EncodedPixels rows."""
        path = data_root(self, LAYOUT) / self.p["csv"]
        try:
            with open(path, newline="") as f:
                reader = csv.reader(f)
                header = [h.strip() for h in next(reader, [])]
                if "ImageId" not in header or "EncodedPixels" not in header:
                    raise DataError(
                        f"{path}: header {header} lacks ImageId and EncodedPixels; "
                        "use the challenge's train-rle.csv"
                    )
                i, j = header.index("ImageId"), header.index("EncodedPixels")
                table: dict[str, list[str]] = {}
                for row in reader:
                    if row:
                        table.setdefault(row[i].strip(), []).append(row[j].strip())
        except FileNotFoundError:
            raise DataError(f"{path}: missing; --data-dir must hold {LAYOUT}") from None
        return table

    def _files(self) -> dict[str, Path]:
        """ImageId -> DICOM path, by file stem, then by SOPInstanceUID for the rest."""
        root = data_root(self, LAYOUT)
        files = sorted(root.rglob("*.dcm"))
        by_stem = {f.stem: f for f in files}
        wanted = set(self._table())
        if wanted - set(by_stem):
            for f in files:
                if f.stem not in wanted:
                    uid = str(getattr(read_dicom(f, pixels=False), "SOPInstanceUID", ""))
                    by_stem.setdefault(uid, f)
        return by_stem

    def list_cases(self) -> list[CaseInfo]:
        files = self._files()
        return [
            CaseInfo(image_id, image_id, None, str(files.get(image_id, "")))
            for image_id in self._table()
        ]

    def load_case(self, info: CaseInfo, task: Task) -> Case:
        table = self._table()
        path = Path(info.source) if info.source else self._files().get(info.id)
        if path is None or not path.is_file():
            raise DataError(
                f"{self.data_dir}: no DICOM file for ImageId {info.id} (by file name "
                "or SOPInstanceUID); add the image or drop its rows from the CSV"
            )
        ds = read_dicom(path)
        image = pixels_hu(ds, path)
        dy, dx = pixel_spacing(ds, path)
        where = f"{self.data_dir / self.p['csv']} ({info.id})"
        mask = np.zeros(image.shape, bool)
        for rle in table.get(info.id, []):
            mask |= decode_rle(rle, image.shape, relative=self.p["rle"] == "relative", where=where)
        positive = bool(mask.any())
        spacing = (1.0, dy, dx)
        return case_from_raw(
            info,
            task,
            image[None],
            mask[None].astype(np.uint8),
            spacing,
            affine_from_spacing(spacing),
            organ=None,
            native_weak={
                "tags": TagLabel(slices=np.zeros(1, np.int64), present=np.array([[positive]]))
            },
            meta={"positive": positive},
            source=str(path),
        )

    def fingerprint(self) -> str:
        root = data_root(self, LAYOUT)
        return files_fingerprint(self, [root / self.p["csv"], *root.rglob("*.dcm")])
