"""Written leaderboards: tables, the records they come from, and the staleness check.

A published grid folder (``leaderboards/<grid>/``) holds:

- ``records.json``: the newest record of every configuration of the grid's run (what
  ``wsbench.leaderboard.rows.latest`` keeps), so that tables and site rebuild from
  committed files alone;
- ``<dataset>.md``, ``.csv``, ``.json``: the tables built from those records;
- ``<dataset>-<param>.png``: a figure per numeric sweep;
- ``overlays/<record>/<case>.png``: the gallery's worst and best case of each row, and
  ``overlays/<record>/pseudo-label.png``: a training case's pseudo label.

``check`` rebuilds the tables from ``records.json`` with the current code and compares
them with the committed ones, and compares every record's plugin and wsbench versions
with the installed ones: either difference means the folder is stale.
"""

from __future__ import annotations

import inspect
import json
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wsbench import safejson
from wsbench.api import Reported
from wsbench.errors import WsbenchError
from wsbench.leaderboard import tables
from wsbench.leaderboard.rows import PluginInfo, build_rows, latest, plugin_info, sweep_params
from wsbench.leaderboard.site import PSEUDO, Source, find_overlay, safe_slug, select_gallery

RECORDS = "records.json"
SITE = "site"  # leaderboards/site/: the site built from the grid folders beside it
SITE_COMMAND = "wsbench leaderboard --results {folder}/<grid> ... --site {folder}/site"


def load_source(path: Path) -> Source:
    """A run folder (with results.sqlite), a results.sqlite, or a published folder
    (with records.json)."""
    path = Path(path)
    if path.is_dir() and (path / RECORDS).is_file():
        return Source(path.name, _read_records(path / RECORDS), [path])
    if path.is_file() and path.name == RECORDS:
        return Source(path.parent.name, _read_records(path), [path.parent])
    db = path if path.suffix == ".sqlite" else path / "results.sqlite"
    if not db.is_file():
        raise WsbenchError(
            f"--results {path}: no results.sqlite (or {RECORDS}) there; run "
            "`wsbench run --out DIR` first and pass that DIR, or a published leaderboards/<grid>"
        )
    from wsbench.store import Store

    with Store(db, read_only=True) as store:
        # a store that selects the newest row per configuration itself says so with a
        # ``latest`` parameter; ``latest()`` below is applied either way
        if "latest" in inspect.signature(store.records).parameters:
            records = store.records(latest=True)  # type: ignore[call-arg]
        else:
            records = store.records()
    name = db.parent.name if db.parent.name not in ("", ".") else "results"
    return Source(name, latest(records), [db.parent])


def _read_records(path: Path) -> list[dict[str, Any]]:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise WsbenchError(f"{path}: not a readable records file ({exc}); rebuild it") from exc
    records = doc.get("records") if isinstance(doc, dict) else None
    if not isinstance(records, list):
        raise WsbenchError(f"{path}: no 'records' list; rebuild it with wsbench leaderboard")
    return records


def write(
    rows: Sequence[dict[str, Any]],
    records: Sequence[dict[str, Any]],
    to: Path,
    reported: Sequence[Reported] = (),
    roots: Sequence[Path] = (),
    info: PluginInfo | None = None,
) -> list[Path]:
    """``<to>/<dataset>.md``, ``.csv``, ``.json``, ``records.json``, sweep figures, and the
    gallery's overlays copied from ``roots`` (run folders)."""
    info = info or plugin_info()
    to = Path(to)
    to.mkdir(parents=True, exist_ok=True)
    kept = latest(records)
    written = [_write_records(kept, to)]
    written += _write_tables(rows, to, reported, info)
    for dataset in sorted({r["dataset"] for r in rows}):
        ds_rows = [r for r in rows if r["dataset"] == dataset]
        ds_recs = [r for r in kept if r["dataset"] == dataset]
        written += _figures(ds_recs, ds_rows, to, dataset)
        if roots:
            written += _copy_overlays(ds_rows, ds_recs, roots, to)
    return written


def _write_records(records: Sequence[dict[str, Any]], to: Path) -> Path:
    path = to / RECORDS
    doc = {"records": sorted(records, key=lambda r: str(r.get("id")))}
    path.write_text(safejson.dumps(doc, indent=1, sort_keys=True, default=str) + "\n")
    return path


def _write_tables(rows, to: Path, reported, info) -> list[Path]:
    written = []
    for dataset in sorted({r["dataset"] for r in rows}):
        stem = _stem(dataset)
        for ext, text in (
            ("md", tables.to_markdown(rows, dataset, reported, info)),
            ("csv", tables.to_csv(rows, dataset)),
            ("json", tables.to_json(rows, dataset, info)),
        ):
            path = to / f"{stem}.{ext}"
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


def plain_name(name: str) -> str:
    """Plain names keep their name (``synthetic.md``, ``default/``); others get a slug."""
    return name if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", name) else safe_slug(name)


_stem = plain_name


