"""The results store: one SQLite row per cell identity, with provenance.

``<out>/results.sqlite`` runs in WAL mode and commits once per finished cell, so an
interrupted grid keeps every cell it finished. Only the driver process of a run
writes it. The store writes and reads; it does not compute.

A row's ``id`` is the cell's identity (resolved parameters, versions, profile, data
fingerprint, split): when any of them changes the cell gets a new row and the old one
stays. ``config_id`` names the configuration without versions or data state, so
``records(latest=True)`` gives the newest row per configuration. A failed record never
replaces a finished one of the same identity.

A results file is untrusted input. ``Store(path, read_only=True)`` (what the leaderboard
uses) opens it read-only and never switches its journal mode or migrates it, so archived
results in a read-only folder can be read. Before anything is read or written the file
must be a wsbench store: an SQLite database whose ``cells`` table has the columns below,
with a ``user_version`` no newer than ``SCHEMA_VERSION``. A corrupt file (``DataError``)
or a foreign or newer database (``WsbenchError``) is refused with one line and never
modified. JSON columns hold no bare NaN: non-finite numbers are stored as null.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from wsbench import safejson
from wsbench.errors import DataError, WsbenchError

SCHEMA_VERSION = 1  # PRAGMA user_version of stores this code writes

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
    """Results of grid cells in ``path`` (created on first use unless ``read_only``)."""

    def __init__(self, path: Path, *, read_only: bool = False):
        self.path = Path(path)
        self.read_only = read_only
        if read_only:
            if not self.path.is_file():
                raise WsbenchError(f"{self.path}: no such results file; run `wsbench run` first")
            self._db = _connect_read_only(self.path)
            try:
                self._columns = _check_is_store(self._db, self.path, empty_ok=False)
            except BaseException:
                self._db.close()
                raise
            return
        if self.path.exists() and not self.path.is_file():
            raise WsbenchError(f"{self.path}: is a folder, not a results file; remove or rename it")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_file() and self.path.stat().st_size > 0:
            probe = _connect_read_only(self.path)  # prove it is ours: a refusal changes nothing
            try:
                _check_is_store(probe, self.path, empty_ok=True)
            finally:
                probe.close()
        self._db = sqlite3.connect(str(self.path), timeout=60)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
            columns = {r[1] for r in self._db.execute("PRAGMA table_info(cells)")}
            if "config_id" not in columns:  # a store written before config_id existed
                self._db.execute("ALTER TABLE cells ADD COLUMN config_id TEXT")
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._db.commit()
        except sqlite3.Error as exc:
            self._db.close()
            raise WsbenchError(
                f"{self.path}: cannot write the results database ({exc}); give a writable --out"
            ) from None
        self._columns = set(_COLUMNS)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def put(self, record: Any) -> bool:
        """Store one cell's record (a dict or ``CellRecord``) in its own transaction.
        A failed record does not replace a finished one; returns whether it was stored."""
        if self.read_only:
            raise WsbenchError(f"{self.path}: opened read-only; open it with read_only=False")
        if hasattr(record, "to_dict"):
            record = record.to_dict()
        row = [
            safejson.dumps(record.get(c, {}), default=_plain) if c in _JSON else record.get(c)
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
        cur = self._query(f"SELECT {self._select()} FROM cells WHERE id = ?", (cell_id,))
        row = cur.fetchone()
        return _decode(row, self.path) if row else None

    def records(self, latest: bool = False, **where: Any) -> list[dict[str, Any]]:
        """Rows matching ``where`` (column = value). ``latest=True``: one row per
        configuration, the newest finished one (else the newest)."""
        unknown = [k for k in where if k not in _COLUMNS]
        if unknown:
            raise KeyError(f"no column {unknown[0]!r} in the results store")
        clauses = " AND ".join(f"{k} = ?" for k in where)
        sql = f"SELECT {self._select()} FROM cells" + (f" WHERE {clauses}" if where else "")
        order = " ORDER BY rowid" if latest else " ORDER BY id"
        found = self._query(sql + order, tuple(where.values())).fetchall()
        rows = [_decode(r, self.path) for r in found]
        if not latest:
            return rows
        best: dict[str, dict[str, Any]] = {}
        for r in rows:  # in write order: on a tie (same second) the later write wins
            key = r["config_id"] or r["id"]
            held = best.get(key)
            if held is None or not _newer(held, r):
                best[key] = r
        return sorted(best.values(), key=lambda r: r["id"])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.records())

    def _select(self) -> str:
        """The column list; NULL for config_id in a read-only store that predates it."""
        return ", ".join(c if c in self._columns else f"NULL AS {c}" for c in _COLUMNS)

    def _query(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        try:
            return self._db.execute(sql, args)
        except sqlite3.DatabaseError as exc:
            raise DataError(
                f"{self.path}: results database is corrupt ({exc}); restore it from a copy "
                "or re-run into a new --out"
            ) from None


def _newer(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Finished beats failed; then the later ``finished_at`` (whole seconds)."""
    return (a["status"] == "done", a["finished_at"] or "") > (
        b["status"] == "done",
        b["finished_at"] or "",
    )


def _decode(row: tuple, path: Path) -> dict[str, Any]:
    out = dict(zip(_COLUMNS, row))
    for c in _JSON:
        try:
            out[c] = json.loads(out[c]) if out[c] else {}
        except (TypeError, ValueError):
            raise DataError(
                f"{path}: record {str(out['id'])[:80]!r} has a corrupt {c} column; restore the "
                "file from a copy or delete that cell's row and re-run it"
            ) from None
    return out


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """A read-only handle that creates no file. Without a ``-wal`` beside it the database
    holds every committed row and is opened immutable (SQLite would otherwise create
    ``-wal``/``-shm`` files, impossible in a read-only folder); with one, a writer may be
    at work, and it is opened ``mode=ro`` to see its commits."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    wal = path.with_name(path.name + "-wal")
    if not wal.exists() or not os.access(path.parent, os.W_OK):
        uri += "&immutable=1"
    try:
        return sqlite3.connect(uri, uri=True, timeout=60)
    except sqlite3.Error as exc:
        raise DataError(f"{path}: cannot open the results database ({exc})") from None


def _check_is_store(db: sqlite3.Connection, path: Path, *, empty_ok: bool) -> set[str]:
    """The ``cells`` columns of a wsbench store; refuses anything else (or, when
    ``empty_ok``, accepts an empty database)."""
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        columns = {r[1] for r in db.execute("PRAGMA table_info(cells)")}
    except sqlite3.DatabaseError as exc:
        raise DataError(
            f"{path}: not a readable results database ({exc}); it is corrupt or another kind "
            "of file: point at a run's results.sqlite"
        ) from None
    if not tables and empty_ok:
        return columns
    required = set(_COLUMNS) - {"config_id"}  # config_id came later; older stores lack it
    if "cells" not in tables or not required <= columns:
        found = ", ".join(sorted(tables)[:5]) or "no tables"
        missing = sorted(required - columns)[:3]
        why = f"missing columns {', '.join(missing)}" if "cells" in tables else found
        raise WsbenchError(
            f"{path}: not a wsbench results database ({why}); left untouched: point at a "
            "run's results.sqlite, or use a new --out"
        )
    if version > SCHEMA_VERSION:
        raise WsbenchError(
            f"{path}: results schema {version} is newer than this wsbench reads "
            f"({SCHEMA_VERSION}); upgrade wsbench"
        )
    return columns


def _plain(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)
