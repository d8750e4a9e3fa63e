"""The ircadb dataset on tiny 3D-IRCADb-01 patients: per-slice DICOM folders and zip archives."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from wsbench.data.check import check_dataset, folder_digest
from wsbench.data.dicom import write_slice
from wsbench.data.ircadb import IrcadbDataset
from wsbench.errors import DataError, ParameterError

ROWS, COLS, N = 8, 10, 5
DY, DX, DZ = 0.7, 0.8, 1.6
NAME_ORDER = [3, 0, 4, 1, 2]  # image_K file names do not follow the slice positions
INTERCEPT = -1024.0


def stored_volume() -> np.ndarray:
    """Raw pixels (slice along +z, row, column) before RescaleIntercept."""
    return (np.arange(N * ROWS * COLS).reshape(N, ROWS, COLS) * 7 % 2000).astype(np.uint16)


def masks() -> dict[str, np.ndarray]:
    liver = np.zeros((N, ROWS, COLS), bool)
    liver[1:4, 2:7, 1:8] = True
    t1 = np.zeros_like(liver)
    t1[2, 3:5, 2:4] = True
    t2 = np.zeros_like(liver)
    t2[1:3, 5:7, 6:8] = True
    vein = np.zeros_like(liver)
    vein[0, 0, 0] = True
    return {"liver": liver, "livertumor01": t1, "livertumor02": t2, "portalvein": vein}


def write_series(
    folder: Path,
    stored: np.ndarray,
    *,
    intercept: float = 0.0,
    z_positions: list[float] | None = None,
    spacing=(DY, DX),
) -> None:
    z_positions = z_positions or [-50.0 + k * DZ for k in range(len(stored))]
    for k, pixels in enumerate(stored):
        write_slice(
            folder / f"image_{NAME_ORDER[k] if len(stored) == N else k}",
            pixels,
            position=(-30.0, -20.0, z_positions[k]),
            spacing=spacing,
            intercept=intercept,
        )


def write_patient(root: Path, n: int) -> Path:
    folder = root / f"3Dircadb1.{n}"
    write_series(folder / "PATIENT_DICOM", stored_volume(), intercept=INTERCEPT)
    for name, mask in masks().items():
        write_series(folder / "MASKS_DICOM" / name, mask.astype(np.uint8) * 255)
    return folder


def zip_folder(folder: Path, archive: Path, prefix: str) -> None:
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                zf.write(f, f"{prefix}/{f.relative_to(folder)}")


def expected_ras(stored_zyx: np.ndarray) -> np.ndarray:
    """LPS rows run posterior and columns run left: RAS+ flips both."""
    return stored_zyx[:, ::-1, ::-1]


@pytest.fixture
def data(tmp_path) -> Path:
    root = tmp_path / "ircadb"
    for n in (1, 2, 3):
        write_patient(root, n)
    return root


def test_folders_give_hu_ras_spacing_and_merged_tumours(data, tmp_path):
    before = folder_digest(data)
    ds = IrcadbDataset(data_dir=data, cache_dir=str(tmp_path / "cache"))
    infos = ds.list_cases()
    assert [c.id for c in infos] == ["3Dircadb1.1", "3Dircadb1.2", "3Dircadb1.3"]
    case = ds.load_case(infos[0], ds.tasks()["all"])
    np.testing.assert_array_equal(case.image, expected_ras(stored_volume() + INTERCEPT))
    assert case.image.dtype == np.float32 and case.shape == (N, ROWS, COLS)
    assert case.spacing == pytest.approx((DZ, DY, DX))
    m = masks()
    tumour = m["livertumor01"] | m["livertumor02"]
    liver = m["liver"] | tumour
    assert np.bincount(case.label.ravel(), minlength=3).tolist() == [
        int((~liver).sum()),
        int((liver & ~tumour).sum()),
        int(tumour.sum()),
    ]
    np.testing.assert_array_equal(case.label == 2, expected_ras(tumour))
    assert case.meta["tumour_masks"] == ["livertumor01", "livertumor02"]
    # the affine maps voxel (0, 0, 0) of the stored grid to the first slice's position in RAS
    np.testing.assert_allclose(case.affine[:3, 3], [30.0, 20.0, -50.0])
    liver_only = ds.load_case(infos[0], ds.tasks()["liver"])
    assert int(liver_only.label.sum()) == int(liver.sum())
    assert folder_digest(data) == before


def test_zip_archives_load_like_folders_into_the_cache(data, tmp_path):
    p2 = data / "3Dircadb1.2"
    for part in ("PATIENT_DICOM", "MASKS_DICOM"):  # inner archives, as shipped
        zip_folder(p2 / part, p2 / f"{part}.zip", part)
        shutil.rmtree(p2 / part)
    p3 = data / "3Dircadb1.3"  # an outer archive holding inner archives
    for part in ("PATIENT_DICOM", "MASKS_DICOM"):
        zip_folder(p3 / part, p3 / f"{part}.zip", part)
        shutil.rmtree(p3 / part)
    zip_folder(p3, data / "3Dircadb1.3.zip", "3Dircadb1.3")
    shutil.rmtree(p3)
    before = folder_digest(data)
    cache = tmp_path / "cache"
    ds = IrcadbDataset(data_dir=data, cache_dir=str(cache))
    cases = [ds.load_case(info, ds.tasks()["tumor"]) for info in ds.list_cases()]
    for case in cases[1:]:
        np.testing.assert_array_equal(case.image, cases[0].image)
        np.testing.assert_array_equal(case.label, cases[0].label)
    assert folder_digest(data) == before
    assert (cache / "ircadb-extract").is_dir()


def test_zip_slip_is_refused(data, tmp_path):
    p1 = data / "3Dircadb1.1"
    shutil.rmtree(p1 / "PATIENT_DICOM")
    with zipfile.ZipFile(p1 / "PATIENT_DICOM.zip", "w") as zf:
        zf.writestr("PATIENT_DICOM/image_0", b"x")
        zf.writestr("../../../escaped.txt", b"owned")
    cache = tmp_path / "deep" / "cache"
    ds = IrcadbDataset(data_dir=data, cache_dir=str(cache))
    with pytest.raises(DataError, match="zip-slip"):
        ds.load_case(ds.list_cases()[0], ds.tasks()["tumor"])
    assert not list(tmp_path.rglob("escaped.txt"))


def test_cache_inside_the_data_folder_is_refused(data):
    p1 = data / "3Dircadb1.1"
    zip_folder(p1 / "PATIENT_DICOM", p1 / "PATIENT_DICOM.zip", "PATIENT_DICOM")
    shutil.rmtree(p1 / "PATIENT_DICOM")
    ds = IrcadbDataset(data_dir=data, cache_dir=str(data / "cache"))
    with pytest.raises(ParameterError, match="outside"):
        ds.load_case(ds.list_cases()[0], ds.tasks()["tumor"])


def test_bad_series_give_one_line_each(tmp_path):
    root = tmp_path / "ircadb"
    for n in range(1, 9):
        write_patient(root, n)
    shutil.rmtree(root / "3Dircadb1.1" / "PATIENT_DICOM")  # empty series
    (root / "3Dircadb1.1" / "PATIENT_DICOM").mkdir()
    write_series(
        root / "3Dircadb1.2" / "PATIENT_DICOM",
        stored_volume(),  # zero spacing
        z_positions=[0.0, 1.0, 1.0, 2.0, 3.0],
    )
    shutil.rmtree(root / "3Dircadb1.3" / "MASKS_DICOM" / "liver")  # missing mask
    shutil.rmtree(root / "3Dircadb1.4" / "MASKS_DICOM" / "livertumor01")  # shape mismatch
    write_series(
        root / "3Dircadb1.4" / "MASKS_DICOM" / "livertumor01",
        np.zeros((N, ROWS, COLS + 2), np.uint8),
    )
    write_series(
        root / "3Dircadb1.5" / "MASKS_DICOM" / "liver",  # unknown label value
        np.full((N, ROWS, COLS), 128, np.uint8),
    )
    victim = root / "3Dircadb1.6" / "PATIENT_DICOM" / "image_2"  # truncated
    victim.write_bytes(victim.read_bytes()[:-50])
    write_series(
        root / "3Dircadb1.7" / "PATIENT_DICOM",
        stored_volume(),  # zero pixel spacing
        spacing=(0.0, DX),
    )
    before = folder_digest(root)
    records, errors = check_dataset(IrcadbDataset(data_dir=root, cache_dir=str(tmp_path / "c")))
    assert [r["id"] for r in records] == ["3Dircadb1.8"]
    assert records[0]["shape"] == [N, ROWS, COLS]
    assert records[0]["spacing"] == pytest.approx([DZ, DY, DX])
    causes = [
        "empty series",
        "zero slice spacing",
        "missing mask",
        "shape",
        "unknown label value",
        "truncated",
        "NaN or not positive",
    ]
    assert len(errors) == len(causes)
    for n, (cause, line) in enumerate(zip(causes, errors), start=1):
        assert f"3Dircadb1.{n}" in line and cause in line and "\n" not in line
    assert folder_digest(root) == before
