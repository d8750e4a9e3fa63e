"""The built-in datasets: the ``synthetic`` phantom and the ``lits`` loader.

Registered through the ``wsbench`` entry-point group (``core-datasets``), exactly as an
outside package would register its own datasets.
"""

from __future__ import annotations

from wsbench import hookimpl


@hookimpl
def wsbench_register_datasets() -> list[type]:
    from wsbench.data.lits import LitsDataset
    from wsbench.data.phantom import SyntheticDataset

    return [SyntheticDataset, LitsDataset]
