"""Built-in baseline labelers, registered through the ``wsbench`` entry point group."""

from __future__ import annotations

from wsbench import hookimpl
from wsbench.labelers.box_fill import BoxFill
from wsbench.labelers.oracle import Oracle


@hookimpl
def wsbench_register_labelers() -> list[type]:
    return [BoxFill, Oracle]
