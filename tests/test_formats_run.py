"""Every real dataset format runs through the grid with box-fill and oracle on its test copy.

The copies are the tiny true-format folders the per-format tests write.
"""

import numpy as np
import pytest
from PIL import Image
from test_deeplesion import write_deeplesion
from test_folder import write_pictures
from test_ircadb import write_patient
from test_msd import write_liver
from test_siim import write_siim

from wsbench.data.check import folder_digest
from wsbench.grid import RunSpec
from wsbench.plugins import load_registry
from wsbench.runner import run_grid


def _deeplesion(root):
    from wsbench.data.deeplesion import DeepLesionDataset

    data = write_deeplesion(root / "DeepLesion")
    masks = root / "masks"
    masks.mkdir()
    for info in DeepLesionDataset(data_dir=data).list_cases():
        case = DeepLesionDataset(data_dir=data).load_case(
            info, DeepLesionDataset(data_dir=data).tasks()["lesion"]
        )
        box = case.native_weak["box"].boxes[0]
        mask = np.zeros(case.image.shape[1:], np.uint8)
        mask[box.y0 : box.y1, box.x0 : box.x1] = 255
        Image.fromarray(mask).save(masks / f"{info.id}.png")
    return data, {"deeplesion.mask_dir": str(masks)}


def _ircadb(root):
    for n in (1, 2, 3):
        write_patient(root / "ircadb", n)
    return root / "ircadb", {}


FORMATS = {
    "msd": lambda root: (write_liver(root / "Task03_Liver", n=5), {}),
    "ircadb": _ircadb,
    "deeplesion": _deeplesion,
    "siim": lambda root: (write_siim(root / "siim"), {}),
    "folder": lambda root: (
        write_pictures(root / "mine"),
        {"folder.classes": "liver,tumour", "folder.patient_regex": r"^(p\d+)_"},
    ),
}


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_box_fill_and_oracle_run_on_the_test_copy(name, tmp_path):
    data, sets = FORMATS[name](tmp_path)
    before = folder_digest(data)
    spec = RunSpec(
        datasets=(name,),
        labelers=("box-fill", "oracle"),
        segmenters=("unet",),
        data_dir=data,
        device="cpu",
        out=tmp_path / "out",
        sets={**sets, "train.epochs": "1", "unet.width": "4"},
    )
    records = run_grid(spec, load_registry())
    assert [r["status"] for r in records] == ["done", "done"], [r["error"] for r in records]
    assert all(r["per_case"] for r in records)  # test cases were scored
    assert folder_digest(data) == before  # the user's folder is never written
