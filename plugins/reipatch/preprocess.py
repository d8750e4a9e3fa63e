"""Ouassit et al. 2022 §3.2: HU window, z-score, then a median filter on every slice.

The window and the z-score are the dataset's ``Intensity`` (wsbench's CT datasets window
at [-100, 200] HU, the paper's window); the median filter's size is not stated in the paper, so
it is a parameter. ``MedianIntensity`` is an ``Intensity`` whose ``apply`` adds the filter,
so every path that normalises a volume (training slices, validation, prediction) filters it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.ndimage import median_filter

from wsbench.api import Intensity, WeakCase


@dataclass(frozen=True)
class MedianIntensity(Intensity):
    """Window and normalise as ``Intensity``, then a ``size`` x ``size`` median filter in
    each axial slice (Eq. 2); ``size`` <= 1 leaves the slices as they are."""

    size: int = 3

    def apply(self, hu: np.ndarray) -> np.ndarray:
        x = Intensity.apply(self, hu)
        if self.size <= 1:
            return x
        return median_filter(x, size=(1, self.size, self.size), mode="nearest").astype(np.float32)


def with_median(intensity: Intensity, size: int) -> Intensity:
    """``intensity`` with the paper's median filter of ``size`` added (unchanged when size <= 1)."""
    if size <= 1:
        return intensity
    return MedianIntensity(window=intensity.window, normalise=intensity.normalise, size=size)


def preprocess_cases(cases: list[WeakCase], size: int) -> list[WeakCase]:
    """The training cases with the median filter in their intensity (images untouched)."""
    return [replace(case, intensity=with_median(case.intensity, size)) for case in cases]
