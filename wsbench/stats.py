"""The statistics every table, figure and site page shares.

The "±" convention, used everywhere and written in every table footer (``PM_FOOTER``):
a value ``m ± s`` is the mean over seeds of each seed's mean over test cases, and ``s``
is the sample standard deviation (ddof = 1) of those per-seed means: the seed-to-seed
spread. With a single seed there is no spread and ``s`` is left out. Spreads over other
units (cases within one cell, in ``summary.json``) say their unit where they appear.

Intervals (``CI_FOOTER``): a 95 % percentile bootstrap over patients. The resampling
unit is the patient (all test cases of a patient go in or out together, in every seed);
each resample recomputes the same statistic as the point estimate, the mean over seeds of
per-seed means over cases. 2000 resamples from a generator seeded with 0, so the interval
is the same on every machine and every rebuild.

Comparisons: a paired Wilcoxon signed-rank test on per-patient scores (each patient's
mean over its test cases and over seeds), both rows evaluated on the same patients;
p-values are Holm-corrected over the comparisons of one table (every two rows with the
same segmenter, and every row against the table's best). A row is "tied" with the best
when its corrected p-value against the best is at or above ``ALPHA``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

PM_FOOTER = "± = sample standard deviation (ddof 1) over seeds of the per-seed mean over test cases"
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
ALPHA = 0.05
CI_FOOTER = (
    "[lo, hi] = 95 % percentile bootstrap interval; resampling unit: patient "
    f"({BOOTSTRAP_RESAMPLES} resamples, seed {BOOTSTRAP_SEED})"
)
TEST_FOOTER = (
    "p = paired Wilcoxon signed-rank test on per-patient scores (mean over the patient's "
    f"test cases and seeds), Holm-corrected within the table; tied = not different from the "
    f"table's best weak method at α = {ALPHA}"
)


@dataclass(frozen=True)
class MeanSD:
    """A mean, its sample standard deviation and the number of finite values used."""

    mean: float
    sd: float  # NaN with fewer than two values
    n: int

    def text(self, digits: int = 3) -> str:
        if math.isnan(self.mean):
            return "—"
        if math.isnan(self.sd):
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} ± {self.sd:.{digits}f}"


def finite(values: Iterable[float | None]) -> np.ndarray:
    """The finite values of ``values`` as a float array (None, NaN and inf left out)."""
    arr = np.array([v for v in values if v is not None], dtype=float)
    return arr[np.isfinite(arr)]


def mean_sd(values: Iterable[float | None]) -> MeanSD:
    """Mean and sample standard deviation (ddof 1) of the finite values."""
    arr = finite(values)
    mean = float(arr.mean()) if arr.size else math.nan
    sd = float(arr.std(ddof=1)) if arr.size > 1 else math.nan
    return MeanSD(mean, sd, int(arr.size))


# ---------------------------------------------------------------------------
# Per-patient scores and the bootstrap


@dataclass(frozen=True)
class SeedPatientTable:
    """Sums and counts of finite case scores, one row per seed, one column per patient."""

    patients: tuple[str, ...]
    sums: np.ndarray  # (seeds, patients)
    counts: np.ndarray  # (seeds, patients)

    def seed_means(self, columns: np.ndarray | None = None) -> np.ndarray:
        """Per-seed means over the cases of ``columns`` (patient indices; all by default).
        With ``columns`` of shape (B, P): an array (seeds, B)."""
        if columns is None:
            columns = np.arange(len(self.patients))
        s = self.sums[:, columns].sum(axis=-1)
        c = self.counts[:, columns].sum(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(c > 0, s / np.maximum(c, 1), np.nan)

    def patient_scores(self) -> dict[str, float]:
        """Each patient's mean over seeds of its per-seed mean over its cases."""
        with np.errstate(invalid="ignore", divide="ignore"):
            per_seed = np.where(self.counts > 0, self.sums / np.maximum(self.counts, 1), np.nan)
        out = {}
        for j, p in enumerate(self.patients):
            col = per_seed[:, j]
            col = col[np.isfinite(col)]
            if col.size:
                out[p] = float(col.mean())
        return out


def seed_patient_table(
    per_seed_cases: Sequence[Sequence[tuple[str, float | None]]],
) -> SeedPatientTable:
    """Build the table from, for each seed, (patient, case score) pairs."""
    patients = tuple(sorted({str(p) for cases in per_seed_cases for p, _ in cases}))
    index = {p: j for j, p in enumerate(patients)}
    sums = np.zeros((len(per_seed_cases), len(patients)))
    counts = np.zeros_like(sums)
    for i, cases in enumerate(per_seed_cases):
        for p, v in cases:
            if v is not None and math.isfinite(v):
                sums[i, index[str(p)]] += v
                counts[i, index[str(p)]] += 1
    return SeedPatientTable(patients, sums, counts)


def point_estimate(table: SeedPatientTable) -> float:
    """Mean over seeds of per-seed means over test cases (the ± convention's mean)."""
    means = table.seed_means()
    means = means[np.isfinite(means)]
    return float(means.mean()) if means.size else math.nan


def bootstrap_ci(
    table: SeedPatientTable,
    level: float = 0.95,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``point_estimate`` with patients as the unit.

    NaN bounds with fewer than two patients (an interval over one patient says nothing)."""
    n = len(table.patients)
    if n < 2 or not np.isfinite(point_estimate(table)):
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(resamples, n))
    means = table.seed_means(idx)  # (seeds, resamples)
    with np.errstate(invalid="ignore"):
        stat = np.nanmean(np.where(np.isfinite(means), means, np.nan), axis=0)
    stat = stat[np.isfinite(stat)]
    if not stat.size:
        return math.nan, math.nan
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(stat, [tail, 100 - tail])
    return float(lo), float(hi)


# ---------------------------------------------------------------------------
# Paired tests


def paired_wilcoxon(a: Mapping[str, float], b: Mapping[str, float]) -> tuple[float, int]:
    """Two-sided paired Wilcoxon signed-rank p-value over the patients both rows scored,
    and that number of patients. p = 1 when every difference is zero, NaN with no pair."""
    common = sorted(set(a) & set(b))
    x = np.array([a[p] for p in common], dtype=float)
    y = np.array([b[p] for p in common], dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size == 0:
        return math.nan, 0
    d = x - y
    if np.all(d == 0):
        return 1.0, int(x.size)
    from scipy.stats import wilcoxon

    return float(wilcoxon(x, y, zero_method="wilcox", alternative="two-sided").pvalue), int(x.size)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (NaN entries stay NaN and are not counted)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = ok.size
    running = 0.0
    for rank, i in enumerate(ok[np.argsort(p[ok], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return [float(v) for v in out]
