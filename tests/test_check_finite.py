"""NaN or infinite voxels are a data error, in `wsbench data check` and in `wsbench run`.

Both paths go through ``wsbench.data.check.check_finite``; the error names the file and the
count, `data check` exits 1, and `run` stores a failed cell instead of a finished one with
Dice 0.000.
"""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from click.testing import CliRunner
from test_msd import write_liver

from wsbench.api import Case
from wsbench.cli import main
from wsbench.data.check import check_finite
from wsbench.data.msd import MsdDataset
from wsbench.data.splits import split_dataset
from wsbench.errors import DataError
from wsbench.grid import RunSpec
from wsbench.plugins import load_registry
from wsbench.runner import run_grid


def spoil(path, values):
    """Write ``values`` into the first voxels of the NIfTI image at ``path``."""
    img = nib.load(str(path))
    data = np.asarray(img.dataobj, dtype=np.float32).copy()
    data.flat[: len(values)] = values
    nib.save(nib.Nifti1Image(data, img.affine), str(path))
    return path


def test_check_finite_names_the_file_and_the_count():
    image = np.zeros((2, 4, 4), np.float32)
    case = Case("c1", "p1", image, None, (1.0, 1.0, 1.0), np.eye(4), ("liver",), source="a.nii")
    assert check_finite(case) is case
    image[0, 0, :3] = [np.nan, np.inf, -np.inf]
    with pytest.raises(DataError, match=r"^a\.nii: 3 of 32 image voxels are not finite "):
        check_finite(case)
    with pytest.raises(DataError, match=r"\(1 NaN, 2 infinite\)"):
        check_finite(case)


def test_data_check_exits_1_naming_file_and_count(tmp_path):
    root = write_liver(tmp_path / "Task03_Liver", n=5)
    bad = spoil(root / "imagesTr" / "liver_3.nii.gz", [np.nan])
    result = CliRunner().invoke(
        main, ["data", "check", "--dataset", "msd", "--data-dir", str(root), "--json"]
    )
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if "not finite" in line]
    assert len(lines) == 1 and str(bad) in lines[0] and "1 of 480 image voxels" in lines[0]
    assert result.output.count('"id"') == 4  # the other cases are still checked


def test_run_fails_the_cell_with_the_message(tmp_path):
    root = write_liver(tmp_path / "Task03_Liver", n=5)
    first_test = split_dataset(MsdDataset(data_dir=root))["test"][0]
    bad = spoil(root / "imagesTr" / f"{first_test.id}.nii.gz", [np.nan])
    spec = RunSpec(
        datasets=("msd",),
        labelers=("box-fill",),
        segmenters=("unet",),
        data_dir=root,
        device="cpu",
        out=tmp_path / "out",
        sets={"train.epochs": "1", "unet.width": "4"},
    )
    (record,) = run_grid(spec, load_registry())
    assert record["status"] == "failed" and not record.get("metrics")
    assert str(bad) in record["error"] and "1 of 480 image voxels are not finite" in record["error"]
