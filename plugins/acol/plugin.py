"""wsbench plugin for Fan et al. 2022: labelers ``cam`` and ``acol``."""

from __future__ import annotations

from wsbench import hookimpl

from .acol import AcolLabeler
from .cam import CamLabeler


@hookimpl
def wsbench_register_labelers() -> list[type]:
    return [CamLabeler, AcolLabeler]