def _figures(records, rows, to: Path, dataset: str) -> list[Path]:
    from wsbench.leaderboard.figures import plot_metric_vs_param

    out = []
    done = [r for r in records if r.get("status") == "done"]
    for param in sweep_params(rows):
        values = {r["sweep"].get(param) for r in rows}
        if len(values) < 2 or not all(_is_number(v) for v in values):
            continue
        plain = re.fullmatch(r"[A-Za-z0-9_.]+", param)
        name = f"{_stem(dataset)}-{param.replace('.', '_') if plain else safe_slug(param)}.png"
        out.append(plot_metric_vs_param(done, param, "dice", to / name))
    return out


def _copy_overlays(rows, records, roots: Sequence[Path], to: Path) -> list[Path]:
    written = []
    for item in select_gallery(rows, records, roots):
        name = "pseudo-label" if item.which == PSEUDO else safe_slug(item.case)
        dest = to / "overlays" / safe_slug(item.record_id) / f"{name}.png"
        if dest.resolve() == Path(item.path).resolve():
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(item.path, dest)
        written.append(dest)
    return written


# ---------------------------------------------------------------------------
# Staleness


def check(folder: Path, registry: Any = None) -> list[str]:
    """Problems that make the published leaderboards under ``folder`` stale (empty: fresh).

    ``folder`` holds one sub-folder per published grid."""
    import wsbench
    from wsbench.plugins import load_registry

    registry = registry or load_registry()
    info = plugin_info(registry)
    reported = registry.reported()
    folder = Path(folder)
    subs = sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    site = folder / SITE
    grids = [p for p in subs if p != site]
    if not grids:
        return [f"{folder}: no published grid folders; publish with wsbench leaderboard --to"]
    problems = []
    for grid in grids:
        if not (grid / RECORDS).is_file():
            problems.append(
                f"{grid}: no {RECORDS}; re-run the grid and write it with "
                f"`wsbench leaderboard --results RUN --to {grid}`"
            )
            continue
        records = _read_records(grid / RECORDS)
        problems += _version_problems(grid, records, info, wsbench.__version__)
        rows = build_rows(records, reported, info)
        with tempfile.TemporaryDirectory() as tmp:
            fresh = _write_tables(rows, Path(tmp), reported, info)
            for path in fresh:
                committed = grid / path.name
                if not committed.is_file():
                    problems.append(f"{committed}: missing; rebuild the tables")
                elif committed.read_text(encoding="utf-8") != path.read_text(encoding="utf-8"):
                    problems.append(
                        f"{committed}: differs from what the current code builds from "
                        f"{RECORDS}; rebuild with "
                        f"`wsbench leaderboard --results {grid} --to {grid}`"
                    )
            names = {p.name for p in fresh} | {RECORDS}
            for extra in sorted(grid.glob("*.md")) + sorted(grid.glob("*.csv")):
                if extra.name not in names and extra.name != "README.md":
                    problems.append(f"{extra}: not built from {RECORDS}; remove it")
    if site.is_dir() and not problems:
        problems += _site_problems(site, grids, reported, info)
    return problems


def _site_problems(site: Path, grids: Sequence[Path], reported, info) -> list[str]:
    """The committed site against one rebuilt from the committed grid folders (pages and
    downloads; the PNG figures are not compared byte for byte)."""
    from wsbench.leaderboard.site import build_site

    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        build_site(
            [load_source(g) for g in grids if (g / RECORDS).is_file()], fresh, reported, info
        )
        want = {p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file()}
        have = {p.relative_to(site) for p in site.rglob("*") if p.is_file()}
        problems = [f"{site / p}: missing" for p in sorted(want - have)]
        problems += [f"{site / p}: not part of the site any more" for p in sorted(have - want)]
        for rel in sorted(want & have):
            if (
                rel.suffix in (".html", ".csv", ".json")
                and (fresh / rel).read_bytes() != (site / rel).read_bytes()
            ):
                problems.append(f"{site / rel}: differs from the rebuilt site")
    if problems:
        problems.append(f"rebuild the site: {SITE_COMMAND.format(folder=site.parent)}")
    return problems


def _version_problems(grid: Path, records, info: PluginInfo, wsbench_version: str) -> list[str]:
    problems: set[str] = set()
    for r in records:
        prov = r.get("provenance") or {}
        if prov.get("wsbench") and prov["wsbench"] != wsbench_version:
            problems.add(
                f"{grid}: records of wsbench {prov['wsbench']}, installed {wsbench_version}; "
                "re-run the grid"
            )
        for kind, p in (prov.get("plugins") or {}).items():
            if not isinstance(p, dict) or not p.get("name") or p.get("version") is None:
                continue  # e.g. a dataset's native weak labels: no plugin, no version
            now = info.versions.get((kind, str(p["name"])))
            if now is None:
                problems.add(f"{grid}: {kind} {p['name']} is not installed; re-run the grid")
            elif str(p.get("version")) != now:
                problems.add(
                    f"{grid}: records of {kind} {p['name']} {p.get('version')}, installed {now}; "
                    "re-run the grid"
                )
    return sorted(problems)


def _is_number(v: Any) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


__all__ = ["RECORDS", "check", "find_overlay", "load_source", "write"]
