"""The ``lits`` loader on tiny files written in the challenge's own layout."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from wsbench.data.lits import LitsDataset
from wsbench.data.nifti import save_like
from wsbench.data.phantom import SyntheticDataset, write_lits_layout
from wsbench.data.splits import split_cases
from wsbench.errors import DataError, ParameterError
from wsbench.plugins import load_registry

SHAPE_XYZ = (12, 10, 5)
SPACING_XYZ = (0.8, 0.8, 2.5)


def _write(path: Path, data: np.ndarray, affine: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data, affine), str(path))
    return path


def _pair(
    root: Path,
    number: int,
    *,
    folder: str = "",
    ext: str = ".nii",
    lps: bool = False,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Write volume-N + segmentation-N; return (volume, segmentation, affine) as stored."""
    rng = np.random.default_rng(seed)
    volume = rng.integers(-200, 200, SHAPE_XYZ).astype(np.int16)
    seg = np.zeros(SHAPE_XYZ, np.uint8)
    seg[2:9, 2:8, 1:4] = 1
    if number % 2 == 0:  # tumour voxel count differs between cases: 6 or 1
        seg[3:5, 3:6, 2] = 2
    seg[3, 3, 2] = 2
    affine = np.diag([*SPACING_XYZ, 1.0])
    if lps:  # x and y stored flipped (LPS+), as scanners often write them
        affine = np.diag([-SPACING_XYZ[0], -SPACING_XYZ[1], SPACING_XYZ[2], 1.0])
        affine[:3, 3] = (100.0, 80.0, -40.0)
    _write(root / folder / f"volume-{number}{ext}", volume, affine)
    _write(root / folder / f"segmentation-{number}{ext}", seg, affine)
    return volume, seg, affine


@pytest.fixture
def lits_root(tmp_path) -> Path:
    root = tmp_path / "lits"
    _pair(root, 0, folder="Training Batch 1")
    _pair(root, 1, folder="Training Batch 1", seed=1)
    _pair(root, 2, folder="Training Batch 2", ext=".nii.gz", seed=2)
    _pair(root, 3, folder="Training Batch 2", lps=True, seed=3)
    _pair(root, 4, ext=".nii.gz", lps=True, seed=4)
    return root


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


def test_registered():
    from wsbench.data import builtin

    assert load_registry([builtin], entrypoints=False).get("dataset", "lits") is LitsDataset


def test_lists_every_volume_in_subfolders(lits_root):
    ds = LitsDataset(data_dir=lits_root)
    cases = ds.list_cases()
    assert [c.id for c in cases] == [f"lits-{n}" for n in range(5)]
    assert [c.patient for c in cases] == ["0", "1", "2", "3", "4"]
    assert "Training Batch 2" in cases[2].source and cases[2].source.count(".nii.gz") == 2
    assert set(ds.tasks()) == {"tumor", "liver", "all"} and ds.default_target == "tumor"


def test_loads_in_ras_with_spacing_and_label_counts(lits_root):
    ds = LitsDataset(data_dir=lits_root)
    for info in ds.list_cases():
        number = int(info.patient)
        case = ds.load_case(info, ds.tasks()["tumor"])
        liver = ds.load_case(info, ds.tasks()["liver"])
        assert case.image.shape == SHAPE_XYZ[::-1] and case.image.dtype == np.float32
        assert case.spacing == pytest.approx(SPACING_XYZ[::-1])
        assert int(case.label.sum()) == (1 if number % 2 else 6)
        assert int(liver.label.sum()) == 7 * 6 * 3
        np.testing.assert_array_equal(case.organ, liver.label.astype(bool))
        assert case.classes == ("tumor",) and liver.classes == ("liver",)


def test_reorientation_round_trip(lits_root, tmp_path):
    volume, seg, affine = _pair(lits_root, 4, ext=".nii.gz", lps=True, seed=4)
    ds = LitsDataset(data_dir=lits_root)
    case = ds.load_case(ds.list_cases()[4], ds.tasks()["liver"])
    np.testing.assert_allclose(case.affine, affine)
    # RAS+: the stored x and y axes come back reversed, as (Z, Y, X)
    expected = np.transpose(volume[::-1, ::-1, :], (2, 1, 0))
    np.testing.assert_array_equal(case.image, expected.astype(np.float32))
    out = save_like(case.label, case.affine, case.meta["ornt"], tmp_path / "back.nii.gz")
    back = nib.load(str(out))
    np.testing.assert_array_equal(np.asarray(back.dataobj), (seg > 0).astype(np.uint8))
    np.testing.assert_allclose(back.affine, affine)


def test_shape_mismatch_names_both_files(lits_root):
    seg = lits_root / "Training Batch 1" / "segmentation-1.nii"
    _write(seg, np.zeros((12, 10, 4), np.uint8), np.diag([*SPACING_XYZ, 1.0]))
    ds = LitsDataset(data_dir=lits_root)
    with pytest.raises(DataError) as err:
        ds.load_case(ds.list_cases()[1], ds.tasks()["tumor"])
    assert "segmentation-1.nii" in str(err.value) and "volume-1.nii" in str(err.value)


