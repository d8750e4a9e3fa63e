"""The memory-mapped slice cache: same cases, loaded once, rebuilt when the files change."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from wsbench.api import Case, CaseInfo, Dataset, Recist, RecistLabel, Task
from wsbench.data.cache import CACHE_ENV, SliceCache, cache_root
from wsbench.data.check import folder_digest
from wsbench.data.folder import FolderDataset


class Counting(Dataset):
    """An in-memory dataset that counts its loads."""

    name = "counting"
    needs_data_dir = False

    def __init__(self, **kw):
        super().__init__(**kw)
        self.loads = 0

    def tasks(self):
        return {"a": Task("a", ("a",), ((1,),)), "b": Task("b", ("b",), ((2,),))}

    def list_cases(self):
        return [CaseInfo("c/1", "p1"), CaseInfo("c 2", "p2")]

    def load_case(self, info, task):
        self.loads += 1
        raw = np.zeros((3, 4, 5), np.uint8)
        raw[1, 1:3, 1:4] = 1
        raw[2, 0, 0] = 2
        weak = RecistLabel(
            slices=np.array([1]), lesions=[Recist(1, ((1, 1), (2, 3)), ((2, 1), (1, 3)))]
        )
        return Case(
            info.id,
            info.patient,
            np.arange(60, dtype=np.float32).reshape(3, 4, 5),
            task.encode(raw),
            (2.0, 0.5, 0.5),
            np.eye(4),
            task.classes,
            organ=raw > 0,
            native_weak={"recist": weak},
            meta={"ornt": np.eye(3)[:, :2]},
        )

    def fingerprint(self):
        return "fixed"


def test_cached_case_equals_the_loaded_one_and_is_memory_mapped(tmp_path):
    ds = Counting()
    cache = SliceCache(tmp_path)
    info, task = ds.list_cases()[0], ds.tasks()["a"]
    fresh = ds.load_case(info, task)
    first = cache.get(ds, info, task)
    again = cache.get(ds, info, task)
    assert ds.loads == 2  # one direct load, one to fill the cache, none for `again`
    for case in (first, again):
        assert isinstance(case.image, np.memmap) and isinstance(case.label, np.memmap)
        np.testing.assert_array_equal(case.image, fresh.image)
        np.testing.assert_array_equal(case.label, fresh.label)
        np.testing.assert_array_equal(case.organ, fresh.organ)
        assert case.spacing == fresh.spacing and case.classes == ("a",)
        assert case.native_weak["recist"].lesions == fresh.native_weak["recist"].lesions
        np.testing.assert_array_equal(case.meta["ornt"], fresh.meta["ornt"])
    assert not first.image.flags.writeable
    cache.get(ds, info, ds.tasks()["b"])  # another task is another entry
    assert ds.loads == 3
    assert int(cache.get(ds, info, ds.tasks()["b"]).label.sum()) == 1  # the one raw-2 voxel


def test_root_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "env"))
    assert cache_root() == tmp_path / "env"
    assert cache_root(tmp_path / "given") == tmp_path / "given"
    ds = Counting()
    SliceCache().get(ds, ds.list_cases()[1], ds.tasks()["a"])
    assert list((tmp_path / "env" / "slices").rglob("image.npy"))


def write_pair(root: Path, value: float) -> None:
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(exist_ok=True)
    label = np.zeros((4, 5, 6), np.uint8)
    label[1:3, 1:3, 1:3] = 1
    nib.save(
        nib.Nifti1Image(np.full((4, 5, 6), value, np.float32), np.eye(4)),
        str(root / "images" / "v.nii.gz"),
    )
    nib.save(nib.Nifti1Image(label, np.eye(4)), str(root / "masks" / "v.nii.gz"))


def test_rebuilt_when_the_files_change_and_data_untouched(tmp_path):
    data, root = tmp_path / "data", tmp_path / "cache"
    write_pair(data, 5.0)
    before = folder_digest(data)
    ds = FolderDataset(data_dir=data)
    info, task = ds.list_cases()[0], ds.tasks()["all"]
    assert float(SliceCache(root).get(ds, info, task).image.max()) == 5.0
    assert folder_digest(data) == before
    write_pair(data, 9.0)
    ds = FolderDataset(data_dir=data)
    assert float(SliceCache(root).get(ds, info, task).image.max()) == 9.0
    fingerprints = list(SliceCache(root).dataset_dir(ds).iterdir())
    assert [p.name for p in fingerprints] == [ds.fingerprint()]  # the stale entry is gone
