"""The README's result tables are generated from the committed leaderboards/ JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from wsbench_plugins.acol.benchmark import readme_block, render, summarise

ROOT = Path(__file__).resolve().parents[3]
CLAIMS = ROOT / "leaderboards" / "acol-tumor" / "claims.json"


def test_readme_tables_are_the_committed_claims():
    summary = json.loads(CLAIMS.read_text())
    readme = (ROOT / "plugins" / "acol" / "README.md").read_text()
    assert readme_block(readme) == render(summary), (
        "plugins/acol/README.md differs from leaderboards/acol-tumor/claims.json; run "
        "python -m wsbench_plugins.acol.benchmark --readme plugins/acol/README.md "
        "--claims leaderboards/acol-tumor/claims.json"
    )


def _record(labeler, seed, dices):
    return {
        "status": "done",
        "dataset": "synthetic",
        "target": "tumor",
        "labeler": labeler,
        "segmenter": "unet",
        "seed": seed,
        "wall_s": 1.0,
        "pseudo": {"dice": 0.5},
        "provenance": {"evaluation": "images", "overrides": {}},
        "per_case": [
            {"case": f"v{p}:{z}", "patient": f"p{p}", "dice": d}
            for p, d in enumerate(dices)
            for z in range(2)
        ],
    }


def test_summary_pairs_patients_within_seeds_and_needs_three_seeds():
    rng = np.random.default_rng(0)
    records = [
        _record(lab, s, list(base + 0.02 * rng.standard_normal(6)))
        for lab, base in (("box-fill", 0.3), ("acol", 0.5))
        for s in range(3)
    ] + [_record("oracle", 0, [0.9] * 6)]
    summary = summarise(records)
    block = summary["segmenters"]["unet"]
    (claim,) = block["claims"]  # oracle has one seed: no claim about it
    assert claim["claim"] == "acol > box-fill" and claim["holds"]
    assert claim["n_units"] == 18 and claim["n_seeds"] == 3
    assert "(1 seed)" in render(summary)
