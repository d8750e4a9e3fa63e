"""The results store: WAL, one transaction per cell, JSON round trips."""

import sqlite3

from wsbench.store import Store


def _record(i, status="done"):
    return {
        "id": f"cell{i}",
        "dataset": "d",
        "target": "t",
        "protocol": "box",
        "labeler": "l",
        "segmenter": "s",
        "seed": i,
        "sweep": {"weak.alpha": "0.5"},
        "status": status,
        "error": None,
        "metrics": {"dice": 0.5 + i / 10},
        "per_case": [{"case": "a"}],
        "pseudo": {"dice": 0.4},
        "provenance": {"git_sha": "abc"},
        "finished_at": "2026-01-01T00:00:00+00:00",
        "wall_s": 1.5,
    }


def test_round_trip_and_filters(tmp_path):
    with Store(tmp_path / "results.sqlite") as store:
        store.put(_record(0))
        store.put(_record(1, "failed"))
        assert store.get("cell0")["metrics"] == {"dice": 0.5}
        assert store.get("cell1")["status"] == "failed"
        assert [r["id"] for r in store.records(status="done")] == ["cell0"]
        assert store.get("missing") is None
        store.put({**_record(1), "metrics": {"dice": 0.9}})  # a re-run replaces the cell
        assert store.get("cell1")["metrics"] == {"dice": 0.9}


def test_wal_and_each_put_is_committed(tmp_path):
    path = tmp_path / "results.sqlite"
    store = Store(path)
    store.put(_record(0))
    # another connection sees the cell while the first is still open: it was committed
    other = sqlite3.connect(str(path))
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert other.execute("SELECT count(*) FROM cells").fetchone()[0] == 1
    other.close()
    store.close()
