"""SIGKILL the grid driver at least 20 times, at named points and at random moments, and
resume each time: no finished cell is lost, none is recomputed, the store passes
``PRAGMA integrity_check`` and the record checks (``kill_campaign.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).with_name("kill_campaign.py")


def _campaign(out: Path, kills: int, seed: int, *flags: str) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(out), str(kills), str(seed), *flags],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_twenty_four_kills_lose_and_recompute_nothing(tmp_path):
    report = _campaign(tmp_path / "grid", 24, seed=17)
    assert report["kills"] >= 20
    assert all(n >= 4 for n in report["kills_by_phase"].values()), report["kills_by_phase"]
    assert report["lost"] == [] and report["recomputed"] == []
    assert report["done"] == report["cells"] and report["failed"] == 0
    print({k: v for k, v in report.items() if k != "round_log"})  # the figures, with -s


def test_the_campaign_catches_a_driver_that_recomputes(tmp_path):
    report = _campaign(tmp_path / "grid", 4, 3, "--no-resume")
    assert report["recomputed"], "the campaign cannot tell a recomputing driver apart"
