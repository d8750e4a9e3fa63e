"""Shared pieces of the reliability campaign: the CLI in-process, the one-line check, a toy
plugin package, and small NIfTI datasets to break.

Every case asserts three things: the exit code (2 usage or configuration, 1 data or cell
failure), exactly one message line, and what the line names (the file or value, the cause,
the fix). A traceback anywhere fails the case.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from click.testing import CliRunner

from wsbench.cli import main
from wsbench.testing import toy_plugins
from wsbench.testing.distributions import fake_distribution

TOY_SOURCE = Path(toy_plugins.__file__).read_text()


def message_lines(result) -> list[str]:
    return [ln for ln in result.stderr.splitlines() if ln.strip()]


def assert_one_line(result, code: int, *fragments: str) -> str:
    """The command exited ``code`` with one stderr line holding every fragment."""
    assert "Traceback" not in result.output, result.output
    assert result.exit_code == code, (result.exit_code, result.output)
    lines = message_lines(result)
    assert len(lines) == 1, lines
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """``cli(*args, env={...})`` runs ``wsbench`` in-process with the toy plugins installed."""
    site = fake_distribution(tmp_path / "site", "wsbench-toy", {"toy_rel_plugins": TOY_SOURCE})
    monkeypatch.syspath_prepend(str(site))
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None):
        return runner.invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)

    return invoke


def toy_run(out: Path, *extra: str) -> list[str]:
    """``wsbench run`` arguments for the toy grid (one cell per seed, under a second)."""
    return [
        "run",
        "--dataset",
        "toy",
        "--labeler",
        "toy-oracle",
        "--segmenter",
        "toy-threshold",
        "--device",
        "cpu",
        "--out",
        str(out),
        *extra,
    ]


def write_nifti(path: Path, array_zyx: np.ndarray, spacing=(2.0, 1.0, 1.0), affine=None) -> Path:
    """A (Z, Y, X) array as a NIfTI in RAS+ with ``spacing`` (z, y, x) mm."""
    if affine is None:
        affine = np.diag([spacing[2], spacing[1], spacing[0], 1.0])
    data = np.ascontiguousarray(np.transpose(array_zyx, (2, 1, 0)))
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data, affine), str(path))
    return path


@pytest.fixture
def nifti_folder(tmp_path) -> Path:
    """A ``folder`` dataset of three 4x16x16 NIfTI image/mask pairs, each with a square."""
    root = tmp_path / "folder"
    for i in range(3):
        image = np.full((4, 16, 16), 10.0, np.float32)
        mask = np.zeros((4, 16, 16), np.uint8)
        mask[1:3, 4:10, 5:11] = 1
        image[mask > 0] = 200.0
        write_nifti(root / "images" / f"case{i}.nii.gz", image)
        write_nifti(root / "masks" / f"case{i}.nii.gz", mask)
    return root


def check_folder(cli, root: Path):
    return cli("data", "check", "--dataset", "folder", "--data-dir", root)
