"""NIH DeepLesion: key CT slices with RECIST diameters, read natively from DL_info.csv.

    <data-dir>/DL_info.csv
    <data-dir>/Images_png/<patient>_<study>_<series>/<slice>.png     16-bit, HU = value - 32768

One case is one key slice (``File_name``); its rows in DL_info.csv are its lesions.
``Measurement_coordinates`` holds the long axis then the short axis as pixel (x, y)
endpoints; ``Bounding_boxes`` is ``x0, y0, x1, y1``; ``Spacing_mm_px_`` is
``x, y, z`` mm; ``Train_Val_Test`` (1/2/3) is the dataset's own split and wins.
With ``neighbours`` = n the image holds the key slice and n slices each side (2.5D;
a missing neighbour repeats the nearest slice present) and the key slice is ``z = n``.

Ground-truth masks exist only for an evaluation subset: ``mask_dir`` holds
``<File_name>`` PNG masks (non-zero = lesion) of key slices. A case without a mask
gets ``label = None`` and is not scored; with neighbours, only the key slice is
labelled (``meta["label_slices"]``).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
from PIL import Image

from wsbench.api import (
    DATASET_PARAMS,
    Box,
    BoxLabel,
    Case,
    CaseInfo,
    Dataset,
    Param,
    Recist,
    RecistLabel,
    Task,
)
from wsbench.data.io import data_root, files_fingerprint
from wsbench.data.nifti import affine_from_spacing
from wsbench.errors import DataError
from wsbench.params import in_range

LAYOUT = "DL_info.csv and Images_png/<patient>_<study>_<series>/<slice>.png"
HU_OFFSET = 32768
SPLITS = {1: "train", 2: "val", 3: "test"}
REQUIRED = (
    "File_name",
    "Patient_index",
    "Key_slice_index",
    "Measurement_coordinates",
    "Bounding_boxes",
    "Spacing_mm_px_",
    "Train_Val_Test",
)


def read_png16(path: Path) -> np.ndarray:
    """A 16-bit DeepLesion PNG -> float32 HU."""
    try:
        with Image.open(path) as im:
            mode = im.mode
            pixels = np.asarray(im)
    except FileNotFoundError:
        raise DataError(f"{path}: missing slice; re-download this series folder") from None
    except Exception as exc:  # noqa: BLE001 - readers raise many types
        raise DataError(
            f"{path}: unreadable or truncated PNG ({type(exc).__name__}: {exc}); re-download it"
        ) from None
    if mode not in ("I;16", "I;16B", "I;16L", "I") or pixels.ndim != 2:
        raise DataError(
            f"{path}: PNG mode {mode} is not 16-bit grayscale; DeepLesion slices are "
            "16-bit PNGs with HU + 32768"
        )
    return pixels.astype(np.float32) - HU_OFFSET


def _floats(text: str, n: int, column: str, where: str) -> list[float]:
    try:
        values = [float(t) for t in text.replace(";", ",").split(",") if t.strip()]
    except ValueError:
        values = []
    if len(values) != n:
        raise DataError(f"{where}: column {column} = {text!r} must hold {n} numbers; fix the row")
    return values


class DeepLesionDataset(Dataset):
    """NIH DeepLesion key slices with native RECIST and box labels."""

    name = "deeplesion"
    version = "0.1.0"
    citation = (
        "Yan et al., DeepLesion: automated mining of large-scale lesion annotations and "
        "universal lesion detection with deep learning, J. Med. Imaging 5(3), 2018"
    )
    native_weak = ("recist", "box")
    default_target = "lesion"
    params = DATASET_PARAMS + (
        Param(
            "neighbours",
            0,
            "slices each side of the key slice (0 = 2D, 1 = 2.5D with 3 slices)",
            **in_range(0, 16),
        ),
        Param("mask_dir", "", "folder of <File_name> PNG ground-truth masks (evaluation subset)"),
        Param("drop_noisy", False, "leave out lesions flagged Possibly_noisy"),
    )

    def tasks(self) -> dict[str, Task]:
        return {"lesion": Task("lesion", ("lesion",), ((1,),))}

    def _rows(self) -> dict[str, list[dict[str, str]]]:
        """File_name (without .png) -> its lesion rows."""
        path = data_root(self, LAYOUT) / "DL_info.csv"
        try:
            with open(path, newline="") as f:
                reader = csv.DictReader(f)
                fields = [c.strip() for c in reader.fieldnames or []]
                missing = [c for c in REQUIRED if c not in fields]
                if missing:
                    raise DataError(
                        f"{path}: missing column(s) {', '.join(missing)}; use the "
                        "DL_info.csv shipped with DeepLesion"
                    )
                rows = [{k.strip(): (v or "").strip() for k, v in r.items() if k} for r in reader]
        except FileNotFoundError:
            raise DataError(f"{path}: missing; --data-dir must hold {LAYOUT}") from None
        by_case: dict[str, list[dict[str, str]]] = {}
        for row in rows:
            if self.p["drop_noisy"] and row.get("Possibly_noisy", "0") not in ("", "0"):
                continue
            by_case.setdefault(row["File_name"].removesuffix(".png"), []).append(row)
        return by_case

    def list_cases(self) -> list[CaseInfo]:
        out = []
        for case, rows in self._rows().items():
            try:
                split = SPLITS[int(rows[0]["Train_Val_Test"])]
            except (KeyError, ValueError):
                raise DataError(
                    f"{self.data_dir / 'DL_info.csv'}: {case}: Train_Val_Test = "
                    f"{rows[0]['Train_Val_Test']!r} must be 1, 2 or 3; fix the row"
                ) from None
            out.append(CaseInfo(case, rows[0]["Patient_index"], split, case))
        return out

    def load_case(self, info: CaseInfo, task: Task) -> Case:
        rows = self._rows().get(info.id)
        if not rows:
            raise DataError(
                f"{self.data_dir / 'DL_info.csv'}: no rows for {info.id}; list the cases again"
            )
        where = f"{self.data_dir / 'DL_info.csv'} ({info.id})"
        series, _, key_name = info.id.rpartition("_")
        folder = self.data_dir / "Images_png" / series
        key = int(rows[0]["Key_slice_index"])
        n = self.p["neighbours"]
        present = {int(p.stem) for p in folder.glob("*.png")} if n else {key}
        if not folder.is_dir():
            raise DataError(f"{folder}: missing series folder; re-download Images_png")
        planes = []
        for index in range(key - n, key + n + 1):
            nearest = min(present, key=lambda s: (abs(s - index), s)) if present else key
            planes.append(read_png16(folder / f"{nearest:03d}.png"))
        if any(p.shape != planes[n].shape for p in planes):
            raise DataError(f"{folder}: slices differ in shape; re-download this series")
        sx, sy, sz = _floats(rows[0]["Spacing_mm_px_"], 3, "Spacing_mm_px_", where)
        if not all(math.isfinite(v) and v > 0 for v in (sx, sy, sz)):
            raise DataError(
                f"{where}: Spacing_mm_px_ {sx}, {sy}, {sz} is NaN or not positive; fix the row"
            )
        spacing = (sz, sy, sx)
        image = np.stack(planes)
        shape = image.shape[1:]
        lesions, boxes = [], []
        for row in rows:
            c = _floats(row["Measurement_coordinates"], 8, "Measurement_coordinates", where)
            long_axis = ((c[1], c[0]), (c[3], c[2]))
            short_axis = ((c[5], c[4]), (c[7], c[6]))
            lesions.append(Recist(n, long_axis, short_axis, 1))
            x0, y0, x1, y1 = _floats(row["Bounding_boxes"], 4, "Bounding_boxes", where)
            box = Box(
                n,
                max(0, math.floor(y0)),
                max(0, math.floor(x0)),
                min(shape[0], math.floor(y1) + 1),
                min(shape[1], math.floor(x1) + 1),
                1,
            )
            if box.height <= 0 or box.width <= 0:
                raise DataError(
                    f"{where}: Bounding_boxes {x0}, {y0}, {x1}, {y1} lies outside the "
                    f"{shape[1]}x{shape[0]} slice; fix the row"
                )
            boxes.append(box)
        slices = np.asarray([n], dtype=np.int64)
        label = self._mask(info.id, image.shape, n)
        return Case(
            id=info.id,
            patient=info.patient,
            image=image,
            label=label,
            spacing=spacing,
            affine=affine_from_spacing(spacing),
            classes=task.classes,
            organ=None,
            native_weak={
                "recist": RecistLabel(slices=slices.copy(), lesions=lesions),
                "box": BoxLabel(slices=slices.copy(), boxes=boxes),
            },
            meta={
                "key_slice": key,
                "label_slices": [n] if label is not None else [],
                "possibly_noisy": [r.get("Possibly_noisy", "") for r in rows],
                "split": info.split,
            },
            source=str(folder / f"{key_name}.png"),
        )

    def _mask(self, case: str, shape: tuple[int, ...], z: int) -> np.ndarray | None:
        if not self.p["mask_dir"]:
            return None
        path = Path(self.p["mask_dir"]).expanduser() / f"{case}.png"
        if not path.exists():
            return None
        try:
            with Image.open(path) as im:
                mask = np.asarray(im)
        except Exception as exc:  # noqa: BLE001 - readers raise many types
            raise DataError(
                f"{path}: unreadable mask PNG ({type(exc).__name__}: {exc}); re-export it"
            ) from None
        if mask.shape != shape[1:]:
            raise DataError(
                f"{path}: mask shape {mask.shape} does not match the slice "
                f"{shape[1:]}; re-export it on the image grid"
            )
        unknown = [v for v in np.unique(mask).tolist() if v not in (0, 1, 255)]
        if unknown:
            raise DataError(
                f"{path}: unknown label value(s) {unknown[:5]}; masks hold 0 and 1 or 255"
            )
        label = np.zeros(shape, np.uint8)
        label[z] = mask > 0
        return label

    def fingerprint(self) -> str:
        root = data_root(self, LAYOUT)
        files = [root / "DL_info.csv"]  # series folders by mtime: a full stat would be 900k files
        images = root / "Images_png"
        if images.is_dir():
            files += sorted(images.iterdir())
        if self.p["mask_dir"] and Path(self.p["mask_dir"]).is_dir():
            files += sorted(Path(self.p["mask_dir"]).iterdir())
        return files_fingerprint(self, files)
