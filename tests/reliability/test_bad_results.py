"""Results are untrusted input: a hostile records file or results database cannot write
outside --to, inject markup into any table, or make a file that is not valid JSON."""

from __future__ import annotations

import copy
import json
import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line, toy_run

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


# -- results.sqlite as untrusted input --------------------------------------------------


def _digest(path: Path) -> tuple[bytes, list[str]]:
    """The database's bytes and its companions (-wal, -shm, -journal)."""
    return path.read_bytes(), sorted(p.name for p in path.parent.glob(path.name + "*"))


@pytest.fixture
def finished_run(cli, tmp_path) -> Path:
    out = tmp_path / "run"
    assert cli(*toy_run(out, "--seeds", "0,1")).exit_code == 0
    return out


def _foreign(path: Path) -> Path:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE patients (name TEXT, birthday TEXT)")
    con.execute("INSERT INTO patients VALUES ('Ada', '1815-12-10')")
    con.commit()
    con.close()
    return path


def test_foreign_sqlite_is_refused_and_untouched_by_leaderboard(cli, tmp_path):
    db = _foreign(tmp_path / "hospital.sqlite")
    before = _digest(db)
    res = cli("leaderboard", "--results", db, "--to", tmp_path / "t")
    assert_one_line(res, 2, str(db), "not a wsbench results database", "left untouched")
    assert _digest(db) == before  # no cells table added, no WAL switch, no -wal/-shm files


def test_foreign_sqlite_is_refused_and_untouched_by_run(cli, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    db = _foreign(out / "results.sqlite")
    before = _digest(db)
    assert_one_line(cli(*toy_run(out)), 2, str(db), "not a wsbench results database")
    assert _digest(db) == before


@pytest.mark.parametrize(
    "content",
    [b"", b"SQLite format 3\x00" + b"\xff" * 2000, b"hello, not a database" * 100],
    ids=["zero-byte", "torn-header", "text"],
)
def test_corrupt_results_file_is_refused(cli, tmp_path, content):
    db = tmp_path / "results.sqlite"
    db.write_bytes(content)
    res = cli("leaderboard", "--results", db, "--to", tmp_path / "t")
    if content:
        assert_one_line(res, 1, str(db), "not a readable results database", "corrupt")
    else:  # an empty file is an empty database: nothing to show, and it stays empty
        assert_one_line(res, 2, str(db), "not a wsbench results database")
    assert db.read_bytes() == content


def test_corrupt_record_names_the_cell(cli, tmp_path, finished_run):
    db = finished_run / "results.sqlite"
    con = sqlite3.connect(db)
    (cell,) = con.execute("SELECT id FROM cells ORDER BY id LIMIT 1").fetchone()
    con.execute("UPDATE cells SET metrics = '{torn' WHERE id = ?", (cell,))
    con.commit()
    con.close()
    res = cli("leaderboard", "--results", finished_run, "--to", tmp_path / "t")
    assert_one_line(res, 1, str(db), f"record '{cell}' has a corrupt metrics column", "re-run")


def test_newer_schema_is_refused(cli, tmp_path, finished_run):
    db = finished_run / "results.sqlite"
    con = sqlite3.connect(db)
    con.execute("PRAGMA user_version = 99")
    con.commit()
    con.close()
    res = cli("leaderboard", "--results", finished_run, "--to", tmp_path / "t")
    assert_one_line(res, 2, str(db), "results schema 99 is newer", "upgrade wsbench")


def test_archived_results_in_a_read_only_folder_are_read(cli, tmp_path, finished_run):
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "results.sqlite").write_bytes((finished_run / "results.sqlite").read_bytes())
    before = _digest(archive / "results.sqlite")
    archive.chmod(0o555)
    try:
        res = cli("leaderboard", "--results", archive, "--to", tmp_path / "t")
    finally:
        archive.chmod(0o755)
    assert res.exit_code == 0, res.output
    assert (tmp_path / "t" / "toy.md").is_file()
    assert _digest(archive / "results.sqlite") == before  # read-only: no WAL, no -shm


def test_reading_never_switches_the_journal_mode(tmp_path, finished_run):
    from wsbench.store import Store

    db = tmp_path / "copy.sqlite"
    con = sqlite3.connect(db)
    sqlite3.connect(finished_run / "results.sqlite").backup(con)
    con.execute("PRAGMA journal_mode=DELETE")
    con.close()
    with Store(db, read_only=True) as store:
        assert len(store.records()) == 2
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    con.close()


def test_nan_metric_is_stored_as_null(tmp_path):
    from wsbench.store import Store

    db = tmp_path / "r.sqlite"
    record = {c: "x" for c in ("id", "dataset", "target", "protocol", "labeler", "segmenter")}
    record.update(seed=0, status="done", finished_at="now", wall_s=1.0)
    record["metrics"] = {"dice": 0.5, "hd95": math.nan, "ahd": np.float64("inf")}
    with Store(db) as store:
        store.put(record)
    (raw,) = sqlite3.connect(db).execute("SELECT metrics FROM cells").fetchone()
    assert json.loads(raw, parse_constant=lambda c: pytest.fail(f"bare {c}")) == {
        "dice": 0.5,
        "hd95": None,
        "ahd": None,
    }


def test_plan_reads_the_store_without_touching_it(cli, tmp_path, finished_run):
    db = finished_run / "results.sqlite"
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("PRAGMA journal_mode=DELETE")
    con.close()
    before = _digest(db)
    res = cli("plan", *toy_run(finished_run, "--seeds", "0,1")[1:])
    assert res.exit_code == 0, res.output
    assert _digest(db) == before  # no WAL switch, no -wal/-shm files
