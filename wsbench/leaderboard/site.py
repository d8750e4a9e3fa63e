"""The static leaderboard site: HTML with inline CSS and JS, PNG figures, no external
requests, so it works from ``file://`` and from any static host.

Every plugin- or dataset-provided string goes through ``esc`` (HTML escaping), and every
file name comes from ``safe_slug``, never from a raw name.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import re
import shutil
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wsbench import stats
from wsbench.api import Reported
from wsbench.leaderboard import tables
from wsbench.leaderboard.costs import COSTS, weak_kind
from wsbench.leaderboard.rows import (
    MAIN_METRIC,
    Board,
    PluginInfo,
    build_rows,
    cell_text,
    class_names,
    compared_boards,
    labeler_tags,
    metric_digits,
    metric_title,
    misses_text,
    plugin_info,
    reported_metric_keys,
    scored_text,
    shown_metrics,
    sweep_params,
    vs_best_text,
)


@dataclass
class Source:
    """One published grid: its records and where its overlay pictures are."""

    name: str
    records: list[dict[str, Any]]
    roots: list[Path] = field(default_factory=list)


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def safe_slug(text: Any, limit: int = 40) -> str:
    """A file-name-safe slug: lower-case ASCII letters, digits and dashes, plus a short
    hash of the original so that different names never collide."""
    raw = str(text)
    base = re.sub(r"[^a-z0-9]+", "-", raw.lower()).strip("-")[:limit] or "x"
    return f"{base}-{hashlib.sha256(raw.encode()).hexdigest()[:6]}"


# ---------------------------------------------------------------------------
# Gallery


@dataclass(frozen=True)
class GalleryItem:
    row: int  # index into the rows of the page
    which: str  # "worst" or "best"
    case: str
    score: float
    record_id: str
    path: Path


def find_overlay(roots: Sequence[Path], dataset: str, record_id: str, case: str) -> Path | None:
    """The first overlay PNG of ``case`` in a run folder or a published folder."""
    for root in roots:
        root = Path(root)
        published = root / "overlays" / safe_slug(record_id) / f"{safe_slug(case)}.png"
        if published.is_file():
            return published
        cell = root / str(dataset) / str(record_id) / "overlays"
        if not _inside(cell, root) or not cell.is_dir():
            continue
        hits = sorted(p for p in cell.glob("*.png") if p.name.startswith(f"{case}_z"))
        if hits and _inside(hits[0], root):
            return hits[0]
    return None


def find_pseudo_overlay(roots: Sequence[Path], dataset: str, record_id: str) -> Path | None:
    """The overlay of a training case's pseudo label (ground truth beside the pseudo mask)
    that a run draws under ``<cell>/train/overlays/``, or its published copy."""
    for root in roots:
        root = Path(root)
        published = root / "overlays" / safe_slug(record_id) / "pseudo-label.png"
        if published.is_file():
            return published
        cell = root / str(dataset) / str(record_id) / "train" / "overlays"
        if _inside(cell, root) and cell.is_dir():
            hits = sorted(cell.glob("*.png"))
            if hits and _inside(hits[0], root):
                return hits[0]
    return None


def select_gallery(
    rows: Sequence[dict[str, Any]],
    records: Sequence[dict[str, Any]],
    roots: Sequence[Path],
    metric: str = MAIN_METRIC,
) -> list[GalleryItem]:
    """Per row, its worst and best test case (by ``metric``) among those with overlays,
    and the pseudo label of a training case when the run drew one."""
    by_id = {str(r.get("id")): r for r in records}
    items = []
    for i, row in enumerate(rows):
        cands = []
        for rid in (row.get("provenance") or {}).get("records", []):
            rec = by_id.get(rid)
            for case in (rec or {}).get("per_case") or []:
                score = case.get(metric)
                if not isinstance(score, (int, float)) or not math.isfinite(score):
                    continue
                path = find_overlay(roots, row["dataset"], rid, str(case.get("case")))
                if path is not None:
                    cands.append((float(score), str(case.get("case")), rid, path))
        if not cands:
            continue
        cands.sort(key=lambda c: (c[0], c[1], c[2]))
        chosen = [("worst", cands[0])] + ([("best", cands[-1])] if len(cands) > 1 else [])
        for which, (score, case, rid, path) in chosen:
            items.append(GalleryItem(i, which, case, score, rid, path))
        rid = chosen[0][1][2]
        pseudo = find_pseudo_overlay(roots, row["dataset"], rid)
        if pseudo is not None:
            items.append(GalleryItem(i, PSEUDO, "training case", math.nan, rid, pseudo))
    return items


PSEUDO = "pseudo label"


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


# ---------------------------------------------------------------------------
# The site


def build_site(
    sources: Sequence[Source],
    out: Path,
    reported: Sequence[Reported] = (),
    info: PluginInfo | None = None,
) -> list[Path]:
    """Write ``out/index.html`` and one page per grid and dataset; returns the pages."""
    info = info or plugin_info()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for sub in ("img", "files"):
        shutil.rmtree(out / sub, ignore_errors=True)
        (out / sub).mkdir()
    pages: list[Path] = []
    index: list[tuple[Source, str, str, list[list[dict[str, Any]]]]] = []
    for src in sorted(sources, key=lambda s: s.name):
        rows = build_rows(src.records, reported, info)
        for dataset in sorted({r["dataset"] for r in rows}):
            ds_rows = [r for r in rows if r["dataset"] == dataset]
            page = f"{safe_slug(src.name)}--{safe_slug(dataset)}.html"
            body = _dataset_page(src, dataset, ds_rows, out, page, reported, info)
            (out / page).write_text(_html(f"{src.name} — {dataset}", body), encoding="utf-8")
            pages.append(out / page)
            index.append((src, dataset, page, [b.rows for b in compared_boards(ds_rows, info)]))
    (out / "index.html").write_text(_html("wsbench leaderboard", _index(index)), encoding="utf-8")
    (out / ".nojekyll").write_text("")
    return [out / "index.html", *pages]


def _index(entries) -> str:
    parts = [
        "<h1>wsbench leaderboard</h1>",
        "<p>Weakly-supervised medical image segmentation: every labeler × segmenter of each "
        "published grid, with intervals, paired tests and the papers' own numbers.</p>",
        _conventions(),
    ]
    by_grid: dict[str, list] = defaultdict(list)
    for src, dataset, page, bds in entries:
        by_grid[src.name].append((src, dataset, page, bds))
    for grid, items in by_grid.items():
        src = items[0][0]
        parts.append(f"<h2>grid {esc(grid)}</h2>")
        parts.append(_grid_provenance(src.records))
        parts.append("<ul class='toc'>")
        for _, dataset, page, bds in items:
            parts.append(f"<li><a href='{esc(page)}'>{esc(dataset)}</a><ul>")
            for bd in bds:
                r = bd[0]
                n = sum(1 for x in bd if x.get("seeds"))
                parts.append(
                    f"<li><a href='{esc(page)}#{_board_anchor(r)}'>{_board_title(r)}</a> "
                    f"<span class='muted'>({n} runs)</span></li>"
                )
            parts.append("</ul></li>")
        parts.append("</ul>")
    return "\n".join(parts)


def _grid_provenance(records: Sequence[dict[str, Any]]) -> str:
    provs = [r.get("provenance") or {} for r in records]

    def values(key: str) -> str:
        vals = sorted({str(p.get(key)) for p in provs if p.get(key) is not None})
        return ", ".join(esc(v) for v in vals) or "–"

    done = sum(1 for r in records if r.get("status") == "done")
    when = sorted(str(r.get("finished_at") or "") for r in records if r.get("finished_at"))
    return (
        "<p class='prov'>"
        f"{done} finished of {len(records)} stored cells · wsbench {values('wsbench')} · "
        f"profile {values('profile')} · device {values('device')} · git {values('git_sha')}"
        + (f" · finished {esc(when[0])} to {esc(when[-1])}" if when else "")
        + "</p>"
    )


def _conventions() -> str:
    return (
        "<div class='conv'><b>How to read the tables.</b> "
        f"{esc(stats.PM_FOOTER)}. {esc(stats.CI_FOOTER)}. {esc(stats.TEST_FOOTER)}. "
        "↑ / ↓: higher / lower is better (declared by each metric plugin). "
        "<span class='tag base'>baseline</span> marks box-fill, the oracle and any labeler "
        "that declares itself a baseline. Misses: test cases per seed where a class of the "
        "ground truth is not predicted at all. Click a column title to sort.</div>"
    )


def _board_title(r: dict[str, Any]) -> str:
    kind = weak_kind(r["protocol"])
    sweep = ", ".join(f"{esc(k)} = {esc(v)}" for k, v in sorted(r["sweep"].items()))
    return (
        f"target {esc(r['target'])} · protocol {esc(r['protocol'])} "
        f"(weak label: {esc(kind)})" + (f" · {sweep}" if sweep else "")
    )


def _board_anchor(r: dict[str, Any]) -> str:
    return "b-" + safe_slug(
        json.dumps([r["target"], r["protocol"], r["sweep"]], sort_keys=True, default=str)
    )


def _dataset_page(
    src: Source,
    dataset: str,
    rows: list[dict[str, Any]],
    out: Path,
    page: str,
    reported: Sequence[Reported],
    info: PluginInfo,
) -> str:
    stem = page[: -len(".html")]
    (out / "files" / f"{stem}.csv").write_text(tables.to_csv(rows, dataset), encoding="utf-8")
    (out / "files" / f"{stem}.json").write_text(
        tables.to_json(rows, dataset, info), encoding="utf-8"
    )
    parts = [
        "<p><a href='index.html'>← all leaderboards</a></p>",
        f"<h1>{esc(dataset)} <span class='muted'>grid {esc(src.name)}</span></h1>",
        _grid_provenance([r for r in src.records if r.get("dataset") == dataset]),
        f"<p>Download: <a href='files/{esc(stem)}.csv' download>CSV</a> · "
        f"<a href='files/{esc(stem)}.json' download>JSON</a></p>",
        _conventions(),
    ]
    for t, bd in enumerate(compared_boards(rows, info)):
        parts.append(_board(bd, t, info))
    parts.append(_reported_section(rows))
    parts.append(_figures_section(src, dataset, rows, out, stem, info))
    parts.append(_gallery_section(src, rows, out, stem))
    return "\n".join(parts)


def _board(table: Board, t: int, info: PluginInfo) -> str:
    board, first = table.rows, table.first
    metrics = shown_metrics(board)
    metrics += [f"{MAIN_METRIC}/{c}" for c in class_names(board)]
    others = reported_metric_keys(board)  # the paper's value of its other metrics
    show_misses = any("misses" in r for r in board)
    show_scored = any(r.get("scored") for r in board)  # Fan et al. 2022's per-image protocol
    head = [("labeler", "text", ""), ("segmenter", "text", "")]
    if show_scored:
        head.append(("scored", "text", ""))
    for m in metrics:
        up = info.metric(m).higher_is_better
        head.append((metric_title(m, info), "num", "up" if up else "down"))
    if show_misses:
        head.append(("misses ↓", "num", "down"))
    head += [
        ("vs best", "num", "down"),
        ("pseudo Dice ↑", "num", "up"),
        ("% oracle ↑", "num", "up"),
        ("paper Dice", "num", ""),
        *[(f"paper {metric_title(k, info)[:-2]}", "num", "") for k in others],
        ("seeds", "num", ""),
        ("patients", "num", ""),
        ("provenance", "text", ""),
    ]
    ths = "".join(
        f"<th data-type='{typ}' data-better='{better}' tabindex='0'>{esc(title)}"
        "<span class='sort'></span></th>"
        for title, typ, better in head
    )
    trs = []
    for r in board:
        tags = "".join(
            f" <span class='tag {'base' if t == 'baseline' else 'tuned'}'>{esc(t)}</span>"
            for t in labeler_tags(r)
        )
        cells = [
            f"<td data-v='{esc(r['labeler'])}'>{esc(r['labeler'])}{tags}</td>",
            _td(r["segmenter"], r["segmenter"]),
        ]
        if show_scored:
            scored = scored_text(r)
            cells.append(_td(scored, scored))
        for m in metrics:
            cells.append(_metric_td(r, m, metric_digits(m, info)))
        if show_misses:
            total = r.get("misses_total")
            cells.append(_td(misses_text(r), total if total is not None else ""))
        cells.append(_vs_best_td(r))
        cells.append(_num_td(r.get("pseudo_dice")))
        pct = r.get("pct_oracle")
        cells.append(_td(f"{pct:.0f} %" if _finite(pct) else "–", pct if _finite(pct) else ""))
        cells.append(_reported_td(r))
        for k in others:
            rep = (r.get("reported_metrics") or {}).get(k)
            cells.append(_td(cell_text(r, f"reported:{k}", info), rep["value"] if rep else ""))
        cells.append(_td(len(r.get("seeds") or []) or "–", len(r.get("seeds") or [])))
        cells.append(_td(r.get("n_patients") or "–", r.get("n_patients") or 0))
        cells.append(f"<td>{_provenance(r)}</td>")
        cls = " class='base'" if r.get("baseline") else ""
        cls = " class='ref'" if not r.get("seeds") else cls
        trs.append(f"<tr{cls}>{''.join(cells)}</tr>")
    patients = sorted({r.get("n_patients") or 0 for r in board if r.get("seeds")})
    few = ""
    if patients and patients[0] < 5:
        few = (
            f"<p class='muted'>Only {patients[0]} test patient(s): intervals and paired tests "
            "over so few patients cannot show a difference; read them as such.</p>"
        )
    return (
        f"<section id='{_board_anchor(first)}'><h2>{_board_title(first)}</h2>"
        + few
        + f"<table class='lb sortable' id='t{t}'><thead><tr>{ths}</tr></thead>"
        f"<tbody>{''.join(trs)}</tbody></table>" + _comparisons(table.comparisons) + "</section>"
    )


def _td(text: Any, value: Any) -> str:
    return f"<td data-v='{esc(value)}'>{esc(text)}</td>"


def _num_td(v: Any) -> str:
    return _td(f"{v:.3f}" if _finite(v) else "–", v if _finite(v) else "")


def _metric_td(r: dict[str, Any], m: str, digits: int = 3) -> str:
    mean = r.get(f"{m}_mean")
    if not _finite(mean):
        return _td("–", "")
    sd, lo, hi = r.get(f"{m}_sd"), r.get(f"{m}_ci_lo"), r.get(f"{m}_ci_hi")
    extra = f" <span class='sd'>± {sd:.{digits}f}</span>" if _finite(sd) else ""
    ci = (
        f"<br><span class='ci'>[{lo:.{digits}f}, {hi:.{digits}f}]</span>"
        if _finite(lo) and _finite(hi)
        else ""
    )
    missing = r.get(f"{m}_n_missing", 0)
    na = f" <span class='muted'>({missing} n/a)</span>" if missing else ""
    cls = " class='best'" if r.get("best") and m == MAIN_METRIC else ""
    cls = " class='m best'" if cls else " class='m'"
    return f"<td data-v='{mean!r}'{cls}><b>{mean:.{digits}f}</b>{extra}{ci}{na}</td>"


def _vs_best_td(r: dict[str, Any]) -> str:
    text = vs_best_text(r)
    if r.get("best"):
        return "<td data-v='-1'><span class='tag best'>best</span></td>"
    p = r.get("p_vs_best")
    if text == "upper bound":
        return "<td data-v='2'><span class='muted'>upper bound</span></td>"
    if r.get("tied"):
        return f"<td data-v='{p!r}'><span class='tag tied'>tied</span> p={p:.2g}</td>"
    return _td(text, p if _finite(p) else "")


def _reported_td(r: dict[str, Any]) -> str:
    v = r.get("reported")
    if not _finite(v):
        return _td("–", "")
    where = r.get("reported_dataset") or ""
    note = "" if r.get("reported_comparable") else f" <span class='muted'>({esc(where)})</span>"
    return f"<td data-v='{v!r}' title='{esc(r.get('reported_source'))}'>{v:.3f}{note}</td>"


def _provenance(r: dict[str, Any]) -> str:
    prov = r.get("provenance")
    if not prov:
        return "<span class='muted'>reported only</span>"
    items = [
        ("versions", "; ".join(f"{k}: {v}" for k, v in prov.get("versions", {}).items())),
        ("wsbench", prov.get("wsbench")),
        ("profile", prov.get("profile")),
        ("overrides", json.dumps(prov.get("overrides"), sort_keys=True)),
        ("protocol hash", prov.get("protocol_hash")),
        ("dataset fingerprint", prov.get("dataset_fingerprint")),
        ("split hash", prov.get("split_hash")),
        ("git SHA", ", ".join(prov.get("git_sha") or [])),
        ("device", ", ".join(prov.get("device") or [])),
        ("wall time", f"{prov.get('wall_s')} s over {_cells(len(prov.get('records') or []))}"),
        ("finished", prov.get("finished_at")),
        ("tuned on", f"{prov['val_masks']} val masks" if prov.get("val_masks") else None),
        ("guided", _guided(prov.get("guided"))),
    ]
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items if v not in (None, ""))
    return f"<details><summary>show</summary><dl>{dl}</dl></details>"


def _guided(guided: Any) -> str | None:
    if not isinstance(guided, dict):
        return None
    return f"the test case's {guided.get('kind')} label ({guided.get('source')})"


def _cells(n: int) -> str:
    return f"{n} cell" + ("" if n == 1 else "s")


def _comparisons(comps: Sequence[dict[str, Any]]) -> str:
    if not comps:
        return ""
    order = {"vs best": 0, "vs box-fill": 1, "vs oracle": 2, "pair": 3}
    comps = sorted(comps, key=lambda c: (order.get(c["kind"], 9), c["a"], c["b"]))
    trs = "".join(
        "<tr>"
        f"<td>{esc(c['kind'])}</td><td>{esc(c['a'])}</td><td>{esc(c['b'])}</td>"
        f"<td>{c['diff']:+.3f}</td><td>{c['n_patients']}</td>"
        f"<td>{_p(c['p'])}</td><td>{_p(c['p_holm'])}</td>"
        f"<td>{'yes' if _finite(c['p_holm']) and c['p_holm'] < stats.ALPHA else 'no'}</td>"
        "</tr>"
        for c in comps
    )
    return (
        "<details class='cmp'><summary>paired comparisons "
        f"({len(comps)}, Holm over all of them)</summary>"
        "<table class='lb'><thead><tr><th>comparison</th><th>A</th><th>B</th>"
        "<th>Dice A − B</th><th>patients</th><th>p</th><th>p (Holm)</th>"
        f"<th>different at α = {stats.ALPHA}</th></tr></thead><tbody>{trs}</tbody></table>"
        "</details>"
    )


def _p(p: float) -> str:
    return f"{p:.3g}" if _finite(p) else "–"


def _reported_section(rows: Sequence[dict[str, Any]]) -> str:
    rep = [r for r in rows if r.get("reported_source")]
    if not rep:
        return ""
    trs = []
    for r in rep:
        if not r.get("seeds"):
            ours, diff, inside = "not run here", "–", "–"
        elif r.get("reported_comparable"):
            ours = tables.cell_text(r, f"metric:{MAIN_METRIC}")
            diff = f"{r['reported_diff']:+.3f}" if _finite(r.get("reported_diff")) else "–"
            inside = {True: "yes", False: "no", None: "no interval"}[r.get("reported_inside")]
        else:
            ours = tables.cell_text(r, f"metric:{MAIN_METRIC}")
            diff = "–"
            inside = (
                f"not comparable: the paper measured on {r['reported_dataset']}, "
                f"this run on {r['dataset']}"
            )
        trs.append(
            "<tr>"
            + "".join(
                f"<td>{esc(v)}</td>"
                for v in (
                    r["target"],
                    r["labeler"],
                    r["segmenter"],
                    ours,
                    f"{r['reported']:.3f}",
                    r["reported_dataset"],
                    r["reported_source"],
                    diff,
                    inside,
                )
            )
            + "</tr>"
        )
    return (
        "<section><h2>Reported against reproduced</h2>"
        "<table class='lb'><thead><tr><th>target</th><th>labeler</th><th>segmenter</th>"
        "<th>ours: Dice ± sd [95 % CI]</th><th>paper</th><th>paper's dataset</th>"
        "<th>source</th><th>ours − paper</th><th>paper inside our interval</th></tr></thead>"
        f"<tbody>{''.join(trs)}</tbody></table></section>"
    )


def _figures_section(
    src: Source,
    dataset: str,
    rows: list[dict[str, Any]],
    out: Path,
    stem: str,
    info: PluginInfo,
) -> str:
    from wsbench.leaderboard.figures import plot_dice_vs_cost, plot_metric_vs_param

    parts = ["<section><h2>Figures</h2>"]
    done = [r for r in src.records if r.get("dataset") == dataset and r.get("status") == "done"]
    for param in sweep_params(rows):
        values = {r["sweep"].get(param) for r in rows if r.get("seeds")}
        if len(values) < 2 or not all(_is_number(v) for v in values):
            continue
        for target in sorted({r["target"] for r in done}):
            name = f"img/{stem}-{safe_slug([param, target])}.png"
            mine = [r for r in done if r["target"] == target and param in (r.get("sweep") or {})]
            if not mine:
                continue
            plot_metric_vs_param(mine, param, MAIN_METRIC, out / name)
            parts.append(
                f"<figure><img src='{esc(name)}' alt='{esc(MAIN_METRIC)} against {esc(param)}'>"
                f"<figcaption>{esc(MAIN_METRIC)} against {esc(param)}, target {esc(target)}; "
                f"error bars: {esc(stats.PM_FOOTER)}</figcaption></figure>"
            )
    for bd in _cost_groups(rows):
        r0 = bd[0]
        name = f"img/{stem}-cost-{safe_slug([r0['target'], r0['sweep']])}.png"
        if plot_dice_vs_cost(bd, out / name) is None:
            continue
        parts.append(
            f"<figure><img src='{esc(name)}' alt='Dice against annotation cost'>"
            f"<figcaption>test Dice against annotation cost, target {esc(r0['target'])}; "
            f"error bars: {esc(stats.CI_FOOTER)}</figcaption></figure>"
        )
    parts.append(_cost_table(rows))
    parts.append("</section>")
    return "\n".join(parts)


def _cost_groups(rows: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if r.get("seeds"):
            groups[json.dumps([r["target"], r["sweep"]], sort_keys=True, default=str)].append(r)
    return [groups[k] for k in sorted(groups)]


def _cost_table(rows: Sequence[dict[str, Any]]) -> str:
    kinds = sorted({weak_kind(r["protocol"]) for r in rows if r.get("seeds")})
    trs = []
    for kind in kinds:
        c = COSTS.get(kind)
        if c:
            trs.append(
                f"<tr><td>{esc(kind)}</td><td>{c.seconds:g} s</td><td>{esc(c.what)}</td>"
                f"<td>{esc(c.source)}</td></tr>"
            )
        else:
            trs.append(
                f"<tr><td>{esc(kind)}</td><td>–</td><td colspan='2'>no published annotation "
                "study gives a time for this kind: left off the cost figure</td></tr>"
            )
    return (
        "<details><summary>annotation costs and their sources</summary>"
        "<p class='muted'>Seconds per annotated object (one structure on one 2D slice), timed "
        "on natural images; they give the ratios between kinds, not a radiologist's time."
        "</p><table class='lb'><thead><tr><th>weak label</th><th>seconds</th><th>what</th>"
        f"<th>source</th></tr></thead><tbody>{''.join(trs)}</tbody></table></details>"
    )


def _gallery_section(src: Source, rows: list[dict[str, Any]], out: Path, stem: str) -> str:
    items = select_gallery(rows, src.records, src.roots)
    if not items:
        return (
            "<section><h2>Gallery</h2><p class='muted'>No overlay pictures were found for "
            "these runs.</p></section>"
        )
    parts = [
        "<section><h2>Gallery</h2><p class='muted'>For each row: its worst and best test "
        "case by Dice (among the cases the run drew), image, ground truth and prediction; "
        "then a training case's ground truth beside the pseudo mask the segmenter trained "
        "on, where the run drew it.</p>"
    ]
    by_row: dict[int, list[GalleryItem]] = defaultdict(list)
    for it in items:
        by_row[it.row].append(it)
    for i, its in by_row.items():
        r = rows[i]
        parts.append(
            f"<h3>{esc(r['labeler'])} / {esc(r['segmenter'])} "
            f"<span class='muted'>{esc(r['protocol'])}</span></h3><div class='gallery'>"
        )
        for it in its:
            name = f"img/{stem}-g-{safe_slug([it.record_id, it.case, it.which])}.png"
            shutil.copyfile(it.path, out / name)
            caption = (
                f"case {esc(it.case)} · Dice {it.score:.3f}"
                if _finite(it.score)
                else "a training case: ground truth, and the pseudo mask in the last panel"
            )
            parts.append(
                f"<figure><img src='{esc(name)}' alt='{esc(it.which)}: {esc(it.case)}' "
                f"loading='lazy'><figcaption><b>{esc(it.which)}</b> · {caption}"
                "</figcaption></figure>"
            )
        parts.append("</div>")
    parts.append("</section>")
    return "\n".join(parts)


# ---------------------------------------------------------------------------
# Page shell: inline CSS and JS only

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;
max-width:1400px;padding:1em 2em;color:#1b1f24;background:#fff}
h1{font-size:1.6em;margin:.3em 0}h2{font-size:1.2em;margin:1.6em 0 .4em}
a{color:#0550ae}.muted{color:#656d76;font-weight:normal;font-size:.9em}
.prov{color:#656d76;font-size:.85em}
.conv{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:.6em 1em;
font-size:.9em}
table.lb{border-collapse:collapse;margin:.4em 0;font-size:.9em}
table.lb th,table.lb td{border-bottom:1px solid #d0d7de;padding:.3em .6em;text-align:left;
vertical-align:top}
table.lb th{background:#f6f8fa;white-space:nowrap}
table.sortable th{cursor:pointer;user-select:none}
table.sortable th .sort{color:#0550ae;margin-left:.2em}
tr.base td{background:#fbfbf4}tr.ref td{color:#656d76;font-style:italic}
td.best b{color:#1a7f37}td.m{white-space:nowrap}.sd{color:#656d76}.ci{color:#656d76;font-size:.85em}
.tag{display:inline-block;border-radius:1em;padding:0 .5em;font-size:.8em;
border:1px solid}
.tag.base{color:#7d4e00;border-color:#d4a72c;background:#fff8c5}
.tag.best{color:#1a7f37;border-color:#4ac26b;background:#dafbe1}
.tag.tuned{color:#8250df;border-color:#c297ff;background:#fbefff}
.tag.tied{color:#0550ae;border-color:#54aeff;background:#ddf4ff}
details summary{cursor:pointer;color:#0550ae}
dl{display:grid;grid-template-columns:max-content auto;gap:0 .8em;margin:.3em 0;
font-size:.85em}dt{color:#656d76}dd{margin:0;overflow-wrap:anywhere}
figure{margin:.8em 0}figure img{max-width:100%;border:1px solid #d0d7de}
figcaption{font-size:.85em;color:#656d76}
h3{font-size:1em;margin:1em 0 .2em}
.gallery{display:grid;grid-template-columns:repeat(3,minmax(0,1fr));gap:.6em}
ul.toc li{margin:.2em 0}
"""

