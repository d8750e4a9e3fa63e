"""check_dataset: the engine of `wsbench data check`, used as the CLI will use it."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

import wsbench.data.builtin
from wsbench.data.check import check_dataset, folder_digest, iter_check
from wsbench.plugins import load_registry


def write_folder(root, n=6):
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(n):
        image = np.full((8, 9), i * 10, np.uint8)
        Image.fromarray(image).save(root / "images" / f"p{i // 2}_{i}.png")
        m = np.zeros((8, 9), np.uint8)
        m[: i + 1, :2] = 1
        Image.fromarray(m).save(root / "masks" / f"p{i // 2}_{i}.png")
    return root


def dataset(root, **params):
    registry = load_registry(extra=[wsbench.data.builtin], entrypoints=False)
    return registry.get("dataset", "folder")(data_dir=root, patient_regex=r"^(p\d)_", **params)


def test_records_are_json_lines_with_patient_level_splits(tmp_path):
    root = write_folder(tmp_path / "d")
    before = folder_digest(root)
    records, errors = check_dataset(dataset(root), "foreground")
    assert errors == [] and len(records) == 6
    lines = [json.dumps(r) for r in records]  # what --json prints
    first = json.loads(lines[0])
    assert first == {
        "id": "p0_0",
        "patient": "p0",
        "split": first["split"],
        "shape": [1, 8, 9],
        "spacing": [1.0, 1.0, 1.0],
        "voxels": {"0 background": 70, "1 foreground": 2},
    }
    assert [r["voxels"]["1 foreground"] for r in records] == [2, 4, 6, 8, 10, 12]
    split_of_patient: dict[str, set] = {}
    for r in records:
        split_of_patient.setdefault(r["patient"], set()).add(r["split"])
    assert all(len(s) == 1 for s in split_of_patient.values())
    assert {s for v in split_of_patient.values() for s in v} == {"train", "val", "test"}
    assert folder_digest(root) == before


def test_errors_are_streamed_in_case_order(tmp_path):
    root = write_folder(tmp_path / "d")
    (root / "masks" / "p1_2.png").unlink()
    kinds = [kind for kind, _ in iter_check(dataset(root))]
    assert kinds == ["case", "case", "error", "case", "case", "case"]
    records, errors = check_dataset(dataset(root))
    assert len(records) == 5 and len(errors) == 1
    assert errors[0].startswith(str(root / "images" / "p1_2.png")) and "missing mask" in errors[0]


def test_unknown_target_and_missing_folder_are_single_lines(tmp_path):
    root = write_folder(tmp_path / "d")
    records, errors = check_dataset(dataset(root), "spleen")
    assert records == [] and len(errors) == 1 and "valid targets are: foreground, all" in errors[0]
    records, errors = check_dataset(dataset(tmp_path / "nowhere"))
    assert records == [] and len(errors) == 1 and "not a folder" in errors[0]
