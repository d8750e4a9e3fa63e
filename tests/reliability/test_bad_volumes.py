"""Bad volumes and masks: each is refused with one line naming the file, the cause and the
fix, before anything is allocated or computed from it; the other files still check."""

from __future__ import annotations

import gzip
import io
import tracemalloc

import nibabel as nib
import numpy as np
import pytest
from conftest import assert_one_line, check_folder, write_nifti

from wsbench.data.nifti import load_nifti
from wsbench.errors import DataError


def _image(root, i=0):
    return root / "images" / f"case{i}.nii.gz"


def _mask(root, i=0):
    return root / "masks" / f"case{i}.nii.gz"


def _header_only(path, shape, payload: bytes, gz: bool):
    header = nib.Nifti1Header()
    header.set_data_dtype(np.float32)
    header.set_data_shape(shape)
    header.set_zooms((1.0,) * len(shape))
    blob = header.binaryblock + b"\0" * 4 + payload
    path.write_bytes(gzip.compress(blob) if gz else blob)


def _sform_only(path, affine, array_zyx):
    """A NIfTI whose sform is ``affine`` (nibabel refuses to build such an image itself)."""
    image = nib.Nifti1Image(np.transpose(array_zyx, (2, 1, 0)).copy(), np.eye(4))
    header = image.header
    header.set_qform(None, code=0)
    header["sform_code"] = 1
    header["srow_x"], header["srow_y"], header["srow_z"] = affine[:3]
    blob = header.binaryblock + b"\0" * 4 + image.get_fdata(dtype=np.float32).tobytes("F")
    path.write_bytes(gzip.compress(blob))


