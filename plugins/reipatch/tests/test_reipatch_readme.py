"""The README's claims table is generated from the committed leaderboards/reipatch/claims.json."""

from __future__ import annotations

import json
from pathlib import Path

from wsbench_plugins.reipatch.study import readme_block, render

ROOT = Path(__file__).resolve().parents[3]


def test_readme_claims_are_the_committed_study():
    result = json.loads((ROOT / "leaderboards" / "reipatch" / "claims.json").read_text())
    readme = (ROOT / "plugins" / "reipatch" / "README.md").read_text()
    assert readme_block(readme) == render(result), (
        "plugins/reipatch/README.md differs from leaderboards/reipatch/claims.json; run "
        "python -m wsbench_plugins.reipatch.study --readme plugins/reipatch/README.md"
    )
