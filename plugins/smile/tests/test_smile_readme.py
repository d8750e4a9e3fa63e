"""The README's result table is the committed leaderboard's, and the generator sees changes."""

from __future__ import annotations

import copy
import json

import pytest
from wsbench_plugins.smile import readme


def test_readme_table_matches_the_committed_leaderboard():
    assert readme.README.read_text() == readme.expected_readme(), (
        "plugins/smile/README.md differs from leaderboards/smile-alpha/synthetic.json; "
        "run python -m wsbench_plugins.smile.readme"
    )


def test_a_changed_leaderboard_number_makes_the_readme_stale(tmp_path):
    board = json.loads(readme.LEADERBOARD.read_text())
    changed = copy.deepcopy(board)
    row = next(r for r in changed["rows"] if r["labeler"] == "smile")
    row["dice_mean"] += 0.1
    (tmp_path / "leaderboards" / "smile-alpha").mkdir(parents=True)
    path = tmp_path / "leaderboards" / "smile-alpha" / "synthetic.json"
    path.write_text(json.dumps(changed))
    assert readme.expected_readme(readme.README, path) != readme.README.read_text()
    # the generated block is all that changes
    block = readme.results_table(changed, "x")
    assert f"{row['dice_mean']:.3f}" in block


def test_rows_follow_alpha_then_the_papers_method_order():
    board = json.loads(readme.LEADERBOARD.read_text())
    lines = [ln for ln in readme.results_table(board, "x").splitlines() if ln.startswith("| 0")]
    keys = [(float(ln.split("|")[1]), ln.split("|")[2].strip()) for ln in lines]
    assert keys == sorted(keys, key=lambda k: (k[0], readme.METHODS.index(k[1])))
    assert len(keys) == len({k for k in keys}) > 0


def test_readme_without_markers_is_an_error():
    with pytest.raises(ValueError, match="markers"):
        readme.render("# no table here\n", "block")
