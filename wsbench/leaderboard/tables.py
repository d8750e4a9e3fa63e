"""Text renderers of leaderboard rows: the terminal (rich), Markdown, CSV and JSON.

Every renderer prints the same footer: the "±" and interval conventions of
``wsbench.stats`` and the paired-test rule behind "tied".
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from wsbench import safejson, stats
from wsbench.api import Reported
from wsbench.leaderboard.rows import (
    PluginInfo,
    cell_text,
    columns,
    other_paper_numbers,
    plugin_info,
    public,
)

FOOTER = (
    f"{stats.PM_FOOTER}. {stats.CI_FOOTER}. {stats.TEST_FOOTER}. "
    "Misses: test cases per seed where a class of the ground truth is not predicted at all. "
    "Distances in mm at voxel spacing. pseudo Dice: pseudo masks against training ground "
    "truth. % oracle: Dice relative to the fully supervised oracle with the same segmenter. "
    "Dimmed or marked (baseline): box-fill, the oracle and labelers that declare baseline."
)


def md_escape(text: Any) -> str:
    """A plugin-provided string safe inside a Markdown table cell."""
    out = str(text).replace("\\", "\\\\").replace("|", "\\|")
    for ch in "`*_[]<>":
        out = out.replace(ch, "\\" + ch)
    return " ".join(out.split())


def to_markdown(
    rows: Sequence[dict[str, Any]],
    dataset: str,
    reported: Sequence[Reported] = (),
    info: PluginInfo | None = None,
) -> str:
    info = info or plugin_info()
    rows = [r for r in rows if r["dataset"] == dataset]
    cols = columns(rows, info)
    targets = sorted({r["target"] for r in rows})
    lines = [f"# {md_escape(dataset)} — target {', '.join(md_escape(t) for t in targets)}", ""]
    lines.append("| protocol | " + " | ".join(t for t, _ in cols) + " |")
    lines.append("|---|" + "|".join("---" for _ in cols) + "|")
    for r in rows:
        cells = [md_escape(r["protocol"])] + [md_escape(cell_text(r, k, info)) for _, k in cols]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", FOOTER]
    missing = sorted(b for b in info.baselines if not any(r["labeler"] == b for r in rows))
    if missing:
        lines.append(
            f"Baselines not run here: {', '.join(missing)} (add `--labeler {','.join(missing)}`)."
        )
    sources = sorted({r["reported_source"] for r in rows if r.get("reported_source")})
    if sources:
        lines.append("paper Dice from: " + "; ".join(md_escape(s) for s in sources) + ".")
    if any(r.get("reported_source") and not r.get("reported_comparable") for r in rows):
        lines.append(
            "A paper Dice with a dataset in brackets was measured on that dataset, not this "
            "one: shown for context, not comparable."
        )
    extra = other_paper_numbers(rows, reported)
    if extra:
        lines += ["", "Numbers the papers report for other settings (not runs of this table):", ""]
        lines.append("| dataset | target | labeler | segmenter | metric | value | source |")
        lines.append("|---|---|---|---|---|---|---|")
        for rep in extra:
            fields = (rep.dataset, rep.target, rep.labeler, rep.segmenter, rep.metric)
            source = rep.source + (f" ({rep.note})" if rep.note else "")
            lines.append(
                "| "
                + " | ".join(md_escape(c) for c in fields)
                + f" | {rep.value:.3f} | {md_escape(source)} |"
            )
    failed = sum(r.get("failed", 0) for r in rows)
    if failed:
        lines.append(f"{failed} failed cell(s) are not in the means; see results.sqlite.")
    return "\n".join(lines) + "\n"


def to_json(rows: Sequence[dict[str, Any]], dataset: str, info: PluginInfo | None = None) -> str:
    """The rows of one dataset, the conventions, and each table's paired comparisons."""
    from wsbench.leaderboard.rows import compared_boards

    mine = [r for r in rows if r["dataset"] == dataset]
    doc = {
        "dataset": dataset,
        "conventions": {"pm": stats.PM_FOOTER, "ci": stats.CI_FOOTER, "test": stats.TEST_FOOTER},
        "rows": [public(r) for r in mine],
        "tables": [
            {
                "target": b.first["target"],
                "protocol": b.first["protocol"],
                "sweep": b.first["sweep"],
                "comparisons": [public(c) for c in b.comparisons],
            }
            for b in compared_boards(mine, info)
        ],
    }
    return safejson.dumps(doc, indent=1, sort_keys=True, default=str) + "\n"


def to_csv(rows: Sequence[dict[str, Any]], dataset: str) -> str:
    mine = [public(r) for r in rows if r["dataset"] == dataset]
    keys = sorted({k for r in mine for k in r})
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    w.writeheader()
    for r in mine:
        w.writerow(
            {
                k: _csv_safe(
                    safejson.dumps(v, sort_keys=True, default=str)
                    if isinstance(v, (dict, list))
                    else v
                )
                for k, v in r.items()
            }
        )
    return buf.getvalue()


def _csv_safe(v: Any) -> Any:
    """No spreadsheet formulas from plugin strings (a leading = + - @ is quoted)."""
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@") and not _looks_numeric(v):
        return "'" + v
    return v


def _looks_numeric(v: str) -> bool:
    try:
        float(v)
        return True
    except ValueError:
        return False


def rich_table(rows: Sequence[dict[str, Any]], dataset: str, info: PluginInfo | None = None):
    """The terminal table of one dataset: the Markdown columns less versions, the paper
    column when no row has a paper number, and the protocol when there is only one."""
    from rich.markup import escape
    from rich.table import Table

    from wsbench.leaderboard.rows import metric_digits, metric_text

    info = info or plugin_info()
    table = Table(title=f"wsbench leaderboard — {escape(dataset)}", caption=escape(FOOTER))
    cols = [c for c in columns(rows, info) if c[1] != "version"]
    if not any(r.get("reported_source") for r in rows):
        cols = [c for c in cols if c[1] != "reported"]
    protocols = len({r["protocol"] for r in rows}) > 1
    if protocols:
        table.add_column("protocol")
    for title, _ in cols:
        table.add_column(escape(title), overflow="fold")

    def text(r: dict[str, Any], key: str) -> str:
        if key == "labeler":
            return str(r["labeler"])  # baselines are dimmed instead
        if key.startswith("metric:"):
            m = key[len("metric:") :]
            return metric_text(r, m, metric_digits(m, info), sep="\n")
        return cell_text(r, key, info)

    for r in rows:
        cells = [escape(text(r, k)) for _, k in cols]
        if protocols:
            cells.insert(0, escape(str(r["protocol"])))
        table.add_row(*cells, style="dim" if r.get("baseline") else None)
    return table
