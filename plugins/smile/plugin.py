"""Hook implementations of the ``smile`` plugin (Petit et al., DLMIA 2018).

The ``partial`` weak-label protocol these labelers consume is a core protocol
(``wsbench.weak.partial``), since any multi-class dataset can lose annotations.
"""

from __future__ import annotations

from wsbench import hookimpl

from .labelers import PartialBaseline, Smile, SmileR


@hookimpl
def wsbench_register_labelers() -> list[type]:
    return [PartialBaseline, Smile, SmileR]
