"""NIfTI in and out: canonical (RAS+) (Z, Y, X) arrays in, the original orientation out."""

from __future__ import annotations

import gzip
import math
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
    check_header(path)
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
    check_affine(path, affine)
    zooms = np.ones(3)  # a 2D image is one slice; its missing slice thickness is 1 mm
    found = np.asarray(img.header.get_zooms()[:3], dtype=np.float64)
    zooms[: found.size] = found
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


def check_header(path: Path) -> None:
    """DataError, before any voxel is read, when the NIfTI header cannot describe the file.

    Checks that the pixdim spacing is finite and positive (nibabel silently resets zero
    pixdim to 1 when loading), and that the data the header announces fits in the file
    (a 16 KB file claiming 4000^3 voxels is refused instead of allocating 256 GB). For
    ``.nii.gz`` the bound is deflate's 1032:1 ratio and the gzip trailer's size.
    Files whose header cannot be read this way are left to ``load_nifti`` to report.
    """
    path = Path(path)
    gz = path.name.endswith(".gz")
    opener = gzip.open if gz else open
    try:
        with opener(path, "rb") as f:
            header = nib.Nifti1Header.from_fileobj(f, check=False)
        ndim = int(header["dim"][0])
        shape = [int(v) for v in header["dim"][1 : 1 + ndim]]
        zooms = [float(v) for v in header["pixdim"][1 : 1 + min(max(ndim, 1), 3)]]
        itemsize = np.dtype(header.get_data_dtype()).itemsize
        offset = int(header.get_data_offset())
        size = _uncompressed_size(path) if gz else path.stat().st_size
    except Exception:  # noqa: BLE001 - readers raise many types
        return
    if not all(np.isfinite(z) and z > 0 for z in zooms):
        raise DataError(
            f"{path}: voxel spacing {tuple(zooms)} is NaN or not positive; fix the header pixdim"
        )
    if not 1 <= ndim <= 7 or any(n < 1 for n in shape):
        raise DataError(
            f"{path}: header dims {tuple(shape)} are not a valid image shape; re-export this file"
        )
    need = offset + math.prod(shape) * itemsize
    if gz:  # deflate packs at most 1032:1; ISIZE is exact below 4 GiB
        stored = path.stat().st_size
        short = need > 1032 * stored + 1024 or (size is not None and size < need < 2**32)
    else:
        short = need > size
    if short:
        raise DataError(
            f"{path}: header announces {'x'.join(map(str, shape))} voxels "
            f"({need:,} bytes) but the file holds fewer; the file is truncated or its "
            "header is wrong: re-export or re-download it"
        )


def _uncompressed_size(path: Path) -> int | None:
    """The gzip trailer's ISIZE (uncompressed size mod 2^32), None when not a plain gzip."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        if f.tell() < 18:
            return None
        f.seek(-4, 2)
        return int.from_bytes(f.read(4), "little")


def check_affine(path: Path, affine: np.ndarray) -> None:
    """DataError when the affine is not finite or maps the grid onto fewer than 3 axes."""
    linear = np.asarray(affine, dtype=np.float64)[:3, :3]
    finite = bool(np.all(np.isfinite(affine)))
    if not finite or abs(np.linalg.det(linear)) < 1e-12 * max(np.abs(linear).max(), 1e-300) ** 3:
        raise DataError(
            f"{path}: the affine (sform/qform) is {'not finite' if not finite else 'singular'} "
            "and gives no orientation; fix the header's sform/qform or re-export the file"
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
