"""Hook implementations of the ``wsmis`` plugin (Viniavskyi et al. 2020)."""

from __future__ import annotations

from wsbench import hookimpl

from .cams import GradCamLabeler, GradCamPPLabeler
from .irn import IrnLabeler


@hookimpl
def wsbench_register_labelers() -> list[type]:
    return [GradCamLabeler, GradCamPPLabeler, IrnLabeler]
