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


def test_a_failure_never_replaces_a_finished_record(tmp_path):
    with Store(tmp_path / "results.sqlite") as store:
        store.put(_record(0))
        assert not store.put(_record(0, "failed"))
        assert store.get("cell0")["status"] == "done"


def test_latest_gives_the_newest_finished_row_per_configuration(tmp_path):
    with Store(tmp_path / "results.sqlite") as store:
        old = {**_record(0), "config_id": "c", "finished_at": "2026-01-01T00:00:00+00:00"}
        new = {**_record(1), "config_id": "c", "finished_at": "2026-02-01T00:00:00+00:00"}
        newer_failed = {**_record(2, "failed"), "config_id": "c", "finished_at": "2026-03-01"}
        other = {**_record(3), "config_id": "d"}
        for r in (old, new, newer_failed, other):
            store.put(r)
        assert len(store.records()) == 4  # old rows stay beside new ones
        assert [r["id"] for r in store.records(latest=True)] == ["cell1", "cell3"]


def test_latest_breaks_a_same_second_tie_by_write_order(tmp_path):
    same = "2026-01-01T00:00:00+00:00"
    with Store(tmp_path / "results.sqlite") as store:
        for cell in ("cell9", "cell1"):  # written second, sorts first
            store.put({**_record(0), "id": cell, "config_id": "c", "finished_at": same})
        assert [r["id"] for r in store.records(latest=True)] == ["cell1"]
        store.put({**_record(0), "id": "cell9", "config_id": "c", "finished_at": same})
        assert [r["id"] for r in store.records(latest=True)] == ["cell9"]


def test_a_store_without_config_id_is_migrated(tmp_path):
    path = tmp_path / "results.sqlite"
    db = sqlite3.connect(str(path))
    db.execute(
        "CREATE TABLE cells (id TEXT PRIMARY KEY, dataset TEXT NOT NULL, target TEXT NOT NULL, "
        "protocol TEXT NOT NULL, labeler TEXT NOT NULL, segmenter TEXT NOT NULL, seed INTEGER "
        "NOT NULL, sweep TEXT NOT NULL, status TEXT NOT NULL, error TEXT, metrics TEXT NOT NULL, "
        "per_case TEXT NOT NULL, pseudo TEXT NOT NULL, provenance TEXT NOT NULL, finished_at "
        "TEXT NOT NULL, wall_s REAL NOT NULL)"
    )
    db.commit()
    db.close()
    with Store(path) as store:
        store.put({**_record(0), "config_id": "c"})
        assert store.records(latest=True)[0]["config_id"] == "c"