def test_affine_mismatch_names_both_files(lits_root):
    seg = lits_root / "Training Batch 1" / "segmentation-0.nii"
    _write(seg, np.zeros(SHAPE_XYZ, np.uint8), np.diag([0.8, 0.8, 5.0, 1.0]))
    ds = LitsDataset(data_dir=lits_root)
    with pytest.raises(DataError, match="affine") as err:
        ds.load_case(ds.list_cases()[0], ds.tasks()["tumor"])
    assert "segmentation-0.nii" in str(err.value) and "volume-0.nii" in str(err.value)


def test_corrupt_volume_is_named(lits_root):
    bad = lits_root / "Training Batch 2" / "volume-2.nii.gz"
    bad.write_bytes(b"\x1f\x8b this is not a NIfTI")
    ds = LitsDataset(data_dir=lits_root)
    with pytest.raises(DataError, match="volume-2.nii.gz"):
        ds.load_case(ds.list_cases()[2], ds.tasks()["tumor"])


def test_missing_segmentation_is_named(lits_root):
    (lits_root / "Training Batch 1" / "segmentation-1.nii").unlink()
    with pytest.raises(DataError, match="volume-1.nii"):
        LitsDataset(data_dir=lits_root).list_cases()


def test_unknown_label_value(lits_root):
    seg = np.zeros(SHAPE_XYZ, np.uint8)
    seg[0, 0, 0] = 7
    _write(lits_root / "Training Batch 1" / "segmentation-0.nii", seg, np.diag([*SPACING_XYZ, 1]))
    ds = LitsDataset(data_dir=lits_root)
    with pytest.raises(DataError, match=r"unknown label value\(s\) \[7\]"):
        ds.load_case(ds.list_cases()[0], ds.tasks()["tumor"])


def test_no_data_dir_or_empty_folder(tmp_path):
    with pytest.raises(DataError, match="--data-dir"):
        LitsDataset().list_cases()
    with pytest.raises(DataError, match="no volume-N"):
        LitsDataset(data_dir=tmp_path).list_cases()


def test_organs_target_needs_organ_maps(lits_root):
    ds = LitsDataset(data_dir=lits_root)
    organs = SyntheticDataset().tasks()["organs"]
    with pytest.raises(ParameterError, match="organs-0.nii"):
        ds.load_case(ds.list_cases()[0], organs)


def test_patient_split_integrity(lits_root):
    cases = LitsDataset(data_dir=lits_root).list_cases()
    splits = split_cases(cases, seed=0)
    patients = [{c.patient for c in part} for part in splits.values()]
    assert set().union(*patients) == {c.patient for c in cases}
    assert sum(len(p) for p in patients) == len(cases)  # no patient in two splits
    assert all(splits.values())


def test_never_writes_into_the_data_folder(lits_root):
    before = _snapshot(lits_root)
    ds = LitsDataset(data_dir=lits_root)
    for info in ds.list_cases():
        ds.load_case(info, ds.tasks()["liver"])
    ds.fingerprint()
    assert _snapshot(lits_root) == before


def test_fingerprint_follows_the_files(lits_root):
    first = LitsDataset(data_dir=lits_root).fingerprint()
    assert LitsDataset(data_dir=lits_root).fingerprint() == first
    _pair(lits_root, 5)
    assert LitsDataset(data_dir=lits_root).fingerprint() != first


def test_phantom_written_as_lits_reads_back(tmp_path):
    params = {"n_patients": 2, "size": 40, "n_slices": 6}
    paths = write_lits_layout(tmp_path / "synth", **params)
    assert sorted(p.name for p in paths) == sorted(
        f"{stem}-{i}.nii" for stem in ("volume", "segmentation", "organs") for i in range(2)
    )
    phantom = SyntheticDataset(**params)
    ds = LitsDataset(data_dir=tmp_path / "synth")
    assert set(ds.tasks()) == {"tumor", "liver", "organs", "all"}
    for info, ref_info in zip(ds.list_cases(), phantom.list_cases()):
        for target in ("tumor", "liver", "organs", "all"):
            got = ds.load_case(info, ds.tasks()[target])
            ref = phantom.load_case(ref_info, phantom.tasks()[target])
            np.testing.assert_array_equal(got.label, ref.label)
            np.testing.assert_array_equal(got.organ, ref.organ)
            assert got.spacing == pytest.approx(ref.spacing, abs=1e-4)
            assert np.abs(got.image - ref.image).max() <= 0.5  # int16 HU on disk


def test_all_target_is_liver_and_tumour_as_two_classes(lits_root):
    """LiTS, the phantom and 3D-IRCADb offer ``all`` (MSD derives it from its labels):
    label 1 (liver without tumour) -> class 1, label 2 (tumour) -> class 2, as LiTS labels
    its segmentations."""
    from wsbench.data.ircadb import IrcadbDataset

    ds = LitsDataset(data_dir=lits_root)
    task = ds.tasks()["all"]
    assert task.classes == ("liver", "tumor")
    raw = np.array([0, 1, 2, 3])
    np.testing.assert_array_equal(task.encode(raw), [0, 1, 2, 0])
    for cls in (SyntheticDataset, IrcadbDataset):
        assert cls().tasks()["all"].classes == ("liver", "tumor")
    case = ds.load_case(ds.list_cases()[0], task)
    liver = ds.load_case(ds.list_cases()[0], ds.tasks()["liver"])
    tumour = ds.load_case(ds.list_cases()[0], ds.tasks()["tumor"])
    np.testing.assert_array_equal(case.label == 2, tumour.label == 1)
    np.testing.assert_array_equal(case.label > 0, liver.label == 1)
