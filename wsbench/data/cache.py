"""A preprocessed slice cache, so that epochs do not re-read NIfTI or DICOM.

``SliceCache(root).get(dataset, info, task)`` loads a case once, writes its image,
label and organ arrays as ``.npy`` files, and from then on returns a ``Case`` whose
arrays are read-only memory maps: reading one slice touches only that slice's bytes.

Layout::

    <root>/slices/<dataset>-<config and data-dir hash>/<fingerprint>/<case>-<task hash>/
        image.npy  label.npy  organ.npy  case.pkl

The fingerprint is the dataset's ``fingerprint()`` (file names, sizes, mtimes), taken
once per dataset object: when the files change, a new dataset object gets a new
fingerprint, the case is rebuilt, and the entries of older fingerprints are removed.
The root is ``root``, else ``$WSBENCH_CACHE``, else ``~/.cache/wsbench``.
"""

from __future__ import annotations

import os
import pickle
import re
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from wsbench.api import Case, CaseInfo, Dataset, Task
from wsbench.params import stable_hash

CACHE_ENV = "WSBENCH_CACHE"
ARRAYS = ("image", "label", "organ")


def cache_root(root: str | Path | None = None) -> Path:
    """``root``, else ``$WSBENCH_CACHE``, else ``~/.cache/wsbench``."""
    if root:
        return Path(root).expanduser()
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "wsbench"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:80]


class SliceCache:
    """Memory-mapped cases keyed by dataset fingerprint, case id and task."""

    def __init__(self, root: str | Path | None = None):
        self.root = cache_root(root) / "slices"
        self._fingerprints: dict[int, tuple[Dataset, str]] = {}

    def dataset_dir(self, dataset: Dataset) -> Path:
        """The folder of one dataset configuration (name, params, data dir)."""
        key = stable_hash([dataset.config, str(dataset.data_dir)])
        return self.root / f"{_safe(dataset.name)}-{key}"

    def fingerprint(self, dataset: Dataset) -> str:
        held = self._fingerprints.get(id(dataset))
        if held is None or held[0] is not dataset:
            held = (dataset, dataset.fingerprint())
            self._fingerprints[id(dataset)] = held
            self._prune(dataset, held[1])
        return held[1]

    def entry_dir(self, dataset: Dataset, info: CaseInfo, task: Task) -> Path:
        task_key = stable_hash([task.target, task.classes, task.values], length=8)
        return (
            self.dataset_dir(dataset) / self.fingerprint(dataset) / f"{_safe(info.id)}-{task_key}"
        )

    def get(self, dataset: Dataset, info: CaseInfo, task: Task) -> Case:
        """The case with memory-mapped arrays; loads and stores it on the first call."""
        entry = self.entry_dir(dataset, info, task)
        if not (entry / "case.pkl").exists():
            self._store(entry, dataset.load_case(info, task))
        return self._open(entry)

    def _store(self, entry: Path, case: Case) -> None:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=entry.parent))
        try:
            for name in ARRAYS:
                array = getattr(case, name)
                if array is not None:
                    np.save(tmp / f"{name}.npy", np.ascontiguousarray(array))
            rest = replace(case, image=np.zeros((0, 0, 0), np.float32), label=None, organ=None)
            with open(tmp / "case.pkl", "wb") as f:
                pickle.dump(rest, f, protocol=pickle.HIGHEST_PROTOCOL)
            try:
                os.replace(tmp, entry)
            except OSError:  # another process stored it first
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _open(self, entry: Path) -> Case:
        with open(entry / "case.pkl", "rb") as f:
            case: Case = pickle.load(f)
        arrays = {}
        for name in ARRAYS:
            path = entry / f"{name}.npy"
            arrays[name] = np.load(path, mmap_mode="r") if path.exists() else None
        return replace(case, **arrays)

    def _prune(self, dataset: Dataset, keep: str) -> None:
        """Remove entries of this dataset made from older versions of its files."""
        folder = self.dataset_dir(dataset)
        if folder.is_dir():
            for old in folder.iterdir():
                if old.is_dir() and old.name != keep:
                    shutil.rmtree(old, ignore_errors=True)
