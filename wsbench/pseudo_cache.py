"""Content-addressed cache of pseudo labels.

The key is a hash of the dataset fingerprint, the split, the weak-label protocol and
its seed, the labeler's name, version and parameters (and the segmenter's, for
labelers that train one). Every segmenter of a grid reuses the same entry, and a
second run spends no time labelling.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from wsbench.api import PseudoLabel
from wsbench.params import stable_hash


class PseudoLabelCache:
    def __init__(self, root: Path):
        self.root = Path(root)

    @staticmethod
    def key(parts: dict[str, Any]) -> str:
        return stable_hash(parts, 24)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npz"

    def get(self, key: str) -> list[PseudoLabel] | None:
        path = self._path(key)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                return [
                    PseudoLabel(
                        case_id=m["case_id"],
                        target=z[f"t{i}"],
                        weight=z[f"w{i}"],
                        slices=z[f"s{i}"],
                        multilabel=m["multilabel"],
                    )
                    for i, m in enumerate(meta)
                ]
        except (OSError, ValueError, KeyError):
            return None  # a torn or foreign file is a miss; it is rewritten below

    def put(self, key: str, labels: list[PseudoLabel], info: dict[str, Any]) -> Path:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, Any] = {}
        meta = []
        for i, lab in enumerate(labels):
            arrays[f"t{i}"] = lab.target
            arrays[f"w{i}"] = np.asarray(lab.weight, dtype=np.float32)
            arrays[f"s{i}"] = np.asarray(lab.slices, dtype=np.int64)
            meta.append({"case_id": lab.case_id, "multilabel": bool(lab.multilabel)})
        arrays["meta"] = np.array(json.dumps(meta))
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, path)  # atomic: readers never see half a file
        path.with_suffix(".json").write_text(json.dumps(info, indent=1, default=str))
        return path
