"""DICOM in: CT series as canonical (RAS+) (Z, Y, X) volumes, and single 2D images.

DICOM stores positions in the patient's LPS frame. A series becomes a volume by
sorting slices along the slice normal (ImagePositionPatient projected on the cross
product of the ImageOrientationPatient rows), taking the slice spacing from the
position differences, and reorienting exactly as ``wsbench.data.nifti.load_nifti``
does, so a DICOM series and its NIfTI export give the same array.

``write_slice`` writes a minimal valid CT slice; the tests use it to build tiny
copies of DICOM datasets, and plugin authors can do the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from wsbench.errors import DataError

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def read_dicom(path: Path, *, pixels: bool = True) -> pydicom.Dataset:
    """Read one DICOM file; ``pixels=False`` stops before the pixel data (fast listing)."""
    try:
        return pydicom.dcmread(str(path), stop_before_pixels=not pixels)
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types for damaged files
        raise DataError(
            f"{path}: unreadable DICOM ({type(exc).__name__}: {exc}); re-export or re-download it"
        ) from None


def pixels_hu(ds: pydicom.Dataset, path: Path) -> np.ndarray:
    """Stored pixels -> float32 values with RescaleSlope/Intercept applied (HU for CT)."""
    try:
        raw = ds.pixel_array
    except Exception as exc:  # noqa: BLE001 - readers raise many types
        raise DataError(
            f"{path}: unreadable or truncated DICOM pixel data ({type(exc).__name__}: {exc}); "
            "re-export or re-download it"
        ) from None
    if raw.ndim != 2:
        raise DataError(
            f"{path}: expected one 2D frame, found pixel shape {raw.shape}; "
            "split multi-frame files into one slice per file"
        )
    slope = float(getattr(ds, "RescaleSlope", 1.0) or 1.0)
    intercept = float(getattr(ds, "RescaleIntercept", 0.0) or 0.0)
    out = raw.astype(np.float32) * np.float32(slope) + np.float32(intercept)
    if getattr(ds, "PhotometricInterpretation", "MONOCHROME2") == "MONOCHROME1":
        out = out.max() + out.min() - out  # MONOCHROME1 shows low values as white
    return out


def pixel_spacing(ds: pydicom.Dataset, path: Path) -> tuple[float, float]:
    """(row, column) spacing in mm from PixelSpacing; DataError when missing, NaN or zero."""
    value = getattr(ds, "PixelSpacing", None) or getattr(ds, "ImagerPixelSpacing", None)
    if value is None or len(value) != 2:
        raise DataError(f"{path}: no PixelSpacing tag; add it or convert the series to NIfTI")
    dy, dx = float(value[0]), float(value[1])
    if not (np.isfinite(dy) and np.isfinite(dx)) or dy <= 0 or dx <= 0:
        raise DataError(f"{path}: PixelSpacing {dy}, {dx} is NaN or not positive; fix the tag")
    return dy, dx


@dataclass
class SeriesVolume:
    """A DICOM series as wsbench sees it, plus the sorted source files."""

    array: np.ndarray  # float32 (Z, Y, X) RAS+
    spacing: tuple[float, float, float]  # mm (z, y, x)
    affine: np.ndarray  # voxel (column, row, slice) -> RAS mm
    ornt: np.ndarray  # nibabel orientation from the stored axes to RAS+
    files: list[Path]  # in slice order (along the normal)
    positions: np.ndarray  # (n,) slice positions along the normal, mm


def _orientation(ds: pydicom.Dataset, path: Path) -> np.ndarray:
    iop = getattr(ds, "ImageOrientationPatient", None)
    if iop is None or len(iop) != 6:
        return np.array([1.0, 0, 0, 0, 1, 0])  # the axial default when the tag is absent
    return np.asarray([float(v) for v in iop])


def load_series(files: Sequence[Path], what: str) -> SeriesVolume:
    """Read the slices ``files`` of one series (any file order) into a RAS+ volume.

    ``what`` names the series in error messages (usually its folder).
    """
    if not files:
        raise DataError(f"{what}: empty series (no DICOM files); check the folder or archive")
    headers = [(Path(f), read_dicom(Path(f))) for f in files]
    first_path, first = headers[0]
    iop = _orientation(first, first_path)
    row_dir, col_dir = iop[:3], iop[3:]
    normal = np.cross(row_dir, col_dir)
    dy, dx = pixel_spacing(first, first_path)
    located = []
    for path, ds in headers:
        ipp = getattr(ds, "ImagePositionPatient", None)
        if ipp is None or len(ipp) != 3:
            raise DataError(
                f"{path}: no ImagePositionPatient tag; slices cannot be ordered, "
                "re-export the series with positions"
            )
        pos = np.asarray([float(v) for v in ipp])
        located.append((float(pos @ normal), pos, path, ds))
    located.sort(key=lambda t: t[0])
    along = np.asarray([t[0] for t in located])
    steps = np.diff(along)
    if len(steps) and (not np.all(np.isfinite(steps)) or np.any(np.abs(steps) < 1e-4)):
        raise DataError(
            f"{what}: two slices share one ImagePositionPatient (zero slice spacing); "
            "remove duplicate slices"
        )
    dz = float(np.median(steps)) if len(steps) else float(getattr(first, "SliceThickness", 1) or 1)
    if not np.isfinite(dz) or dz <= 0:
        raise DataError(f"{what}: slice spacing {dz} is NaN or not positive; fix SliceThickness")
    slices = []
    for _, _, path, ds in located:
        pixels = pixels_hu(ds, path)
        if slices and pixels.shape != slices[0].shape:
            raise DataError(
                f"{path}: slice shape {pixels.shape} differs from {slices[0].shape} "
                f"in {located[0][2]}; the series mixes images, separate them"
            )
        slices.append(pixels)
    stored = np.stack(slices)  # (slice, row, column)
    lps = np.eye(4)
    lps[:3, 0] = row_dir * dx  # column index runs along the row direction
    lps[:3, 1] = col_dir * dy
    lps[:3, 2] = (
        (located[-1][1] - located[0][1]) / (len(located) - 1) if len(located) > 1 else normal * dz
    )
    lps[:3, 3] = located[0][1]
    affine = LPS_TO_RAS @ lps
    array, spacing, ornt = canonical(np.transpose(stored, (2, 1, 0)), affine)
    return SeriesVolume(array, spacing, affine, ornt, [t[2] for t in located], along)


def canonical(
    data_xyz: np.ndarray, affine: np.ndarray
) -> tuple[np.ndarray, tuple[float, float, float], np.ndarray]:
    """Voxel-order (x, y, z) data + affine -> ((Z, Y, X) RAS+ float32, spacing (z, y, x), ornt)."""
    ornt = nib.orientations.io_orientation(affine)
    canon = nib.orientations.apply_orientation(data_xyz, ornt)
    zooms = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    zooms_canon = np.empty(3)
    zooms_canon[ornt[:, 0].astype(int)] = zooms
    array = np.ascontiguousarray(np.transpose(canon, (2, 1, 0)), dtype=np.float32)
    return array, (float(zooms_canon[2]), float(zooms_canon[1]), float(zooms_canon[0])), ornt


def write_slice(
    path: Path,
    pixels: np.ndarray,
    *,
    position: Sequence[float] = (0.0, 0.0, 0.0),
    spacing: tuple[float, float] = (1.0, 1.0),
    orientation: Sequence[float] = (1, 0, 0, 0, 1, 0),
    slope: float = 1.0,
    intercept: float = 0.0,
    sop_uid: str | None = None,
    modality: str = "CT",
    patient_id: str = "anon",
) -> Path:
    """Write ``pixels`` (2D uint8/uint16/int16) as one uncompressed DICOM slice."""
    pixels = np.ascontiguousarray(pixels)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"  # CT Image Storage
    meta.MediaStorageSOPInstanceUID = sop_uid or generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.PatientID = patient_id
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = pixels.dtype.itemsize * 8
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
    ds.PixelSpacing = [float(spacing[0]), float(spacing[1])]
    ds.ImagePositionPatient = [float(v) for v in position]
    ds.ImageOrientationPatient = [float(v) for v in orientation]
    ds.RescaleSlope, ds.RescaleIntercept = float(slope), float(intercept)
    ds.PixelData = pixels.tobytes()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(str(path), enforce_file_format=True)
    return path
