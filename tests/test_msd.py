"""The msd dataset on tiny MSD and nnU-Net folders written in the true layout."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

import wsbench.data.builtin
from wsbench.data.check import check_dataset, folder_digest
from wsbench.data.msd import MsdDataset
from wsbench.data.splits import split_cases
from wsbench.errors import DataError
from wsbench.plugins import load_registry

SHAPE_XYZ = (10, 8, 6)  # stored (x, y, z)
LPS_AFFINE = np.diag([-0.8, -0.7, 2.5, 1.0])  # x and y flipped: load must reorient to RAS+


def volume(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(image HU, label 0/1/2) in stored (x, y, z) order; liver 1, tumour 2 inside it."""
    rng = np.random.default_rng(seed)
    image = rng.integers(-1000, 1000, SHAPE_XYZ).astype(np.float32)
    label = np.zeros(SHAPE_XYZ, np.uint8)
    label[2:8, 2:6, 1:5] = 1
    label[3:5, 3:5, 2:4] = 2
    return image, label


def save(array: np.ndarray, path: Path, affine: np.ndarray = LPS_AFFINE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(array, affine), str(path))
    return path


def write_liver(root: Path, n: int = 5) -> Path:
    """A Task03_Liver-style folder: value -> name labels, training list, a test image."""
    training = []
    for i in range(n):
        image, label = volume(i)
        save(image, root / "imagesTr" / f"liver_{i}.nii.gz")
        save(label, root / "labelsTr" / f"liver_{i}.nii.gz")
        training.append(
            {"image": f"./imagesTr/liver_{i}.nii.gz", "label": f"./labelsTr/liver_{i}.nii.gz"}
        )
    save(volume(99)[0], root / "imagesTs" / "liver_99.nii.gz")
    (root / "imagesTr" / "._liver_0.nii.gz").write_bytes(b"macOS resource fork")
    (root / "dataset.json").write_text(
        json.dumps(
            {
                "name": "Liver",
                "labels": {"0": "background", "1": "liver", "2": "cancer"},
                "numTraining": n,
                "training": training,
                "test": ["./imagesTs/liver_99.nii.gz"],
            }
        )
    )
    return root


def write_nnunet(root: Path) -> Path:
    """An nnU-Net v2 raw folder: name -> value labels, case_0000 channel suffix, no list."""
    for i in range(3):
        image, label = volume(i)
        save(image, root / "imagesTr" / f"pan_{i:03d}_0000.nii.gz", np.diag([1.0, 1, 2, 1]))
        save(label, root / "labelsTr" / f"pan_{i:03d}.nii.gz", np.diag([1.0, 1, 2, 1]))
    (root / "dataset.json").write_text(
        json.dumps(
            {
                "channel_names": {"0": "CT"},
                "labels": {"background": 0, "pancreas": 1, "tumour": 2},
                "numTraining": 3,
                "file_ending": ".nii.gz",
            }
        )
    )
    return root


def test_registered_through_the_builtin_datasets_module():
    registry = load_registry(extra=[wsbench.data.builtin], entrypoints=False)
    assert {"msd", "ircadb", "deeplesion", "siim", "folder"} <= set(registry.classes("dataset"))


def test_liver_cases_targets_and_counts(tmp_path):
    root = write_liver(tmp_path / "Task03_Liver")
    before = folder_digest(root)
    ds = MsdDataset(data_dir=root)
    infos = ds.list_cases()
    assert [c.id for c in infos] == [f"liver_{i}" for i in range(5)]
    assert all(c.patient == c.id for c in infos)
    tasks = ds.tasks()
    assert tasks["liver"].values == ((1, 2),) and tasks["tumor"].values == ((2,),)
    assert tasks["tumour"].values == ((2,),) and tasks["all"].classes == ("liver", "tumor")
    _, label = volume(0)
    liver = ds.load_case(infos[0], tasks["liver"])
    tumour = ds.load_case(infos[0], tasks["tumour"])
    both = ds.load_case(infos[0], tasks["all"])
    assert liver.label.dtype == np.uint8
    assert int(liver.label.sum()) == int((label > 0).sum())
    assert int(tumour.label.sum()) == int((label == 2).sum())
    assert np.bincount(both.label.ravel()).tolist() == np.bincount(label.ravel()).tolist()
    assert liver.organ.sum() == (label > 0).sum()
    assert folder_digest(root) == before


