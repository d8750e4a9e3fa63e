"""``wsbench.data.mapped.release`` takes read pages of memory-mapped arrays out of RSS."""

import sys
from pathlib import Path

import numpy as np
import pytest

from wsbench.data.mapped import release


def _rss_file_kb() -> int:
    status = Path("/proc/self/status").read_text()
    return int(status.split("RssFile:")[1].split()[0])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_released_pages_leave_the_resident_set_and_read_back_the_same(tmp_path):
    values = np.arange(4 << 20, dtype=np.float32)  # 16 MB
    np.save(tmp_path / "a.npy", values)
    mapped = np.load(tmp_path / "a.npy", mmap_mode="r")
    before = _rss_file_kb()
    total = float(mapped[::1024].sum() + mapped.sum())  # every page read
    read = _rss_file_kb()
    if read - before < 8 << 10:
        pytest.skip("the kernel did not keep the pages mapped (memory pressure)")
    release(mapped[10:20])  # a view releases its whole mapping
    assert _rss_file_kb() < read - (8 << 10)
    assert float(mapped[::1024].sum() + mapped.sum()) == total  # read back from the file
    release(values, None)  # not memory-mapped: nothing happens
