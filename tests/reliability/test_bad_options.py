"""Bad options, values and output folders: one line, exit 2, and nothing created or lost."""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import assert_one_line, toy_run, write_nifti


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--labeler", ","], ["--labeler ',' names nothing", "leave --labeler out"]),
        (["--segmenter", " , "], ["--segmenter ' , ' names nothing"]),
        (["--dataset", ","], ["--dataset ',' names nothing"]),
        (["--seeds", ","], ["--seeds ',' names nothing"]),
        (["--seeds", "1,two"], ["--seeds '1,two'", "give integers"]),
        (["--seeds", str(2**63)], [f"--seeds {2**63}", "SQLite's integer", "smaller"]),
        (["--seeds", "-1"], ["--seeds -1", "0..9223372036854775807"]),
        (["--target", "spleen"], ["--target 'spleen' is not a target of dataset 'toy'"]),
        (["--set", "train.epochs=many"], ["train.epochs='many' is not a valid int"]),
        (["--set", "toy-threshold.explode=maybe"], ["is not a valid bool"]),
        (["--set", "toy-threshold.nope=1"], ["toy-threshold has no parameter 'nope'"]),
        (["--set", "nobody.x=1"], ["nobody"]),
        (["--set", "justakey"], ["must look like KEY=VALUE"]),
        (["--sweep", "weak.alpha"], ["must look like KEY=VALUE"]),
        (["--sweep", "weak.alpha=,"], ["lists no values"]),
        (["--device", "gpu"], ["gpu"]),
        (["--device", "cuda:7"], ["cuda"]),
        (["--profile", "fast"], ["'fast' is not one of 'quick', 'paper'", "--help"]),
        (["--bogus"], ["No such option '--bogus'", "--help"]),
        (["--labeler", "[bold]x[/]"], ["unknown labeler '[bold]x[/]'"]),  # no markup injection
        (["--seeds"], ["'--seeds' requires an argument"]),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) and v and v[0].startswith("--") else None,
)
def test_bad_run_option_is_one_line_and_creates_nothing(cli, tmp_path, args, fragments):
    out = tmp_path / "o"
    res = cli(*toy_run(out), *args)
    assert_one_line(res, 2, *fragments)
    assert not out.exists()


def test_data_dir_for_a_dataset_that_reads_none_is_refused(cli, tmp_path):
    out = tmp_path / "o"
    res = cli(*toy_run(out), "--data-dir", tmp_path)
    assert_one_line(res, 2, f"--data-dir {tmp_path}", "reads no folder", "drop --data-dir")
    assert not out.exists()


def test_dataset_without_its_data_dir_is_caught_at_planning(cli, tmp_path):
    out = tmp_path / "o"
    res = cli("run", "--dataset", "lits", "--labeler", "box-fill", "--out", out)
    assert_one_line(res, 2, "dataset lits needs --data-dir", "add --data-dir DIR")
    assert not out.exists()  # caught before the output folder is made


def test_missing_data_dir_folder(cli, tmp_path):
    res = cli("run", "--dataset", "lits", "--data-dir", tmp_path / "nope", "--out", tmp_path / "o")
    assert_one_line(res, 2, "no such folder", "point it at the dataset root")


def test_data_dir_without_dataset(cli, tmp_path):
    res = cli("run", "--data-dir", tmp_path, "--out", tmp_path / "o")
    assert_one_line(res, 2, "--data-dir needs --dataset", "valid datasets are")


def test_out_that_is_a_file(cli, tmp_path):
    out = tmp_path / "taken"
    out.write_text("keep me")
    assert_one_line(cli(*toy_run(out)), 2, f"--out {out}", "is a file", "give a folder")
    assert out.read_text() == "keep me"


def _unwritable(tmp_path):
    """A folder this process cannot write in (root ignores permissions: /proc then)."""
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    if os.access(ro, os.W_OK):
        return "/proc/wsbench-out"
    return ro / "out"


def test_out_that_cannot_be_written(cli, tmp_path):
    out = _unwritable(tmp_path)
    assert_one_line(cli(*toy_run(out)), 2, f"--out {out}", "cannot write there", "writable")


def test_synth_never_overwrites_without_force(cli, tmp_path):
    out = tmp_path / "phantom"
    args = ("data", "synth", out, "--set", "synthetic.n_patients=2", "--set", "synthetic.size=16")
    args += ("--set", "synthetic.n_slices=2")
    assert cli(*args).exit_code == 0
    mine = out / "volume-1.nii"
    mine.write_bytes(b"my own scan")
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    res = cli(*args)
    assert_one_line(res, 2, str(out / "volume-0.nii"), "already exists", "--force")
    assert mine.read_bytes() == b"my own scan"
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    assert cli(*args, "--force").exit_code == 0
    assert mine.read_bytes() != b"my own scan"


def test_synth_into_a_file(cli, tmp_path):
    out = tmp_path / "file"
    out.write_text("x")
    res = cli("data", "synth", out, "--set", "synthetic.n_patients=1")
    assert_one_line(res, 2, str(out), "is a file")


def test_synth_unknown_parameter(cli, tmp_path):
    res = cli("data", "synth", tmp_path / "p", "--set", "synthetic.patients=3")
    assert_one_line(res, 2, "synthetic has no parameter 'patients'")
    assert not (tmp_path / "p").exists()


def test_ground_truth_empty_everywhere_says_why(cli, tmp_path):
    root = tmp_path / "empty"
    for i in range(4):
        write_nifti(root / "images" / f"c{i}.nii.gz", np.full((3, 16, 16), 50.0, np.float32))
        write_nifti(root / "masks" / f"c{i}.nii.gz", np.zeros((3, 16, 16), np.uint8))
    res = cli(
        "run",
        "--dataset",
        "folder",
        "--data-dir",
        root,
        "--labeler",
        "box-fill",
        "--segmenter",
        "unet",
        "--device",
        "cpu",
        "--set",
        "train.epochs=1",
        "--out",
        tmp_path / "o",
    )
    assert res.exit_code == 1, res.output
    assert "ground truth holds no foreground voxel" in res.stderr, res.stderr
    assert "Traceback" not in res.output


def test_leaderboard_without_results(cli, tmp_path):
    res = cli("leaderboard", "--results", tmp_path / "none", "--to", tmp_path / "t")
    assert_one_line(res, 2, f"--results {tmp_path / 'none'}", "run `wsbench run --out DIR`")
