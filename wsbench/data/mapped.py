"""Keep memory-mapped arrays out of the resident set once they are read.

Pages of a memory-mapped file that a process has read count in its resident set (RSS)
until the kernel reclaims them, so a stage that reads every case once would look as big
as the dataset. ``release`` drops them from this process at once (they stay in the
page cache, shared and reclaimable, and are read back on the next access).
"""

from __future__ import annotations

import mmap
from typing import Any

_DONTNEED = getattr(mmap, "MADV_DONTNEED", None)


def release(*arrays: Any) -> None:
    """Drop the resident pages of each ``np.memmap`` (or a view of one) in ``arrays``;
    other arrays are left alone."""
    if _DONTNEED is None:
        return
    for array in arrays:
        mapped = getattr(array, "_mmap", None)
        if mapped is None:
            continue
        try:
            mapped.madvise(_DONTNEED)
        except (OSError, ValueError):  # closed, or not allowed on this system
            pass
