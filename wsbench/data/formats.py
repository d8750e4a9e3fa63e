"""The real dataset formats (MSD/nnU-Net, 3D-IRCADb, DeepLesion, SIIM-ACR, folder) as a plugin,
plus the pieces they share: data-folder checks, file fingerprints and label-value checks.

Registered like any outside plugin, through the ``wsbench`` entry-point group. The
dataset modules are imported when the hook is called, not when this module is.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from wsbench import hookimpl
from wsbench.api import Dataset
from wsbench.data.nifti import load_label_like, load_nifti
from wsbench.errors import DataError
from wsbench.params import stable_hash


@hookimpl
def wsbench_register_datasets() -> list[type]:
    from wsbench.data.deeplesion import DeepLesionDataset
    from wsbench.data.folder import FolderDataset
    from wsbench.data.ircadb import IrcadbDataset
    from wsbench.data.msd import MsdDataset
    from wsbench.data.siim import SiimDataset

    return [MsdDataset, IrcadbDataset, DeepLesionDataset, SiimDataset, FolderDataset]


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