def _break(kind: str, root):
    """Damage case0 of ``root`` in one way; return the path that must be named."""
    image, mask = _image(root), _mask(root)
    good = np.full((4, 16, 16), 10.0, np.float32)
    if kind == "corrupt":
        image.write_bytes(b"this is not a NIfTI file" * 40)
    elif kind == "truncated":
        raw = gzip.decompress(image.read_bytes())
        image.write_bytes(gzip.compress(raw[: len(raw) // 2]))
    elif kind == "truncated-uncompressed":
        image.unlink()
        image = write_nifti(root / "images" / "case0.nii", good)
        image.write_bytes(image.read_bytes()[:700])
    elif kind == "zero-byte image":
        image.write_bytes(b"")
    elif kind == "zero-byte mask":
        mask.write_bytes(b"")
        return mask
    elif kind == "singular affine":
        _sform_only(image, np.diag([1.0, 1.0, 0.0, 1.0]), good)
    elif kind == "non-finite affine":
        _sform_only(image, np.diag([1.0, np.nan, 2.0, 1.0]), good)
    elif kind == "huge header gz":
        _header_only(image, (4000, 4000, 4000), b"\0" * 16000, gz=True)
    elif kind == "huge header":
        image.unlink()
        image = root / "images" / "case0.nii"
        _header_only(image, (4000, 4000, 4000), b"\0" * 16000, gz=False)
    elif kind == "NaN spacing":
        img = nib.load(str(image))
        img.header["pixdim"][1] = np.nan
        nib.save(nib.Nifti1Image(np.asarray(img.dataobj), img.affine, img.header), str(image))
    elif kind == "zero spacing":  # written raw: nibabel would recompute pixdim from the affine
        raw = gzip.decompress(image.read_bytes())
        header = nib.Nifti1Header.from_fileobj(io.BytesIO(raw))
        header["pixdim"][3] = 0.0
        image.write_bytes(gzip.compress(header.binaryblock + raw[348:]))
    elif kind == "4D":
        nib.save(nib.Nifti1Image(np.zeros((16, 16, 4, 3), np.float32), np.eye(4)), str(image))
    elif kind == "shape mismatch":
        write_nifti(mask, np.zeros((4, 16, 12), np.uint8))
        return mask
    elif kind == "affine mismatch":
        affine = np.diag([1.0, 1.0, 2.0, 1.0])
        affine[:3, 3] = 30.0
        write_nifti(mask, np.zeros((4, 16, 16), np.uint8), affine=affine)
        return mask
    elif kind == "unknown label":
        bad = np.zeros((4, 16, 16), np.uint8)
        bad[2, 3, 3] = 7
        write_nifti(mask, bad)
        return mask
    elif kind == "fractional label":
        write_nifti(mask, np.full((4, 16, 16), 0.5, np.float32))
        return mask
    elif kind == "negative label":
        write_nifti(mask, np.full((4, 16, 16), -1, np.int16))
        return mask
    elif kind == "NaN voxels":
        bad = good.copy()
        bad[1, 2, 3] = np.nan
        write_nifti(image, bad)
    elif kind == "image without mask":
        mask.unlink()
    return image


CASES = {
    "corrupt": "unreadable or truncated NIfTI",
    "truncated": "truncated",
    "truncated-uncompressed": "truncated",
    "zero-byte image": "unreadable or truncated NIfTI",
    "zero-byte mask": "unreadable or truncated NIfTI",
    "singular affine": "affine (sform/qform) is singular",
    "non-finite affine": "affine (sform/qform) is not finite",
    "huge header gz": "header announces 4000x4000x4000 voxels",
    "huge header": "header announces 4000x4000x4000 voxels",
    "NaN spacing": "voxel spacing (nan",
    "zero spacing": "is NaN or not positive",
    "4D": "expected a 3D volume, found shape (16, 16, 4, 3)",
    "shape mismatch": "does not match",
    "affine mismatch": "affine differs from",
    "unknown label": "unknown label value(s) [7]",
    "fractional label": "not small non-negative integers",
    "negative label": "not small non-negative integers",
    "NaN voxels": "1 of 1024 image voxels are not finite",
    "image without mask": "missing mask",
}
FIXES = ("re-export", "re-download", "fix", "resample", "give", "add it", "remove")


@pytest.mark.parametrize("kind", list(CASES))
def test_bad_file_is_named_with_cause_and_fix(cli, nifti_folder, kind):
    culprit = _break(kind, nifti_folder)
    res = check_folder(cli, nifti_folder)
    line = assert_one_line(res, 1, str(culprit), CASES[kind])
    assert any(fix in line for fix in FIXES), line
    assert res.stdout.count("case") >= 2  # the two good cases are still listed


@pytest.mark.parametrize("gz", [True, False], ids=["nii.gz", "nii"])
def test_huge_header_is_refused_before_any_allocation(tmp_path, gz):
    path = tmp_path / ("huge.nii.gz" if gz else "huge.nii")
    _header_only(path, (4000, 4000, 4000), b"\0" * 16000, gz=gz)
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="header announces"):
            load_nifti(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20  # not the 256 GB the header asks for


def test_a_2d_nifti_is_one_slice(tmp_path):
    path = tmp_path / "slice.nii"
    nib.save(nib.Nifti1Image(np.arange(48, dtype=np.float32).reshape(6, 8), np.eye(4)), path)
    image, spacing, _, _ = load_nifti(path)
    assert image.shape == (1, 8, 6) and spacing == (1.0, 1.0, 1.0)


def test_a_2d_nifti_pair_checks(cli, tmp_path):
    root = tmp_path / "flat"
    for folder, value in (("images", 100.0), ("masks", 1)):
        (root / folder).mkdir(parents=True)
        data = np.zeros((12, 10), np.float32)
        data[3:7, 2:6] = value
        nib.save(nib.Nifti1Image(data, np.eye(4)), root / folder / "a.nii")
    res = check_folder(cli, root)
    assert res.exit_code == 0 and not res.stderr.strip(), res.output


def test_mask_without_its_image_is_an_error_not_a_dropped_case(cli, nifti_folder):
    orphan = nifti_folder / "masks" / "case9.nii.gz"
    write_nifti(orphan, np.zeros((4, 16, 16), np.uint8))
    assert_one_line(
        check_folder(cli, nifti_folder), 1, str(orphan), "no image images/case9.*", "remove"
    )


@pytest.fixture
def lits(tmp_path):
    from wsbench.data.phantom import write_lits_layout

    root = tmp_path / "lits"
    write_lits_layout(root, n_patients=3, size=24, n_slices=6)
    return root


def _check_lits(cli, root):
    return cli("data", "check", "--dataset", "lits", "--data-dir", root)


def test_lits_segmentation_without_volume_is_named(cli, lits):
    (lits / "volume-1.nii").unlink()
    res = _check_lits(cli, lits)
    assert_one_line(res, 1, str(lits / "organs-1.nii"), "no volume-1.nii[.gz]", "add the volume")


def test_lits_volume_without_segmentation_is_named(cli, lits):
    (lits / "segmentation-2.nii").unlink()
    res = _check_lits(cli, lits)
    assert_one_line(res, 1, str(lits / "volume-2.nii"), "no segmentation-2.nii", "add the")


def test_lits_duplicate_volume_is_named(cli, lits):
    (lits / "sub").mkdir()
    (lits / "sub" / "volume-0.nii").write_bytes((lits / "volume-0.nii").read_bytes())
    res = _check_lits(cli, lits)
    assert_one_line(res, 1, "volume-0.nii", "duplicate of", "keep one of them")


@pytest.mark.parametrize("what", ["missing", "a file"])
def test_data_dir_that_is_not_a_folder(cli, tmp_path, what):
    path = tmp_path / "nowhere"
    if what == "a file":
        path.write_text("x")
    res = cli("data", "check", "--dataset", "lits", "--data-dir", path)
    assert_one_line(res, 2, f"--data-dir {path}", "no such folder", "point it at")
