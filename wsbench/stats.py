"""The statistics every table, figure and site page shares.

The "±" convention, used everywhere and written in every table footer (``PM_FOOTER``):
a value ``m ± s`` is the mean over seeds of each seed's mean over test cases, and ``s``
is the sample standard deviation (ddof = 1) of those per-seed means: the seed-to-seed
spread. With a single seed there is no spread and ``s`` is left out. Spreads over other
units (cases within one cell, in ``summary.json``) say their unit where they appear.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

PM_FOOTER = "± = sample standard deviation (ddof 1) over seeds of the per-seed mean over test cases"


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