def test_reorients_to_ras_and_keeps_hu_and_spacing(tmp_path):
    root = write_liver(tmp_path / "Task03_Liver", n=1)
    ds = MsdDataset(data_dir=root)
    case = ds.load_case(ds.list_cases()[0], ds.tasks()["all"])
    image, _ = volume(0)
    # stored x and y run towards -R and -A; RAS+ flips both, then (x, y, z) -> (z, y, x)
    expected = np.transpose(image[::-1, ::-1, :], (2, 1, 0))
    assert case.image.dtype == np.float32 and case.shape == (6, 8, 10)
    np.testing.assert_array_equal(case.image, expected)
    assert case.spacing == pytest.approx((2.5, 0.7, 0.8))
    np.testing.assert_allclose(case.affine, LPS_AFFINE)


def test_nnunet_v2_layout_and_splits(tmp_path):
    root = write_nnunet(tmp_path / "Dataset007_Pancreas")
    ds = MsdDataset(data_dir=root)
    infos = ds.list_cases()
    assert [c.id for c in infos] == ["pan_000", "pan_001", "pan_002"]
    tasks = ds.tasks()
    assert {"pancreas", "tumour", "tumor", "all"} <= set(tasks)
    assert tasks["pancreas"].values == ((1,),)  # not LiTS-derived: labels stay separate
    case = ds.load_case(infos[1], tasks["tumor"])
    assert int(case.label.sum()) == int((volume(1)[1] == 2).sum())
    splits = split_cases(infos, seed=0)
    patients = [{c.patient for c in v} for v in splits.values()]
    assert sum(len(p) for p in patients) == len(set().union(*patients)) == 3


def _breaks(root: Path) -> dict[str, str]:
    """Damage one case per kind of fault; return the expected cause text per case."""
    _, label = volume(0)
    save(label[:, :, :-1], root / "labelsTr" / "liver_0.nii.gz")
    save(label, root / "labelsTr" / "liver_1.nii.gz", np.diag([-0.8, -0.7, 3.0, 1.0]))
    (root / "labelsTr" / "liver_2.nii.gz").unlink()
    bad = label.copy()
    bad[0, 0, 0] = 7
    save(bad, root / "labelsTr" / "liver_3.nii.gz")
    path = root / "imagesTr" / "liver_4.nii.gz"
    path.write_bytes(path.read_bytes()[:200])
    return {
        "liver_0": "shape",
        "liver_1": "affine",
        "liver_2": "missing mask",
        "liver_3": "unknown label value",
        "liver_4": "truncated",
    }


def test_bad_files_give_one_line_each(tmp_path):
    root = write_liver(tmp_path / "Task03_Liver", n=6)
    expected = _breaks(root)
    before = folder_digest(root)
    records, errors = check_dataset(MsdDataset(data_dir=root), "tumor")
    assert [r["id"] for r in records] == ["liver_5"]
    assert records[0]["voxels"] == {"0 background": 480 - 8, "1 tumor": 8}
    assert len(errors) == 5
    for (case, cause), line in zip(expected.items(), errors):
        assert case in line and cause in line and "\n" not in line
    assert folder_digest(root) == before


def test_nan_and_zero_spacing_are_refused(tmp_path):
    root = write_liver(tmp_path / "Task03_Liver", n=2)
    desc = json.loads((root / "dataset.json").read_text())
    for i, value in enumerate((np.nan, 0.0)):
        path = save(volume(i)[0], root / "imagesTr" / f"raw_{i}.nii")
        blob = bytearray(path.read_bytes())
        blob[80:84] = np.float32(value).tobytes()  # pixdim[1], the x spacing
        path.write_bytes(bytes(blob))
        desc["training"][i]["image"] = f"./imagesTr/raw_{i}.nii"
    (root / "dataset.json").write_text(json.dumps(desc))
    ds = MsdDataset(data_dir=root)
    for info in ds.list_cases():
        with pytest.raises(DataError, match="NaN or not positive"):
            ds.load_case(info, ds.tasks()["liver"])


def test_missing_dataset_json_and_data_dir(tmp_path):
    with pytest.raises(DataError, match="needs --data-dir"):
        MsdDataset().list_cases()
    with pytest.raises(DataError, match="dataset.json"):
        MsdDataset(data_dir=tmp_path).list_cases()


def test_fingerprint_follows_the_files(tmp_path):
    root = write_liver(tmp_path / "Task03_Liver", n=2)
    first = MsdDataset(data_dir=root).fingerprint()
    assert MsdDataset(data_dir=root).fingerprint() == first
    save(volume(7)[1], root / "labelsTr" / "liver_1.nii.gz")
    assert MsdDataset(data_dir=root).fingerprint() != first
