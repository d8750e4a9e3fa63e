"""Peak memory of one ``box-fill x unet`` cell on LiTS-layout phantoms of 4 and 16 volumes.

    pytest benchmarks/test_bench_memory.py --benchmark-enable --benchmark-only -s

Each volume is 512 x 512 x 100 (``wsbench data synth --set size=512 --set n_slices=100``).
Each run is a fresh ``wsbench run`` process (serial, one epoch, one torch thread); its
peak RSS goes to ``extra_info["peak_rss_mb"]``. Goals: 16 / 4 volumes <= 1.3 and the
16-volume run under 3 GB. The timing itself is not the point.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

VOLUMES = (4, 16)
PEAK = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:]).returncode
print("PEAK_KB", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)
"""


def _wsbench(*args: str, env: dict[str, str]) -> int:
    """Run the CLI in a child process; return its peak RSS in kB."""
    cmd = [sys.executable, "-c", PEAK, sys.executable, "-m", "wsbench", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    line = next(x for x in proc.stdout.splitlines() if x.startswith("PEAK_KB"))
    _, kb, code = line.split()
    assert code == "0", proc.stdout[-2000:] + proc.stderr[-2000:]
    return int(kb)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("memory")
    env = {**os.environ, "WSBENCH_CACHE": str(root / "slices"), "OMP_NUM_THREADS": "1"}
    for n in VOLUMES:
        _wsbench(
            "data", "synth", str(root / f"lits{n}"),
            "--set", "synthetic.size=512", "--set", "synthetic.n_slices=100",
            "--set", f"synthetic.n_patients={n}",
            env=env,
        )  # fmt: skip
    env["ROOT"] = str(root)
    return env


@pytest.mark.parametrize("volumes", VOLUMES)
def test_peak_rss(benchmark, env, volumes):
    root = Path(env["ROOT"])
    args = [
        "run", "--dataset", "lits", "--data-dir", str(root / f"lits{volumes}"),
        "--labeler", "box-fill", "--segmenter", "unet", "--executor", "serial",
        "--device", "cpu", "--set", "train.epochs=1", "--out", str(root / f"out{volumes}"),
        "--set", "lits.val_fraction=0", "--set", "lits.test_fraction=0.25", "--no-resume",
    ]  # fmt: skip
    peak: list[int] = []
    benchmark.pedantic(lambda: peak.append(_wsbench(*args, env=env)), rounds=1, iterations=1)
    benchmark.extra_info["peak_rss_mb"] = round(peak[0] / 1024, 1)
    benchmark.extra_info["volumes"] = volumes
    print(f"\n{volumes} volumes: peak RSS {peak[0] / 1024:.0f} MB")
