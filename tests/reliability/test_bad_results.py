"""Results are untrusted input: a hostile records file or results database cannot write
outside --to, inject markup into any table, or make a file that is not valid JSON."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
from conftest import assert_one_line

REPO = Path(__file__).resolve().parents[2]
PUBLISHED = REPO / "leaderboards" / "default" / "records.json"
HOSTILE_LABELER = '=HYPERLINK("http://x")|<script>alert(1)</script>`*_[x](y)\nrow'


def _strict_json(path: Path):
    def refuse(name):
        raise AssertionError(f"{path}: bare {name} is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


@pytest.fixture
def hostile(tmp_path) -> Path:
    """A published grid whose records name a dataset that climbs out of the folder, a
    labeler full of markup, and NaN metrics."""
    doc = json.loads(PUBLISHED.read_text())
    evil = []
    for rec in doc["records"]:
        rec = copy.deepcopy(rec)
        rec["dataset"] = "../../x/PWNED"
        if rec["labeler"] == "acol":
            rec["labeler"] = HOSTILE_LABELER
            rec["metrics"]["hd95"] = math.nan
        evil.append(rec)
    grid = tmp_path / "grids" / "evil"
    grid.mkdir(parents=True)
    (grid / "records.json").write_text(json.dumps({"records": evil}))
    return grid


def test_hostile_names_stay_inside_to_and_are_escaped(cli, tmp_path, hostile):
    to = tmp_path / "deep" / "er" / "to"
    res = cli("leaderboard", "--results", hostile, "--to", to, "--site", tmp_path / "site")
    assert res.exit_code == 0, res.output
    outside = [
        p
        for p in tmp_path.rglob("*")
        if p.is_file()
        and not p.is_relative_to(to)
        and not p.is_relative_to(tmp_path / "site")
        and not p.is_relative_to(tmp_path / "grids")
        and "site-" not in str(p)
    ]
    assert not outside, outside
    assert not list(tmp_path.rglob("PWNED*"))
    md = next(to.glob("*.md")).read_text()
    assert "<script>" not in md and "\\<script\\>" in md and "\\|" in md
    assert "HYPERLINK" in md and "\nrow" not in md  # one table row, newline folded
    csv_text = next(to.glob("*.csv")).read_text()
    assert "'=HYPERLINK" in csv_text  # a spreadsheet shows it, never runs it
    for path in list(to.glob("*.json")) + list((tmp_path / "site").rglob("*.json")):
        _strict_json(path)
    for page in (tmp_path / "site").rglob("*.html"):
        assert "<script>alert(1)" not in page.read_text()


def test_nan_metrics_are_stored_as_null(tmp_path):
    from wsbench.outputs import write_summary
    from wsbench.safejson import dumps

    assert json.loads(dumps({"a": math.nan, "b": [math.inf, 1.0]})) == {"a": None, "b": [None, 1.0]}
    path = write_summary(tmp_path, [{"case": "c", "hd95": math.nan}], {"hd95": math.nan}, {})
    assert _strict_json(path)["mean"]["hd95"] is None


def test_leaderboard_default_never_overwrites_published_tables(cli, tmp_path, monkeypatch):
    checkout = tmp_path / "checkout"
    (checkout / "leaderboards").mkdir(parents=True)
    published = checkout / "leaderboards" / "synthetic.md"
    published.write_text("published")
    run = checkout / "wsbench-out"
    run.mkdir()
    (run / "records.json").write_text(PUBLISHED.read_text())
    monkeypatch.chdir(checkout)
    res = cli("leaderboard", "--results", "wsbench-out")
    assert res.exit_code == 0, res.output
    assert "tables go to wsbench-out/leaderboard (the default; --to DIR chooses)" in res.output
    assert published.read_text() == "published"
    assert (run / "leaderboard" / "synthetic.md").is_file()


def test_records_file_that_is_not_json(cli, tmp_path):
    grid = tmp_path / "g"
    grid.mkdir()
    (grid / "records.json").write_text("{not json")
    res = cli("leaderboard", "--results", grid, "--to", tmp_path / "t")
    assert_one_line(res, 2, str(grid / "records.json"), "not a readable records file", "rebuild")


def test_records_file_without_records(cli, tmp_path):
    grid = tmp_path / "g"
    grid.mkdir()
    (grid / "records.json").write_text('{"rows": []}')
    res = cli("leaderboard", "--results", grid, "--to", tmp_path / "t")
    assert_one_line(res, 2, str(grid / "records.json"), "no 'records' list")
