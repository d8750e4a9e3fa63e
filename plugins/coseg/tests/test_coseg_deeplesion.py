"""The issue's command on DeepLesion-format test files: 16-bit PNG slices, DL_info.csv
with RECIST marks (``--weak native``) and a folder of evaluation masks."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from PIL import Image

from wsbench.cli import main
from wsbench.data.check import folder_digest
from wsbench.data.deeplesion import DeepLesionDataset

ROOT = Path(__file__).resolve().parents[3]


def _writer():
    spec = importlib.util.spec_from_file_location(
        "dl_writer", ROOT / "tests" / "test_deeplesion.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_deeplesion


def _masks(data: Path, out: Path) -> Path:
    """The RECIST box of each key slice as its evaluation mask."""
    out.mkdir()
    ds = DeepLesionDataset(data_dir=data)
    for info in ds.list_cases():
        case = ds.load_case(info, ds.tasks()["lesion"])
        mask = np.zeros(case.image.shape[1:], np.uint8)
        for box in case.native_weak["box"].boxes:
            mask[box.y0 : box.y1, box.x0 : box.x1] = 255
        Image.fromarray(mask).save(out / f"{info.id}.png")
    return out


def test_grabcut_oracle_coseg_fcn32_run_on_deeplesion_files(tmp_path):
    """The issue's command, scored per lesion."""
    data = _writer()(tmp_path / "DeepLesion")
    masks = _masks(data, tmp_path / "masks")
    before = folder_digest(data)
    tiny = "crop_size=32 output_stride=16 width=8 steps_per_epoch=2 epochs=1 batch_size=2".split()
    sets = [f"{seg}.{kv}" for seg in ("coseg", "fcn32") for kv in tiny]
    args = ["run", "--dataset", "deeplesion", "--data-dir", str(data), "--weak", "native"]
    args += ["--labeler", "grabcut,oracle", "--segmenter", "coseg,fcn32", "--device", "cpu"]
    args += ["--out", str(tmp_path / "out"), "--set", f"deeplesion.mask_dir={masks}"]
    args += ["--set", "deeplesion.evaluate=lesions"]  # each lesion on its own, as 001 scores
    for kv in sets:
        args += ["--set", kv]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    summaries = sorted((tmp_path / "out").rglob("summary.json"))
    cells = {p.parent.name.split("__")[0] + "/" + p.parent.name.split("__")[1] for p in summaries}
    assert cells == {"grabcut/coseg", "grabcut/fcn32", "oracle/coseg", "oracle/fcn32"}
    for path in summaries:
        summary = json.loads(path.read_text())
        assert summary["metric_per_case"], path  # the test key slice was scored
        assert summary["provenance"]["evaluation"] == "lesions", path
        assert all(r["case"].count(":") == 2 for r in summary["metric_per_case"]), path
        assert summary["provenance"]["guided"], path  # predicted from the RECIST hint
    assert folder_digest(data) == before
