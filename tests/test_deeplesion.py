"""The deeplesion dataset on a tiny DeepLesion copy: 16-bit PNG slices and DL_info.csv."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wsbench.data.check import check_dataset, folder_digest
from wsbench.data.deeplesion import DeepLesionDataset
from wsbench.data.splits import split_cases
from wsbench.errors import DataError

H, W = 24, 32
HEADER = [
    "File_name",
    "Patient_index",
    "Study_index",
    "Series_ID",
    "Key_slice_index",
    "Measurement_coordinates",
    "Bounding_boxes",
    "Lesion_diameters_Pixel_",
    "Normalized_lesion_location",
    "Coarse_lesion_type",
    "Possibly_noisy",
    "Slice_range",
    "Spacing_mm_px_",
    "Image_size",
    "DICOM_windows",
    "Patient_gender",
    "Patient_age",
    "Train_Val_Test",
]
# (series, key slice, long-axis x1 y1 x2 y2 + short-axis x3 y3 x4 y4, box x0 y0 x1 y1, split)
LESIONS = [
    (
        "000001_01_01",
        109,
        "10.5, 8.0, 20.5, 12.0, 15.0, 7.5, 14.0, 13.0",
        "9.5, 6.5, 21.5, 14.0",
        1,
    ),
    ("000001_01_01", 109, "3.0, 3.0, 6.0, 6.0, 4.0, 6.0, 6.0, 4.0", "2.0, 2.0, 7.0, 7.0", 1),
    ("000001_02_01", 50, "5.0, 5.0, 9.0, 9.0, 6.0, 9.0, 9.0, 6.0", "4.0, 4.0, 10.0, 10.0", 1),
    ("000002_01_01", 20, "5.0, 5.0, 9.0, 9.0, 6.0, 9.0, 9.0, 6.0", "4.0, 4.0, 10.0, 10.0", 2),
    ("000003_01_01", 30, "5.0, 5.0, 9.0, 9.0, 6.0, 9.0, 9.0, 6.0", "4.0, 4.0, 10.0, 10.0", 3),
]
SLICES = {
    "000001_01_01": [108, 109, 110],
    "000001_02_01": [50],
    "000002_01_01": [19, 20, 21],
    "000003_01_01": [29, 30, 31],
}


def hu_slice(series: str, index: int) -> np.ndarray:
    rng = np.random.default_rng(index + 1000 * int(series[:6]))
    return rng.integers(-1024, 2000, (H, W)).astype(np.int32)


def write_png16(path: Path, hu: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((hu + 32768).astype(np.uint16)).save(path)


def write_deeplesion(root: Path, spacing: str = "0.7, 0.8, 5") -> Path:
    for series, indices in SLICES.items():
        for index in indices:
            write_png16(root / "Images_png" / series / f"{index:03d}.png", hu_slice(series, index))
    with open(root / "DL_info.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        for series, key, coords, box, split in LESIONS:
            patient, study, ser = series.split("_")
            writer.writerow(
                [
                    f"{series}_{key:03d}.png",
                    int(patient),
                    int(study),
                    int(ser),
                    key,
                    coords,
                    box,
                    "11.2, 5.6",
                    "0.5, 0.5, 0.5",
                    3,
                    0,
                    f"{key - 5}, {key + 5}",
                    spacing,
                    f"{H}, {W}",
                    "-175, 275",
                    "F",
                    51,
                    split,
                ]
            )
    return root


def test_cases_splits_hu_and_spacing(tmp_path):
    root = write_deeplesion(tmp_path / "DeepLesion")
    before = folder_digest(root)
    ds = DeepLesionDataset(data_dir=root)
    infos = ds.list_cases()
    assert [c.id for c in infos] == [
        "000001_01_01_109",
        "000001_02_01_050",
        "000002_01_01_020",
        "000003_01_01_030",
    ]
    assert [c.patient for c in infos] == ["1", "1", "2", "3"]
    splits = split_cases(infos, seed=123)  # the dataset's own split wins over the seed
    assert {k: [c.id[:6] for c in v] for k, v in splits.items()} == {
        "train": ["000001", "000001"],
        "val": ["000002"],
        "test": ["000003"],
    }
    case = ds.load_case(infos[0], ds.tasks()["lesion"])
    np.testing.assert_array_equal(case.image[0], hu_slice("000001_01_01", 109))
    assert case.image.dtype == np.float32 and case.shape == (1, H, W)
    assert case.spacing == pytest.approx((5.0, 0.8, 0.7))
    assert case.label is None  # no mask_dir: not scored
    assert folder_digest(root) == before


def test_native_recist_and_boxes_come_from_the_csv(tmp_path):
    ds = DeepLesionDataset(data_dir=write_deeplesion(tmp_path / "DeepLesion"))
    case = ds.load_case(ds.list_cases()[0], ds.tasks()["lesion"])
    recist = case.native_weak["recist"]
    assert recist.slices.tolist() == [0] and len(recist.lesions) == 2
    first = recist.lesions[0]
    assert first.z == 0
    assert first.long_axis == ((8.0, 10.5), (12.0, 20.5))  # (y, x) from CSV x, y pairs
    assert first.short_axis == ((7.5, 15.0), (13.0, 14.0))
    box = case.native_weak["box"].boxes[0]
    assert (box.z, box.y0, box.x0, box.y1, box.x1) == (0, 6, 9, 15, 22)


def test_neighbours_make_a_2_5d_stack(tmp_path):
    ds = DeepLesionDataset(data_dir=write_deeplesion(tmp_path / "DeepLesion"), neighbours=2)
    infos = ds.list_cases()
    case = ds.load_case(infos[0], ds.tasks()["lesion"])
    assert case.shape == (5, H, W)
    # 107 and 111 are not on disk: the nearest slice present repeats
    for z, index in enumerate([108, 108, 109, 110, 110]):
        np.testing.assert_array_equal(case.image[z], hu_slice("000001_01_01", index))
    assert case.native_weak["recist"].lesions[0].z == 2
    assert case.native_weak["box"].slices.tolist() == [2]
    lone = ds.load_case(infos[1], ds.tasks()["lesion"])
    assert all(np.array_equal(p, lone.image[0]) for p in lone.image)


def test_masks_label_only_the_evaluation_subset(tmp_path):
    root = write_deeplesion(tmp_path / "DeepLesion")
    masks = tmp_path / "masks"
    masks.mkdir()
    mask = np.zeros((H, W), np.uint8)
    mask[5:10, 4:11] = 255
    Image.fromarray(mask).save(masks / "000003_01_01_030.png")
    ds = DeepLesionDataset(data_dir=root, mask_dir=str(masks), neighbours=1)
    labels = {c.id: ds.load_case(c, ds.tasks()["lesion"]).label for c in ds.list_cases()}
    assert [k for k, v in labels.items() if v is not None] == ["000003_01_01_030"]
    label = labels["000003_01_01_030"]
    assert label.shape == (3, H, W) and int(label[1].sum()) == 35 and int(label.sum()) == 35


def test_bad_inputs_give_one_line_each(tmp_path):
    root = write_deeplesion(tmp_path / "DeepLesion")
    masks = tmp_path / "masks"
    masks.mkdir()
    Image.fromarray(np.zeros((H + 1, W), np.uint8)).save(masks / "000002_01_01_020.png")
    Image.fromarray(np.full((H, W), 7, np.uint8)).save(masks / "000003_01_01_030.png")
    (root / "Images_png" / "000001_02_01" / "050.png").unlink()
    truncated = root / "Images_png" / "000001_01_01" / "109.png"
    truncated.write_bytes(truncated.read_bytes()[:100])
    before = folder_digest(root)
    records, errors = check_dataset(DeepLesionDataset(data_dir=root, mask_dir=str(masks)))
    assert records == []
    causes = ["truncated", "missing slice", "shape", "unknown label value"]
    assert len(errors) == 4
    for cause, line in zip(causes, errors):
        assert cause in line and "\n" not in line
    assert folder_digest(root) == before


def test_eight_bit_pngs_zero_spacing_and_bad_coordinates(tmp_path):
    root = write_deeplesion(tmp_path / "a", spacing="0, 0.8, 5")
    ds = DeepLesionDataset(data_dir=root)
    with pytest.raises(DataError, match="NaN or not positive"):
        ds.load_case(ds.list_cases()[0], ds.tasks()["lesion"])
    root = write_deeplesion(tmp_path / "b")
    Image.fromarray(np.zeros((H, W), np.uint8)).save(
        root / "Images_png" / "000002_01_01" / "020.png"
    )
    ds = DeepLesionDataset(data_dir=root)
    with pytest.raises(DataError, match="not 16-bit"):
        ds.load_case(ds.list_cases()[2], ds.tasks()["lesion"])
    text = (
        (root / "DL_info.csv")
        .read_text()
        .replace("3.0, 3.0, 6.0, 6.0, 4.0, 6.0, 6.0, 4.0", "3.0, 3.0")
    )
    (root / "DL_info.csv").write_text(text)
    with pytest.raises(DataError, match="Measurement_coordinates"):
        ds.load_case(ds.list_cases()[0], ds.tasks()["lesion"])


def test_fingerprint_changes_with_the_csv(tmp_path):
    root = write_deeplesion(tmp_path / "DeepLesion")
    first = DeepLesionDataset(data_dir=root).fingerprint()
    with open(root / "DL_info.csv", "a") as f:
        f.write("\n")
    assert DeepLesionDataset(data_dir=root).fingerprint() != first
