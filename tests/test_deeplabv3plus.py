"""The deeplabv3plus segmenter passes the conformance suite plugin authors use."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from wsbench.errors import ParameterError
from wsbench.plugins import load_registry
from wsbench.testing.segmenters import SliceSegmenterConformance


class TestDeepLabV3Plus(SliceSegmenterConformance):
    segmenter_name = "deeplabv3plus"
    overrides: ClassVar[dict[str, Any]] = {
        "backbone": "resnet18",
        "output_stride": 8,  # 32 x 32 test images leave 2 x 2 features at stride 16
        "aspp_channels": 16,
        "aspp_rates": "1,2,3",
        "epochs": 8,
        "batch_size": 4,
        "lr": 0.003,
    }


def test_bad_rates_name_the_parameter():
    cls = load_registry().get("segmenter", "deeplabv3plus")
    seg = cls(profile="quick", aspp_rates="6;12")
    with pytest.raises(ParameterError, match=r"deeplabv3plus.aspp_rates='6;12'"):
        seg.build_model(1, 2)
