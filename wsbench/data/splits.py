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

    Where cases carry a ``CaseInfo.stratum`` (SIIM: positive or negative), each stratum is
    shuffled and cut on its own: the split sizes stay those above, shared between strata in
    proportion to their sizes (largest remainders), so every split keeps the strata ratio.
    A patient whose cases sit in several strata forms the stratum of their joined names.
    Without strata the split is exactly the unstratified one.
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
    n = len(patients)
    n_test = max(1, round(fractions[2] * n)) if n >= 3 else 0
    n_val = max(1, round(fractions[1] * n)) if n >= 3 and fractions[1] > 0 else 0
    if n < 3:
        n_test = 1 if n == 2 else 0
    assign = dict(own)
    strata = _patient_strata(cases, patients)
    rng = np.random.default_rng(seed)
    if len(strata) <= 1:  # no stratum: exactly the unstratified split of earlier versions
        order = [patients[i] for i in rng.permutation(n)]
        for i, patient in enumerate(order):
            assign[patient] = "test" if i < n_test else "val" if i < n_test + n_val else "train"
    else:
        sizes = [len(members) for members in strata.values()]
        tests = _apportion(n_test, sizes)
        vals = _apportion(n_val, [size - t for size, t in zip(sizes, tests)])
        for members, k_test, k_val in zip(strata.values(), tests, vals):
            order = [members[i] for i in rng.permutation(len(members))]
            for i, patient in enumerate(order):
                assign[patient] = "test" if i < k_test else "val" if i < k_test + k_val else "train"
    out: dict[str, list[CaseInfo]] = {s: [] for s in SPLITS}
    for c in cases:
        split = assign[c.patient]
        if split not in out:
            raise DataError(f"case {c.id}: unknown split {split!r}; use one of {', '.join(SPLITS)}")
        out[split].append(c)
    return out


def _patient_strata(cases: Sequence[CaseInfo], patients: list[str]) -> dict[str, list[str]]:
    """Sorted stratum name -> its patients (sorted), for the patients to be split."""
    names: dict[str, set[str]] = {}
    for c in cases:
        names.setdefault(c.patient, set()).add(c.stratum or "")
    strata: dict[str, list[str]] = {}
    for patient in patients:
        strata.setdefault("+".join(sorted(names[patient])), []).append(patient)
    return dict(sorted(strata.items()))


def _apportion(total: int, sizes: list[int]) -> list[int]:
    """Share ``total`` between groups in proportion to ``sizes`` (largest remainders;
    ties go to the earlier group); no group gets more than its size."""
    whole = sum(sizes)
    if whole == 0 or total == 0:
        return [0] * len(sizes)
    quotas = [total * size / whole for size in sizes]
    shares = [min(size, int(q)) for q, size in zip(quotas, sizes)]
    by_remainder = sorted(range(len(sizes)), key=lambda i: (-(quotas[i] - int(quotas[i])), i))
    left = total - sum(shares)
    while left > 0:
        grew = False
        for i in by_remainder:
            if left and shares[i] < sizes[i]:
                shares[i] += 1
                left -= 1
                grew = True
        if not grew:
            break
    return shares


def split_hash(splits: dict[str, list[CaseInfo]]) -> str:
    return stable_hash({k: sorted(c.id for c in v) for k, v in splits.items()})


def split_dataset(dataset: Dataset) -> dict[str, list[CaseInfo]]:
    """The patient-level split every command uses: ``run``, ``data check`` and tuning scripts.

    Reads the dataset's own ``split_seed``, ``val_fraction`` and ``test_fraction``, so one
    dataset configuration always gives one split.
    """
    val = float(dataset.p.get("val_fraction", 0.2))
    test = float(dataset.p.get("test_fraction", 0.2))
    cases = dataset.list_cases()
    # a dataset that ships its own training split may hand every other patient to val
    # and test (SIIM in paper 004: stage-1 train, stage-1 test halved into val and test)
    own_train = any(c.split == "train" for c in cases)
    if val + test > 1 or (val + test == 1 and not own_train):
        raise DataError(
            f"{dataset.name}: val_fraction {val} + test_fraction {test} leave no training "
            "patients; lower them"
        )
    return split_cases(
        cases,
        seed=int(dataset.p.get("split_seed", 0)),
        fractions=(1 - val - test, val, test),
    )
