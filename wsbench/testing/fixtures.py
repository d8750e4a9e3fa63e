"""Tiny phantom cases for plugin authors' tests.

    from wsbench.testing.fixtures import tiny_phantom
    cases = tiny_phantom(n_patients=2)            # list[Case], task-encoded, < 1 s

or, in a ``conftest.py``: ``from wsbench.testing.fixtures import phantom_cases`` and take
``phantom_cases`` as a test argument.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from wsbench import metrics
from wsbench.api import Case
from wsbench.data.phantom import SyntheticDataset


def tiny_phantom(
    n_patients: int = 4, size: int = 48, n_slices: int = 8, seed: int = 0, target: str = "tumor"
) -> list[Case]:
    """Task-encoded ``synthetic`` cases at a tiny size (tumours at least 20 mm so they stay
    visible at about 7 mm per pixel). ``target`` is ``tumor``, ``liver`` or ``organs``."""
    dataset = SyntheticDataset(
        "quick",
        n_patients=n_patients,
        size=size,
        n_slices=n_slices,
        seed=seed,
        tumor_mm=(20.0, 60.0),
    )
    task = dataset.tasks()[target]
    return [dataset.load_case(info, task) for info in dataset.list_cases()]


@pytest.fixture
def phantom_cases() -> list[Case]:
    """Four tiny tumour-task phantom cases (48 x 48 x 8)."""
    return tiny_phantom()


def box_fill(mask: np.ndarray) -> np.ndarray:
    """Fill the tight box of every 2D connected component on every slice of ``mask`` (Z, Y, X):
    the box-fill pseudo label, the weakest box baseline."""
    out = np.zeros(mask.shape, bool)
    for z in range(mask.shape[0]):
        components, _ = ndimage.label(mask[z])
        for box in ndimage.find_objects(components):
            if box is not None:
                out[z][box] = True
    return out


dice = metrics.dice  # the one Dice (1.0 when both masks are empty), re-exported for tests