_JS = """
(function(){
  function val(td){var v=td.getAttribute('data-v');return v===null?td.textContent:v;}
  document.querySelectorAll('table.sortable').forEach(function(table){
    var ths=table.tHead.rows[0].cells;
    Array.prototype.forEach.call(ths,function(th,col){
      function sort(){
        var num=th.getAttribute('data-type')==='num';
        var better=th.getAttribute('data-better');
        var cur=th.getAttribute('aria-sort');
        var asc=cur?cur!=='ascending':better!=='up';
        Array.prototype.forEach.call(ths,function(o){o.removeAttribute('aria-sort');
          o.querySelector('.sort').textContent='';});
        th.setAttribute('aria-sort',asc?'ascending':'descending');
        th.querySelector('.sort').textContent=asc?'\\u25B2':'\\u25BC';
        var body=table.tBodies[0];
        var rows=Array.prototype.slice.call(body.rows);
        rows.sort(function(a,b){
          var x=val(a.cells[col]),y=val(b.cells[col]);
          if(num){x=x===''?NaN:parseFloat(x);y=y===''?NaN:parseFloat(y);
            if(isNaN(x)&&isNaN(y))return 0;if(isNaN(x))return 1;if(isNaN(y))return -1;
            return asc?x-y:y-x;}
          return asc?String(x).localeCompare(String(y)):String(y).localeCompare(String(x));
        });
        rows.forEach(function(r){body.appendChild(r);});
      }
      th.addEventListener('click',sort);
      th.addEventListener('keydown',function(e){if(e.key==='Enter')sort();});
    });
  });
})();
"""


def _html(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>\n{body}\n"
        f"<footer class='prov'><p>{esc(tables.FOOTER)}</p></footer>"
        f"<script>{_JS}</script></body></html>\n"
    )


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_number(v: Any) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False
