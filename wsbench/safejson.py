"""JSON that every reader accepts: NaN and infinities are written as ``null``.

Python's ``json`` writes a bare ``NaN`` by default, which is not JSON (browsers, ``jq`` and
most languages refuse the whole file). Every file wsbench writes goes through ``dumps``.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np


def finite(obj: Any) -> Any:
    """``obj`` with every non-finite float (numpy scalars included) replaced by None."""
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def dumps(obj: Any, **kwargs: Any) -> str:
    """``json.dumps`` of ``finite(obj)``; ``allow_nan=False`` proves no NaN slipped through
    (a ``default=`` hook's output is checked too)."""
    default = kwargs.pop("default", None)

    def hook(value: Any) -> Any:
        return finite(default(value)) if default is not None else finite(value)

    return json.dumps(finite(obj), allow_nan=False, default=hook, **kwargs)
