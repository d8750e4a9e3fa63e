"""The results store: one SQLite row per grid cell, with provenance.

``<out>/results.sqlite`` runs in WAL mode and commits once per finished cell, so an
interrupted grid keeps every cell it finished. The store writes and reads; it does
not compute.
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
    wall_s REAL NOT NULL
)
"""
_JSON = ("sweep", "metrics", "per_case", "pseudo", "provenance")
_COLUMNS = (
    "id",
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
        self._db = sqlite3.connect(str(self.path))
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        self._db.commit()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def put(self, record: dict[str, Any]) -> None:
        """Insert or replace one cell's record in its own transaction."""
        row = [
            json.dumps(record.get(c, {}), default=_plain) if c in _JSON else record.get(c)
            for c in _COLUMNS
        ]
        with self._db:
            self._db.execute(
                f"INSERT OR REPLACE INTO cells ({', '.join(_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_COLUMNS))})",
                row,
            )

    def get(self, cell_id: str) -> dict[str, Any] | None:
        cur = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM cells WHERE id = ?", (cell_id,))
        row = cur.fetchone()
        return _decode(row) if row else None

    def records(self, **where: Any) -> list[dict[str, Any]]:
        clauses = " AND ".join(f"{k} = ?" for k in where)
        sql = f"SELECT {', '.join(_COLUMNS)} FROM cells" + (f" WHERE {clauses}" if where else "")
        return [_decode(r) for r in self._db.execute(sql + " ORDER BY id", tuple(where.values()))]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.records())


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
