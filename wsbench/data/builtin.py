"""The built-in datasets: the ``synthetic`` phantom and the loaders of real formats (LiTS,
MSD/nnU-Net, 3D-IRCADb, DeepLesion, SIIM-ACR, a plain folder). The one registration module
of ``wsbench.data``.

Registered through the ``wsbench`` entry-point group (``core-datasets``), exactly as an
outside package would register its own datasets. The loader modules are imported when the
hook is called, not when this module is.
"""

from __future__ import annotations

from wsbench import hookimpl


@hookimpl
def wsbench_register_datasets() -> list[type]:
    from wsbench.data.deeplesion import DeepLesionDataset
    from wsbench.data.folder import FolderDataset
    from wsbench.data.ircadb import IrcadbDataset
    from wsbench.data.lits import LitsDataset
    from wsbench.data.msd import MsdDataset
    from wsbench.data.phantom import SyntheticDataset
    from wsbench.data.siim import SiimDataset

    return [
        SyntheticDataset,
        LitsDataset,
        MsdDataset,
        IrcadbDataset,
        DeepLesionDataset,
        SiimDataset,
        FolderDataset,
    ]
