"""wsbench: a benchmark harness for weakly-supervised medical image segmentation."""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("wsbench")

from wsbench import api as _api  # noqa: E402
from wsbench.api import *  # noqa: E402,F403  (the public API types)

__all__ = ["__version__", "hookimpl", *_api.__all__]
