"""Helpers the dataset loaders share: the data folder, file fingerprints, label-value checks,
NIfTI image/label pairs, and building a ``Case`` from a raw label map.

A library only: it registers nothing (``wsbench.data.builtin`` registers the datasets).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np

from wsbench.api import Case, CaseInfo, Dataset, Task, WeakLabel
from wsbench.data.nifti import load_label_like, load_nifti
from wsbench.errors import DataError
from wsbench.params import stable_hash


def data_root(dataset: Dataset, layout: str) -> Path:
    """The dataset's ``--data-dir``; DataError describing ``layout`` when unset or missing."""
    if dataset.data_dir is None:
        raise DataError(f"dataset {dataset.name} needs --data-dir: a folder holding {layout}")
    if not dataset.data_dir.is_dir():
        raise DataError(f"{dataset.data_dir}: not a folder; --data-dir must hold {layout}")
    return dataset.data_dir


def files_fingerprint(dataset: Dataset, files: Iterable[Path]) -> str:
    """Hash of the dataset config and each file's relative name, size and mtime."""
    root = dataset.data_dir or Path(".")
    entries = []
    for f in sorted(Path(f) for f in files):
        try:
            st = f.stat()
        except OSError:
            entries.append([str(f), -1, -1])
            continue
        rel = f.relative_to(root) if f.is_relative_to(root) else f
        entries.append([str(rel), st.st_size, st.st_mtime_ns])
    return stable_hash([dataset.config, entries])


def check_label_values(raw: np.ndarray, allowed: Iterable[int], path: Path) -> None:
    """DataError naming ``path`` when ``raw`` holds a value outside ``allowed``."""
    allowed = sorted({int(v) for v in allowed})
    lo, hi = float(raw.min()), float(raw.max())
    if lo >= 0 and hi < 65536 and np.issubdtype(raw.dtype, np.integer):
        present = np.flatnonzero(np.bincount(raw.ravel()))
    else:
        present = np.unique(raw)
    unknown = [v for v in present.tolist() if v not in allowed]
    if unknown:
        raise DataError(
            f"{path}: unknown label value(s) {unknown[:5]}; the dataset declares "
            f"{allowed}; fix the mask or the label declaration"
        )


def load_nifti_pair(
    image_path: Path, label_path: Path
) -> tuple[np.ndarray, tuple[float, float, float], np.ndarray, np.ndarray, np.ndarray]:
    """An image and its label NIfTI -> (image HU, spacing, affine, ornt, raw int16 label).

    Both are reoriented to RAS+; DataError naming both files when shape or affine disagree.
    """
    image, spacing, affine, ornt = load_nifti(image_path)
    raw = load_label_like(label_path, image_path, image.shape, affine)
    return image, spacing, affine, ornt, raw


def case_from_raw(
    info: CaseInfo,
    task: Task,
    image: np.ndarray,
    raw: np.ndarray,
    spacing: tuple[float, float, float],
    affine: np.ndarray,
    *,
    organ: np.ndarray | None | Literal["labelled"] = "labelled",
    native_weak: Mapping[str, WeakLabel] | None = None,
    meta: Mapping[str, Any] | None = None,
    source: str | None = None,
) -> Case:
    """A ``Case`` whose task label is ``task.encode(raw)``.

    ``organ`` is the slice-selection mask: ``"labelled"`` (default) for every voxel with a
    raw label, an explicit boolean map, or None. ``source`` defaults to ``info.source``.
    """
    return Case(
        id=info.id,
        patient=info.patient,
        image=image,
        label=task.encode(raw),
        spacing=spacing,
        affine=affine,
        classes=task.classes,
        organ=raw > 0 if isinstance(organ, str) else organ,
        native_weak=dict(native_weak or {}),
        meta=dict(meta or {}),
        source=info.source if source is None else source,
    )
