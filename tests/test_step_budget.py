"""The quick budget counts optimiser steps, so small datasets are not starved (#12)."""

import pytest

from wsbench.segmenters.deeplabv3 import DeepLabV3Segmenter
from wsbench.segmenters.slices import budget_epochs
from wsbench.segmenters.unet import UNetSegmenter


def test_epochs_are_raised_to_the_step_budget():
    assert budget_epochs(12, 200, 18) == 12  # the quick phantom: 216 steps already
    assert budget_epochs(12, 200, 2) == 100  # 8 slabs, 2 batches an epoch: 200 steps
    assert budget_epochs(4, 0, 2) == 4


@pytest.mark.parametrize("cls", [UNetSegmenter, DeepLabV3Segmenter])
def test_quick_profiles_budget_200_steps_unless_the_user_sets_epochs_alone(cls):
    assert cls("quick").min_steps() == 200
    assert cls("quick", epochs=1).min_steps() == 0  # an explicit epochs budget is kept
    assert cls("quick", epochs=1, min_steps=600).min_steps() == 600
    assert cls("paper").min_steps() == 0  # the papers state epochs
