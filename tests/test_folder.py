"""The folder dataset: images/ and masks/ with matching stems, 2D pictures or NIfTI."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from wsbench.data.check import check_dataset, folder_digest
from wsbench.data.folder import FolderDataset
from wsbench.data.splits import split_cases
from wsbench.errors import DataError

H, W = 20, 30


def picture(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (H, W)).astype(np.uint8)


def mask(values=(1, 2)) -> np.ndarray:
    m = np.zeros((H, W), np.uint8)
    m[2:8, 3:9] = values[0]
    if len(values) > 1:
        m[10:12, 10:20] = values[1]
    return m


def write_pictures(root: Path, *, binary: bool = False) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for patient in ("p1", "p2", "p3", "p4"):
        for k in (1, 2):
            stem = f"{patient}_img{k}"
            Image.fromarray(picture(k + 10 * int(patient[1]))).save(root / "images" / f"{stem}.png")
            m = mask((255,)) if binary else mask()
            Image.fromarray(m).save(root / "masks" / f"{stem}.png")
    return root


def test_two_class_pictures_patients_and_counts(tmp_path):
    root = write_pictures(tmp_path / "mine")
    before = folder_digest(root)
    ds = FolderDataset(
        data_dir=root, classes="liver,tumour", patient_regex=r"^(p\d+)_", pixel_spacing=0.5
    )
    infos = ds.list_cases()
    assert len(infos) == 8 and {c.patient for c in infos} == {"p1", "p2", "p3", "p4"}
    splits = split_cases(infos, seed=0)
    seen = [{c.patient for c in v} for v in splits.values()]
    assert sum(len(s) for s in seen) == 4  # a patient's two images share one split
    tasks = ds.tasks()
    assert set(tasks) == {"liver", "tumour", "all"}
    case = ds.load_case(infos[0], tasks["all"])
    assert case.shape == (1, H, W) and case.spacing == (1.0, 0.5, 0.5)
    np.testing.assert_array_equal(case.image[0], picture(11))
    assert np.bincount(case.label.ravel()).tolist() == [H * W - 56, 36, 20]
    assert int(ds.load_case(infos[0], tasks["tumour"]).label.sum()) == 20
    assert folder_digest(root) == before


def test_binary_0_255_masks_and_colour_jpeg(tmp_path):
    root = write_pictures(tmp_path / "mine", binary=True)
    rgb = np.stack([picture(1)] * 3, axis=-1)
    Image.fromarray(rgb).save(root / "images" / "p9_colour.jpg", quality=100)
    Image.fromarray(mask((255,))).save(root / "masks" / "p9_colour.png")
    ds = FolderDataset(data_dir=root)
    records, errors = check_dataset(ds)
    assert errors == [] and len(records) == 9
    assert all(r["voxels"] == {"0 background": H * W - 36, "1 foreground": 36} for r in records)
    case = ds.load_case(next(c for c in ds.list_cases() if c.id == "p9_colour"), ds.tasks()["all"])
    np.testing.assert_allclose(case.image[0], picture(1), atol=3)


def test_nifti_pairs_are_reoriented(tmp_path):
    root = tmp_path / "vols"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    data = np.random.default_rng(0).normal(size=(6, 5, 4)).astype(np.float32)
    label = np.zeros((6, 5, 4), np.uint8)
    label[1:3, 1:4, 2] = 1
    affine = np.diag([-1.5, 1.0, 2.0, 1.0])
    nib.save(nib.Nifti1Image(data, affine), str(root / "images" / "v1.nii.gz"))
    nib.save(nib.Nifti1Image(label, affine), str(root / "masks" / "v1.nii.gz"))
    ds = FolderDataset(data_dir=root)
    case = ds.load_case(ds.list_cases()[0], ds.tasks()["foreground"])
    np.testing.assert_array_equal(case.image, np.transpose(data[::-1], (2, 1, 0)))
    assert case.spacing == pytest.approx((2.0, 1.0, 1.5)) and int(case.label.sum()) == 6


def test_bad_files_give_one_line_each(tmp_path):
    root = write_pictures(tmp_path / "mine")
    (root / "masks" / "p1_img1.png").unlink()
    Image.fromarray(np.zeros((H, W + 1), np.uint8)).save(root / "masks" / "p1_img2.png")
    Image.fromarray(mask((1, 3))).save(root / "masks" / "p2_img1.png")
    victim = root / "images" / "p2_img2.png"
    victim.write_bytes(victim.read_bytes()[:60])
    before = folder_digest(root)
    records, errors = check_dataset(FolderDataset(data_dir=root, classes="liver,tumour"))
    assert len(records) == 4
    causes = [
        ("p1_img1", "missing mask"),
        ("p1_img2", "shape"),
        ("p2_img1", "unknown label value"),
        ("p2_img2", "truncated"),
    ]
    assert len(errors) == 4
    for (stem, cause), line in zip(causes, errors):
        assert stem in line and cause in line and "\n" not in line
    assert folder_digest(root) == before


def test_patient_regex_must_match(tmp_path):
    ds = FolderDataset(data_dir=write_pictures(tmp_path / "mine"), patient_regex=r"^(q\d)")
    with pytest.raises(DataError, match="patient_regex"):
        ds.list_cases()
