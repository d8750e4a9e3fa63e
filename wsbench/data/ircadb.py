"""3D-IRCADb-01: 20 liver CT series as per-slice DICOM, with 0/255 DICOM masks.

    <data-dir>/3Dircadb1.N/PATIENT_DICOM/image_K
    <data-dir>/3Dircadb1.N/MASKS_DICOM/<structure>/image_K      liver, livertumor01, ...

Either level may still be the ``.zip`` archive it ships as (``3Dircadb1.N.zip``,
``PATIENT_DICOM.zip``, ``MASKS_DICOM.zip``). Archives are extracted once into the
cache folder (never into the data folder); a member whose path would land outside
the extraction folder (zip-slip) is refused. Raw labels are 1 = liver and
2 = tumour (``livertumor01``, ``livertumor02``, ... merged); the targets are LiTS's.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from wsbench.api import DATASET_PARAMS, Case, CaseInfo, Dataset, Param, Task
from wsbench.data.cache import cache_root
from wsbench.data.dicom import load_series
from wsbench.data.io import case_from_raw, data_root, files_fingerprint
from wsbench.errors import DataError, ParameterError
from wsbench.params import stable_hash

LAYOUT = "3Dircadb1.N/ patient folders (or 3Dircadb1.N.zip archives)"
PATIENT_RE = re.compile(r"^3Dircadb1\.(\d+)(\.zip)?$")
TUMOUR_RE = re.compile(r"^livertumou?rs?_?\d*$", re.IGNORECASE)
MASK_VALUES = (0, 1, 255)


def extract_zip(archive: Path, cache: Path) -> Path:
    """Extract ``archive`` once under ``cache``; refuse members escaping the target (zip-slip)."""
    st = archive.stat()
    target = (
        cache / "ircadb-extract" / stable_hash([str(archive.resolve()), st.st_size, st.st_mtime_ns])
    )
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        with zipfile.ZipFile(archive) as zf:
            base = tmp.resolve()
            for member in zf.infolist():
                dest = (tmp / member.filename).resolve()
                if not dest.is_relative_to(base) or Path(member.filename).is_absolute():
                    raise DataError(
                        f"{archive}: member {member.filename!r} would be written outside the "
                        "extraction folder (zip-slip); refusing it, re-download the archive"
                    )
            zf.extractall(tmp)
        os.replace(tmp, target)
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if target.is_dir():  # another process extracted it first
            return target
        raise DataError(
            f"{archive}: unreadable or truncated zip ({type(exc).__name__}: {exc}); re-download it"
        ) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


class IrcadbDataset(Dataset):
    """3D-IRCADb-01 liver and liver-tumour CT (Soler et al., IRCAD)."""

    name = "ircadb"
    version = "0.1.0"
    citation = (
        "Soler et al., 3D image reconstruction for comparison of algorithm database: "
        "a patient-specific anatomical and medical image database, IRCAD, 2010"
    )
    params = DATASET_PARAMS + (
        Param(
            "cache_dir",
            "",
            "where .zip archives are extracted (default: $WSBENCH_CACHE or "
            "~/.cache/wsbench); must lie outside --data-dir",
        ),
    )
    default_target = "tumor"

    def tasks(self) -> dict[str, Task]:
        liver, tumour = (1, 2), (2,)
        return {
            "liver": Task("liver", ("liver",), (liver,)),
            "tumor": Task("tumor", ("tumor",), (tumour,)),
            "tumour": Task("tumour", ("tumour",), (tumour,)),
            "all": Task("all", ("liver", "tumor"), (liver, tumour)),
        }

    def _patients(self) -> dict[str, Path]:
        root = data_root(self, LAYOUT)
        found: dict[str, Path] = {}
        for path in sorted(root.iterdir()):
            match = PATIENT_RE.match(path.name)
            if match and not (match.group(2) and f"3Dircadb1.{match.group(1)}" in found):
                found[f"3Dircadb1.{match.group(1)}"] = path  # a folder wins over its zip
        if not found:
            raise DataError(
                f"{root}: no 3Dircadb1.N folders or archives; --data-dir must hold {LAYOUT}"
            )
        return dict(sorted(found.items(), key=lambda kv: int(kv[0].rsplit(".", 1)[1])))

    def list_cases(self) -> list[CaseInfo]:
        return [CaseInfo(pid, pid, None, str(path)) for pid, path in self._patients().items()]

    def _cache(self) -> Path:
        cache = cache_root(self.p["cache_dir"]).resolve()
        if self.data_dir is not None and cache.is_relative_to(self.data_dir.resolve()):
            raise ParameterError(
                f"ircadb.cache_dir {cache} lies inside --data-dir; choose a "
                "folder outside the data, wsbench never writes there"
            )
        return cache

    def _folder(self, parent: Path, name: str) -> Path:
        """``parent/name`` as a folder, extracting ``parent/name.zip`` if needed."""
        if (parent / name).is_dir():
            return parent / name
        archive = parent / f"{name}.zip"
        if not archive.exists():
            raise DataError(
                f"{parent / name}: missing (no folder and no .zip); the patient "
                "folder is incomplete, re-download it"
            )
        out = extract_zip(archive, self._cache())
        return out / name if (out / name).is_dir() else out

    def _patient_root(self, path: Path) -> Path:
        if path.is_dir():
            return path
        out = extract_zip(path, self._cache())
        inner = out / path.name[: -len(".zip")]
        return inner if inner.is_dir() else out

    def load_case(self, info: CaseInfo, task: Task) -> Case:
        patients = self._patients()
        if info.id not in patients:
            raise DataError(f"{self.data_dir}: no patient {info.id}; list the cases again")
        root = self._patient_root(patients[info.id])
        series_dir = self._folder(root, "PATIENT_DICOM")
        volume = load_series(_slice_files(series_dir), str(series_dir))
        masks_dir = self._folder(root, "MASKS_DICOM")
        raw = np.zeros(volume.array.shape, np.uint8)
        structures = sorted(p for p in masks_dir.iterdir() if p.is_dir())
        liver = [p for p in structures if p.name.lower() == "liver"]
        if not liver:
            raise DataError(
                f"{masks_dir}: missing mask 'liver'; the patient folder is incomplete, "
                "re-download it"
            )
        tumours = [p for p in structures if TUMOUR_RE.match(p.name)]
        for value, folders in ((1, liver), (2, tumours)):
            for folder in folders:
                raw[self._mask(folder, volume)] = value
        return case_from_raw(
            info,
            task,
            volume.array,
            raw,
            volume.spacing,
            volume.affine,
            meta={"ornt": volume.ornt, "tumour_masks": [p.name for p in tumours]},
            source=str(series_dir),
        )

    def _mask(self, folder: Path, volume) -> np.ndarray:
        mask = load_series(_slice_files(folder), str(folder))
        if mask.array.shape != volume.array.shape:
            raise DataError(
                f"{folder}: mask shape {mask.array.shape} does not match the image "
                f"series {volume.array.shape}; the mask belongs to another series"
            )
        if len(mask.positions) != len(volume.positions) or not np.allclose(
            mask.positions, volume.positions, atol=1e-3
        ):
            raise DataError(
                f"{folder}: mask slice positions differ from PATIENT_DICOM "
                "(affine mismatch); the mask belongs to another series"
            )
        values = np.unique(mask.array)
        unknown = [v for v in values.tolist() if v not in MASK_VALUES]
        if unknown:
            raise DataError(
                f"{folder}: unknown label value(s) {unknown[:5]}; IRCADb masks are "
                "0/255, re-export the mask"
            )
        return mask.array > 0

    def fingerprint(self) -> str:
        files = []
        for path in self._patients().values():
            files += [f for f in path.rglob("*") if f.is_file()] if path.is_dir() else [path]
        return files_fingerprint(self, files)


def _slice_files(folder: Path) -> list[Path]:
    return sorted(f for f in folder.iterdir() if f.is_file() and not f.name.startswith("."))
