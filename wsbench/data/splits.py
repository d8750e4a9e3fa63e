"""Patient-level train/val/test splits, seeded and hashed into every result."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from wsbench.api import CaseInfo, Dataset
from wsbench.errors import DataError
from wsbench.params import stable_hash

SPLITS = ("train", "val", "test")


def split_cases(
    cases: Sequence[CaseInfo],
    seed: int = 0,
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
) -> dict[str, list[CaseInfo]]:
    """Assign whole patients to splits. A dataset's own split (``CaseInfo.split``) wins.

    Patients are shuffled with ``seed`` and cut by ``fractions``; the test split (and the
    validation split, unless its fraction is 0) gets at least one patient when there are
    three or more.
    """
    if not cases:
        raise DataError("the dataset has no cases; check --data-dir and the dataset layout")
    own: dict[str, str] = {}
    for c in cases:
        if c.split and own.setdefault(c.patient, c.split) != c.split:
            raise DataError(
                f"patient {c.patient} is in split {own[c.patient]!r} and in {c.split!r} "
                f"(case {c.id}, {c.source or 'no file'}); a patient must sit in one split, "
                "fix the dataset's split column"
            )
    patients = sorted({c.patient for c in cases if c.patient not in own})
    rng = np.random.default_rng(seed)
    order = [patients[i] for i in rng.permutation(len(patients))]
    n = len(order)
    n_test = max(1, round(fractions[2] * n)) if n >= 3 else 0
    n_val = max(1, round(fractions[1] * n)) if n >= 3 and fractions[1] > 0 else 0
    if n < 3:
        n_test = 1 if n == 2 else 0
    assign = dict(own)
    for i, patient in enumerate(order):
        assign[patient] = "test" if i < n_test else "val" if i < n_test + n_val else "train"
    out: dict[str, list[CaseInfo]] = {s: [] for s in SPLITS}
    for c in cases:
        split = assign[c.patient]
        if split not in out:
            raise DataError(f"case {c.id}: unknown split {split!r}; use one of {', '.join(SPLITS)}")
        out[split].append(c)
    return out


def split_hash(splits: dict[str, list[CaseInfo]]) -> str:
    return stable_hash({k: sorted(c.id for c in v) for k, v in splits.items()})


def split_dataset(dataset: Dataset) -> dict[str, list[CaseInfo]]:
    """The patient-level split every command uses: ``run``, ``data check`` and tuning scripts.

    Reads the dataset's own ``split_seed``, ``val_fraction`` and ``test_fraction``, so one
    dataset configuration always gives one split.
    """
    val = float(dataset.p.get("val_fraction", 0.2))
    test = float(dataset.p.get("test_fraction", 0.2))
    if val + test >= 1:
        raise DataError(
            f"{dataset.name}: val_fraction {val} + test_fraction {test} leave no training "
            "patients; lower them"
        )
    return split_cases(
        dataset.list_cases(),
        seed=int(dataset.p.get("split_seed", 0)),
        fractions=(1 - val - test, val, test),
    )
