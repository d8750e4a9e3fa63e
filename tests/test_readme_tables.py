"""README result tables come from leaderboards/: a typed or stale table fails here."""

from pathlib import Path

import pytest

from wsbench.leaderboard.readme import BLOCK, ROOT, first_table, render

READMES = [ROOT / "README.md", *sorted((ROOT / "plugins").glob("*/README.md"))]


@pytest.mark.parametrize("readme", READMES, ids=lambda p: str(p.relative_to(ROOT)))
def test_generated_blocks_match_the_published_leaderboards(readme: Path):
    text = readme.read_text()
    assert render(text) == text, (
        f"regenerate with python -m wsbench.leaderboard.readme {readme.relative_to(ROOT)}"
    )


def test_the_front_page_shows_the_published_default_run():
    assert any(
        m["src"].startswith("leaderboards/")
        for m in BLOCK.finditer((ROOT / "README.md").read_text())
    )


def test_a_block_is_the_first_table_and_its_footer(tmp_path):
    page = "# t\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n± = sd over seeds.\n\nmore\n"
    assert first_table(page) == "| a | b |\n|---|---|\n| 1 | 2 |\n\n± = sd over seeds.\n"
    (tmp_path / "lb.md").write_text(page)
    readme = "x\n<!-- leaderboard: lb.md -->\nold\n<!-- end leaderboard -->\ny\n"
    assert "| 1 | 2 |" in render(readme, root=tmp_path)
    assert "old" not in render(readme, root=tmp_path)
