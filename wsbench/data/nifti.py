"""NIfTI in and out: canonical (RAS+) (Z, Y, X) arrays in, the original orientation out."""

from __future__ import annotations

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np

from wsbench.errors import DataError


def load_nifti(
    path: Path, *, dtype=np.float32
) -> tuple[np.ndarray, tuple[float, float, float], np.ndarray, np.ndarray]:
    """Read ``path`` -> (array (Z, Y, X) in RAS+, spacing (z, y, x) mm, original affine, ornt).

    ``ornt`` is the nibabel orientation transform from the file's orientation to RAS+;
    ``save_like`` uses it to write arrays back in the file's own orientation.
    Raises ``DataError`` naming the file for unreadable, truncated or NaN-spaced files.
    """
    path = Path(path)
    check_header_spacing(path)
    try:
        img = nib.load(str(path))
        data = np.asanyarray(img.dataobj)
    except Exception as exc:  # nibabel raises many types for corrupt files
        raise DataError(
            f"{path}: unreadable or truncated NIfTI ({type(exc).__name__}: {exc}); "
            "re-export or re-download this file"
        ) from None
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim == 2:
        data = data[:, :, None]
    if data.ndim != 3:
        raise DataError(
            f"{path}: expected a 3D volume, found shape {data.shape}; give one volume per file"
        )
    affine = np.asarray(img.affine, dtype=np.float64)
    zooms = np.asarray(img.header.get_zooms()[:3], dtype=np.float64)
    if not np.all(np.isfinite(zooms)) or np.any(zooms <= 0):
        raise DataError(
            f"{path}: voxel spacing {tuple(zooms)} is NaN or not positive; fix the header pixdim"
        )
    ornt = nib.orientations.io_orientation(affine)
    canon = nib.orientations.apply_orientation(np.asarray(data), ornt)
    zooms_canon = np.empty(3)
    zooms_canon[ornt[:, 0].astype(int)] = zooms
    array = np.ascontiguousarray(np.transpose(canon, (2, 1, 0))).astype(dtype, copy=False)
    spacing = (float(zooms_canon[2]), float(zooms_canon[1]), float(zooms_canon[0]))
    return array, spacing, affine, ornt


def save_like(
    array_zyx: np.ndarray, affine: np.ndarray, ornt: np.ndarray | None, path: Path
) -> Path:
    """Write a (Z, Y, X) RAS+ array as NIfTI in the original orientation with ``affine``."""
    data = np.transpose(np.asarray(array_zyx), (2, 1, 0))
    if ornt is not None:
        inverse = nib.orientations.ornt_transform(
            nib.orientations.axcodes2ornt("RAS"), nib.orientations.io_orientation(affine)
        )
        data = nib.orientations.apply_orientation(data, inverse)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.ascontiguousarray(data), affine), str(path))
    return path


def affine_from_spacing(spacing_zyx: tuple[float, float, float]) -> np.ndarray:
    """A RAS+ diagonal affine for a (Z, Y, X) array with the given spacing."""
    sz, sy, sx = spacing_zyx
    return np.diag([sx, sy, sz, 1.0])


def check_header_spacing(path: Path) -> None:
    """DataError when the NIfTI header's pixdim is NaN or zero.

    nibabel silently resets zero pixdim to 1 when loading, so the raw header is read here.
    Files whose header cannot be read this way are left to ``load_nifti`` to report.
    """
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            header = nib.Nifti1Header.from_fileobj(f, check=False)
        dims = int(header["dim"][0])
        zooms = [float(v) for v in header["pixdim"][1 : 1 + min(max(dims, 1), 3)]]
    except Exception:  # noqa: BLE001 - readers raise many types
        return
    if not all(np.isfinite(z) and z > 0 for z in zooms):
        raise DataError(
            f"{path}: voxel spacing {tuple(zooms)} is NaN or not positive; fix the header pixdim"
        )


def load_label_like(
    path: Path, image_path: Path, shape: tuple[int, ...], affine: np.ndarray
) -> np.ndarray:
    """A label NIfTI that must lie on an image's grid -> int16 (Z, Y, X) RAS+.

    ``DataError`` naming both files when the shape or the affine disagree, or when the
    values are not non-negative integers.
    """
    if not Path(path).exists():
        raise DataError(
            f"{path}: missing mask for {Path(image_path).name}; add it or remove the image"
        )
    label, _, label_affine, _ = load_nifti(path, dtype=np.float32)
    if label.shape != tuple(shape):
        raise DataError(
            f"{path}: shape {label.shape} (z, y, x) does not match {image_path} "
            f"{tuple(shape)}; re-export the pair on the same grid"
        )
    if not np.allclose(label_affine, affine, atol=1e-3, rtol=1e-4):
        raise DataError(
            f"{path}: affine differs from {image_path}; resample the mask onto the image grid"
        )
    rounded = np.rint(label)
    if not np.array_equal(rounded, label) or rounded.min() < 0 or rounded.max() > 32767:
        raise DataError(
            f"{path}: label values are not small non-negative integers; give an integer label map"
        )
    return rounded.astype(np.int16)
