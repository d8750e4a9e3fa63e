"""Validate every file of a dataset: the engine of ``wsbench data check``.

``check_dataset`` loads each case once and returns one JSON-ready record per valid
case and one ``"path: cause"`` line per bad one. ``iter_check`` yields the same
lazily, for printing as the check goes. Nothing is written anywhere.

``check_finite`` is the one test for NaN or infinite voxels, shared with ``wsbench run``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from wsbench.api import Case, CaseInfo, Dataset
from wsbench.data.splits import split_dataset
from wsbench.errors import DataError, WsbenchError


def check_finite(case: Case) -> Case:
    """``case`` itself if every image voxel is finite; else ``DataError`` naming the file
    and the count. One NaN voxel would make the training loss NaN and the scores 0."""
    image = np.asarray(case.image)
    if not np.issubdtype(image.dtype, np.floating):
        return case
    nan = int(np.count_nonzero(np.isnan(image)))
    inf = int(np.count_nonzero(np.isinf(image)))
    if nan or inf:
        raise DataError(
            f"{case.source or case.id}: {nan + inf} of {image.size} image voxels are not finite "
            f"({nan} NaN, {inf} infinite); fix or remove this file"
        )
    return case


def case_record(case: Case, split: str | None) -> dict:
    """id, patient, split, shape, spacing and voxel count per label value of one case."""
    voxels: dict[str, int] = {}  # empty: the case has no ground truth (not scored)
    if case.label is not None:
        counts = np.bincount(np.asarray(case.label).ravel(), minlength=len(case.classes) + 1)
        names = ("background", *case.classes)
        voxels = {
            f"{v} {names[v] if v < len(names) else '?'}": int(n) for v, n in enumerate(counts)
        }
    return {
        "id": case.id,
        "patient": case.patient,
        "split": split,
        "shape": [int(s) for s in case.shape],
        "spacing": [round(float(s), 6) for s in case.spacing],
        "voxels": voxels,
    }


def iter_check(dataset: Dataset, task_name: str | None = None) -> Iterator[tuple[str, dict | str]]:
    """Yield ``("case", record)`` per valid case and ``("error", "path: cause")`` per bad one."""
    try:
        tasks = dataset.tasks()
        name = task_name or dataset.default_target or next(iter(tasks))
        if name not in tasks:
            yield (
                "error",
                (
                    f"{dataset.data_dir}: dataset {dataset.name} has no target {name!r}; "
                    f"valid targets are: {', '.join(tasks)}"
                ),
            )
            return
        task = tasks[name]
        infos = dataset.list_cases()
        assigned = split_dataset(dataset)
    except WsbenchError as exc:
        yield "error", str(exc)
        return
    split_of = {c.id: split for split, cases in assigned.items() for c in cases}
    for info in infos:
        try:
            case = check_finite(dataset.load_case(info, task))
        except WsbenchError as exc:
            yield "error", str(exc)
            continue
        except Exception as exc:  # noqa: BLE001 - a reader bug must not hide other results
            yield "error", f"{_where(info)}: unexpected {type(exc).__name__}: {exc}"
            continue
        yield "case", case_record(case, split_of.get(info.id))


def check_dataset(dataset: Dataset, task_name: str | None = None) -> tuple[list[dict], list[str]]:
    """(records of valid cases, error lines of bad files); all valid when the list is empty."""
    records: list[dict] = []
    errors: list[str] = []
    for kind, item in iter_check(dataset, task_name):
        (records if kind == "case" else errors).append(item)  # type: ignore[arg-type]
    return records, errors


def _where(info: CaseInfo) -> str:
    return info.source or info.id


def folder_digest(root: Path) -> str:
    """A hash of every file's name, size, mtime and bytes under ``root``: proof of no writes."""
    digest = hashlib.sha256()
    for path in sorted(Path(root).rglob("*")):
        st = path.lstat()
        digest.update(f"{path.relative_to(root)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
        if path.is_file():
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
