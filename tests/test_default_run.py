"""Integration: `wsbench run` with no arguments, as on a fresh machine (no data, no GPU).

It runs the whole compatible built-in grid on the phantom with the quick profile and ends
with the leaderboard; the oracle must beat box-fill for every core segmenter.
"""

import json
import os
import subprocess
import sys


def test_default_run_prints_a_leaderboard_where_oracle_beats_box_fill(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WSBENCH_")}
    proc = subprocess.run(
        [sys.executable, "-m", "wsbench", "run"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,  # a hang guard: the quick grid takes minutes, more on a loaded machine
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "wsbench leaderboard — synthetic" in proc.stdout
    rows = json.loads((tmp_path / "wsbench-out/leaderboard/synthetic.json").read_text())["rows"]
    dice = {(r["labeler"], r["segmenter"]): r["dice_mean"] for r in rows if r["seeds"]}
    for segmenter in ("unet", "deeplabv3"):
        assert dice[("oracle", segmenter)] > dice[("box-fill", segmenter)] + 0.03, dice
    assert {lab for lab, _ in dice} >= {"box-fill", "oracle", "cam", "acol"}
    assert "skipped synthetic/smile" in proc.stdout  # incompatible pairs say why
