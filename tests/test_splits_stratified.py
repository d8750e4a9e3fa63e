"""Stratified patient-level splits (CaseInfo.stratum): unchanged without strata, paper
004's SIIM split with them."""

from __future__ import annotations

import numpy as np
import pytest

from wsbench.api import CaseInfo, Dataset
from wsbench.data.splits import _apportion, split_cases, split_dataset, split_hash
from wsbench.errors import DataError
from wsbench.plugins import load_registry


def unstratified_reference(cases, seed, fractions):
    """The split as wsbench 0.1 computed it (before strata), kept verbatim as reference."""
    own = {c.patient: c.split for c in cases if c.split}
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
    out = {s: [] for s in ("train", "val", "test")}
    for c in cases:
        out[assign[c.patient]].append(c)
    return out


@pytest.mark.parametrize("seed", [0, 1, 7])
@pytest.mark.parametrize("n_patients", [1, 2, 3, 5, 17, 60])
def test_without_strata_the_split_is_unchanged(seed, n_patients):
    rng = np.random.default_rng(seed + 100 * n_patients)
    cases = []
    for p in range(n_patients):
        split = "train" if rng.random() < 0.2 else None
        for k in range(int(rng.integers(1, 4))):
            cases.append(CaseInfo(f"p{p}-c{k}", f"p{p}", split))
    for fractions in [(0.6, 0.2, 0.2), (0.8, 0.0, 0.2), (0.5, 0.25, 0.25)]:
        got = split_cases(cases, seed=seed, fractions=fractions)
        want = unstratified_reference(cases, seed, fractions)
        assert got == want


def test_one_stratum_for_all_is_the_unstratified_split():
    plain = [CaseInfo(f"c{i}", f"p{i}") for i in range(40)]
    same = [CaseInfo(f"c{i}", f"p{i}", stratum="negative") for i in range(40)]
    got = split_cases(same, seed=3)
    want = split_cases(plain, seed=3)
    assert {k: [c.id for c in v] for k, v in got.items()} == {
        k: [c.id for c in v] for k, v in want.items()
    }


def test_published_synthetic_splits_are_unchanged():
    """The hashes of the built-in synthetic dataset's splits before strata existed."""
    cls = load_registry().get("dataset", "synthetic")
    assert split_hash(split_dataset(cls(profile="quick"))) == "591de6c608cd"
    assert split_hash(split_dataset(cls(profile="paper"))) == "31e06a5e5843"


def siim_like_listing() -> list[CaseInfo]:
    """12,047 images as SIIM-ACR stage 1 ships them: 10,675 training images (2,379
    positive) and 1,372 stage-1 test images (290 positive), one patient each."""
    cases = []
    for i in range(10_675):
        stratum = "positive" if i < 2_379 else "negative"
        cases.append(CaseInfo(f"train{i}", f"tp{i}", "train", stratum=stratum))
    for i in range(1_372):
        stratum = "positive" if i % 1_372 < 290 else "negative"
        cases.append(CaseInfo(f"test{i}", f"sp{i}", None, stratum=stratum))
    return cases


class _Listing(Dataset):
    name = "listing"
    needs_data_dir = False

    def __init__(self, cases, **p):
        super().__init__("quick")
        self.p = {"split_seed": 0, **p}
        self.cases = cases

    def list_cases(self):
        return self.cases


@pytest.mark.parametrize("seed", [0, 5])
def test_paper_004_siim_split_counts(seed):
    """Paper 004: 2,379 + 8,296 train, 145 + 541 validation, 145 + 541 test."""
    ds = _Listing(siim_like_listing(), val_fraction=0.5, test_fraction=0.5, split_seed=seed)
    splits = split_dataset(ds)
    counts = {
        name: (
            sum(c.stratum == "positive" for c in cases),
            sum(c.stratum == "negative" for c in cases),
        )
        for name, cases in splits.items()
    }
    assert counts == {"train": (2379, 8296), "val": (145, 541), "test": (145, 541)}


def test_strata_keep_their_ratio_and_patients_stay_whole():
    rng = np.random.default_rng(0)
    cases = []
    for p in range(300):
        stratum = "positive" if p % 5 == 0 else "negative"
        for k in range(int(rng.integers(1, 3))):
            cases.append(CaseInfo(f"p{p}-{k}", f"p{p}", stratum=stratum))
    splits = split_cases(cases, seed=1)
    patients = {name: {c.patient for c in v} for name, v in splits.items()}
    assert not (patients["train"] & patients["test"]) and not (patients["val"] & patients["test"])
    assert [len(patients[s]) for s in ("train", "val", "test")] == [180, 60, 60]
    for name in ("train", "val", "test"):
        positive = {c.patient for c in splits[name] if c.stratum == "positive"}
        assert len(positive) == len(patients[name]) // 5
    # seeded: another seed moves patients, the same seed does not
    assert split_cases(cases, seed=1) == splits
    assert split_cases(cases, seed=2) != splits


def test_patient_with_mixed_strata_is_kept_whole():
    cases = [CaseInfo(f"a{i}", f"p{i}", stratum="negative") for i in range(10)]
    cases += [CaseInfo("mixed-pos", "p3", stratum="positive")]
    splits = split_cases(cases, seed=0)
    where = {c.id: name for name, v in splits.items() for c in v}
    assert where["mixed-pos"] == where["a3"]


def test_apportion_largest_remainders():
    assert _apportion(686, [290, 1082]) == [145, 541]
    assert _apportion(3, [1, 1, 1]) == [1, 1, 1]
    assert _apportion(2, [5, 5, 1]) == [1, 1, 0]
    assert _apportion(5, [1, 10]) == [0, 5]  # 0.45 and 4.55
    assert sum(_apportion(7, [3, 3, 3])) == 7


def test_val_plus_test_of_one_needs_an_own_training_split():
    ds = _Listing([CaseInfo(f"c{i}", f"p{i}") for i in range(10)], val_fraction=0.5)
    ds.p["test_fraction"] = 0.5
    with pytest.raises(DataError, match="leave no training patients"):
        split_dataset(ds)
