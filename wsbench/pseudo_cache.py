"""A verified, content-addressed cache of pseudo labels, read memory-mapped.

The key is a hash of the dataset fingerprint, the split, the weak-label protocol and
its seed, the labeler's name, version and parameters (and the segmenter's, for
labelers that train one). Every segmenter of a grid reuses the same entry, and a
second run spends no time labelling.

An entry is a folder ``<root>/<key[:2]>/<key>/`` of ``.npy`` arrays and a
``manifest.json`` that lists each array's SHA-256. It is written in a uniquely named
temporary folder and renamed into place (atomic; two writers of one key never share
a file, and the first rename wins). ``get`` checks every hash: a damaged entry raises
``DamagedCacheEntry`` naming the folder, and ``discard`` deletes it so it is rebuilt.

Weight maps that are all ones are not stored (they read back as a broadcast view
that takes no memory); other weights are stored as float16.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from wsbench.api import PseudoLabel
from wsbench.errors import WsbenchError
from wsbench.params import stable_hash

MANIFEST = "manifest.json"


class DamagedCacheEntry(WsbenchError):
    """A cache entry whose files are missing, truncated or altered."""

    def __init__(self, path: Path, why: str):
        super().__init__(f"damaged pseudo-label cache entry {path}: {why}")
        self.path = path


class PseudoLabelCache:
    def __init__(self, root: Path):
        self.root = Path(root)

    @staticmethod
    def key(parts: dict[str, Any]) -> str:
        return stable_hash(parts, 24)

    def path(self, key: str) -> Path:
        return self.root / key[:2] / key

    def has(self, key: str) -> bool:
        return (self.path(key) / MANIFEST).exists()

    def get(self, key: str, verify: bool = True) -> list[PseudoLabel] | None:
        """The entry's labels with memory-mapped arrays; None when there is no entry.
        Raises ``DamagedCacheEntry`` when a file is missing or its hash differs."""
        entry = self.path(key)
        if not entry.exists():
            return None
        try:
            manifest = json.loads((entry / MANIFEST).read_text())
            files = manifest["files"]
        except (OSError, ValueError, KeyError) as exc:
            raise DamagedCacheEntry(entry, f"unreadable {MANIFEST} ({exc})") from None
        if verify:
            for name, digest in files.items():
                try:
                    actual = _sha256(entry / name)
                except OSError as exc:
                    raise DamagedCacheEntry(entry, f"{name}: {exc.strerror or exc}") from None
                if actual != digest:
                    raise DamagedCacheEntry(entry, f"{name} does not match its hash")
        try:
            out = []
            for i, m in enumerate(manifest["labels"]):
                target = np.load(entry / f"t{i}.npy", mmap_mode="r")
                weight_file = entry / f"w{i}.npy"
                weight = (
                    np.load(weight_file, mmap_mode="r")
                    if weight_file.exists()
                    else np.broadcast_to(np.float32(1.0), target.shape)
                )
                out.append(
                    PseudoLabel(
                        case_id=m["case_id"],
                        target=target,
                        weight=weight,
                        slices=np.load(entry / f"s{i}.npy"),
                        multilabel=m["multilabel"],
                    )
                )
            return out
        except (OSError, ValueError, KeyError) as exc:
            raise DamagedCacheEntry(entry, f"{type(exc).__name__}: {exc}") from None

    def discard(self, key: str) -> None:
        """Delete an entry (a damaged one, so that it is recomputed)."""
        entry = self.path(key)
        trash = entry.with_name(f".trash-{entry.name}-{os.getpid()}")
        try:
            os.replace(entry, trash)  # readers never see a half-deleted entry
        except OSError:
            return
        shutil.rmtree(trash, ignore_errors=True)

    def put(self, key: str, labels: Iterable[PseudoLabel], info: dict[str, Any]) -> Path:
        """Store ``labels`` under ``key``. They may come from a generator: each is written
        as it comes and then dropped, so only one is in memory at a time."""
        entry = self.path(key)
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=entry.parent))
        try:
            files: dict[str, str] = {}
            meta = []
            for i, lab in enumerate(labels):
                arrays = {
                    f"t{i}": np.ascontiguousarray(lab.target, dtype=np.uint8),
                    f"s{i}": np.asarray(lab.slices, dtype=np.int64),
                }
                weight = np.asarray(lab.weight)
                if not (weight.min(initial=1.0) == 1.0 and weight.max(initial=1.0) == 1.0):
                    arrays[f"w{i}"] = np.ascontiguousarray(weight, dtype=np.float16)
                for name, array in arrays.items():
                    np.save(tmp / f"{name}.npy", array)
                    files[f"{name}.npy"] = _sha256(tmp / f"{name}.npy")
                meta.append({"case_id": lab.case_id, "multilabel": bool(lab.multilabel)})
                del lab, arrays, weight  # free this label before the next one is made
            manifest = {"files": files, "labels": meta, "info": info}
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, default=str))
            try:
                os.rename(tmp, entry)  # atomic; fails when another writer got there first
            except OSError:
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return entry


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()
