"""The results store: one SQLite row per cell identity, with provenance.

``<out>/results.sqlite`` runs in WAL mode and commits once per finished cell, so an
interrupted grid keeps every cell it finished. Only the driver process of a run
writes it. The store writes and reads; it does not compute.

A row's ``id`` is the cell's identity (resolved parameters, versions, profile, data
fingerprint, split): when any of them changes the cell gets a new row and the old one
stays. ``config_id`` names the configuration without versions or data state, so
``records(latest=True)`` gives the newest row per configuration. A failed record never
replaces a finished one of the same identity.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cells (
    id TEXT PRIMARY KEY,
    dataset TEXT NOT NULL,
    target TEXT NOT NULL,
    protocol TEXT NOT NULL,
    labeler TEXT NOT NULL,
    segmenter TEXT NOT NULL,
    seed INTEGER NOT NULL,
    sweep TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    metrics TEXT NOT NULL,
    per_case TEXT NOT NULL,
    pseudo TEXT NOT NULL,
    provenance TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    wall_s REAL NOT NULL,
    config_id TEXT
)
"""
_JSON = ("sweep", "metrics", "per_case", "pseudo", "provenance")
_COLUMNS = (
    "id",
    "config_id",
    "dataset",
    "target",
    "protocol",
    "labeler",
    "segmenter",
    "seed",
    "sweep",
    "status",
    "error",
    "metrics",
    "per_case",
    "pseudo",
    "provenance",
    "finished_at",
    "wall_s",
)


class Store:
    """Results of grid cells in ``path`` (created on first use)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(cells)")}
        if "config_id" not in columns:  # a store written before config_id existed
            self._db.execute("ALTER TABLE cells ADD COLUMN config_id TEXT")
        self._db.commit()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def put(self, record: Any) -> bool:
        """Store one cell's record (a dict or ``CellRecord``) in its own transaction.
        A failed record does not replace a finished one; returns whether it was stored."""
        if hasattr(record, "to_dict"):
            record = record.to_dict()
        row = [
            json.dumps(record.get(c, {}), default=_plain) if c in _JSON else record.get(c)
            for c in _COLUMNS
        ]
        with self._db:
            if record.get("status") != "done":
                cur = self._db.execute("SELECT status FROM cells WHERE id = ?", (record["id"],))
                old = cur.fetchone()
                if old is not None and old[0] == "done":
                    return False
            self._db.execute(
                f"INSERT OR REPLACE INTO cells ({', '.join(_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_COLUMNS))})",
                row,
            )
        return True

    def get(self, cell_id: str) -> dict[str, Any] | None:
        cur = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM cells WHERE id = ?", (cell_id,))
        row = cur.fetchone()
        return _decode(row) if row else None

    def records(self, latest: bool = False, **where: Any) -> list[dict[str, Any]]:
        """Rows matching ``where`` (column = value). ``latest=True``: one row per
        configuration, the newest finished one (else the newest)."""
        clauses = " AND ".join(f"{k} = ?" for k in where)
        sql = f"SELECT {', '.join(_COLUMNS)} FROM cells" + (f" WHERE {clauses}" if where else "")
        rows = [_decode(r) for r in self._db.execute(sql + " ORDER BY id", tuple(where.values()))]
        if not latest:
            return rows
        best: dict[str, dict[str, Any]] = {}
        for r in rows:
            key = r["config_id"] or r["id"]
            held = best.get(key)
            if held is None or _newer(r, held):
                best[key] = r
        return sorted(best.values(), key=lambda r: r["id"])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.records())


def _newer(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Finished beats failed; then the later ``finished_at``."""
    return (a["status"] == "done", a["finished_at"] or "") > (
        b["status"] == "done",
        b["finished_at"] or "",
    )


def _decode(row: tuple) -> dict[str, Any]:
    out = dict(zip(_COLUMNS, row))
    for c in _JSON:
        out[c] = json.loads(out[c]) if out[c] else {}
    return out


def _plain(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)
