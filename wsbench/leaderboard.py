"""Leaderboard tables from stored results: pure functions from records to rows to files.

One row per dataset x target x protocol x labeler x segmenter x sweep point x plugin
versions (results of different versions are never merged), with mean ± std over
test cases pooled across seeds, pseudo-label Dice, percent of the oracle, and the
number the paper reports where a plugin declares one.
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wsbench.api import Reported
from wsbench.params import stable_hash

# (metric, column title, higher is better)
MAIN_METRICS = (("dice", "Dice", True), ("hd95", "HD95 mm", False), ("assd", "ASSD mm", False))
BASELINES = ("box-fill", "oracle")


def build_rows(
    records: Iterable[dict[str, Any]], reported: Sequence[Reported] = ()
) -> list[dict[str, Any]]:
    """Group finished cells into leaderboard rows (sorted: dataset, sweep, Dice descending)."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    failed: dict[str, int] = defaultdict(int)
    for r in records:
        key = _group_key(r)
        if r["status"] == "done":
            groups[key].append(r)
        else:
            failed[key] += 1
    rows = []
    for key, recs in groups.items():
        first = recs[0]
        cases = [c for r in recs for c in r["per_case"]]
        row: dict[str, Any] = {
            "dataset": first["dataset"],
            "target": first["target"],
            "protocol": first["protocol"],
            "labeler": first["labeler"],
            "segmenter": first["segmenter"],
            "sweep": dict(first["sweep"]),
            "seeds": sorted({r["seed"] for r in recs}),
            "n_cases": len(cases),
            "failed": failed.get(key, 0),
            "version": _versions(first),
            "baseline": first["labeler"] in BASELINES,
        }
        metric_keys = sorted(
            {
                k
                for c in cases
                for k, v in c.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)
            }
        )
        for k in metric_keys:
            vals = np.array([c[k] for c in cases if _finite(c.get(k))], dtype=float)
            row[f"{k}_mean"] = float(vals.mean()) if vals.size else math.nan
            row[f"{k}_std"] = float(vals.std()) if vals.size else math.nan
            row[f"{k}_n_missing"] = len(cases) - int(vals.size)
        seed_means = [r["metrics"].get("dice", math.nan) for r in recs]
        row["dice_seed_std"] = float(np.nanstd(seed_means)) if len(seed_means) > 1 else math.nan
        pseudo = [r["pseudo"].get("dice") for r in recs if _finite(r["pseudo"].get("dice"))]
        row["pseudo_dice"] = float(np.mean(pseudo)) if pseudo else math.nan
        rows.append(row)
    for row in rows:
        row["pct_oracle"] = _pct_oracle(row, rows)
        match = _reported_for(row, reported)
        row["reported"] = match.value if match else math.nan
        row["reported_dataset"] = match.dataset if match else ""
        row["reported_source"] = match.source if match else ""
    rows.extend(_reported_only(rows, reported))
    rows.sort(
        key=lambda r: (
            r["dataset"],
            r["target"],
            json.dumps(r["sweep"], sort_keys=True),
            -_num(r.get("dice_mean")),
        )
    )
    return rows


def _group_key(r: dict[str, Any]) -> str:
    prov = r.get("provenance", {})
    return stable_hash(
        [
            r["dataset"],
            r["target"],
            r["protocol"],
            r["labeler"],
            r["segmenter"],
            r["sweep"],
            prov.get("overrides"),
            prov.get("profile"),
            _versions(r),
        ]
    )


def _versions(r: dict[str, Any]) -> str:
    plugins = r.get("provenance", {}).get("plugins", {})
    parts = [
        f"{v.get('name')} {v.get('version')}"
        for k, v in plugins.items()
        if k in ("labeler", "segmenter") and v.get("version")
    ]
    wsb = r.get("provenance", {}).get("wsbench")
    return ", ".join(parts + ([f"wsbench {wsb}"] if wsb else []))


def _pct_oracle(row: dict[str, Any], rows: Sequence[dict[str, Any]]) -> float:
    for other in rows:
        if (
            other["labeler"] == "oracle"
            and other["dataset"] == row["dataset"]
            and other["target"] == row["target"]
            and other["segmenter"] == row["segmenter"]
            and (other["sweep"] == row["sweep"] or not other["sweep"])
        ):
            o = other.get("dice_mean", math.nan)
            if _finite(o) and o > 0:
                return 100.0 * row.get("dice_mean", math.nan) / o
    return math.nan


def _reported_for(row: dict[str, Any], reported: Sequence[Reported]) -> Reported | None:
    """The paper's number for this row: same dataset first, else the same target on the
    paper's own dataset (shown with that dataset's name, e.g. a phantom row beside LiTS)."""
    matches = [
        r
        for r in reported
        if (r.target, r.labeler, r.segmenter, r.metric)
        == (row["target"], row["labeler"], row["segmenter"], "dice")
        and all(str(row["sweep"].get(k)) == str(v) for k, v in r.params.items())
    ]
    matches.sort(key=lambda r: r.dataset != row["dataset"])
    return matches[0] if matches else None


def _reported_only(rows: Sequence[dict[str, Any]], reported: Sequence[Reported]):
    """Rows for reported numbers of methods wsbench does not run (e.g. SDI, WSSL)."""
    present = {(r["dataset"], r["target"]) for r in rows}
    have = {(r["dataset"], r["target"], r["labeler"], r["segmenter"]) for r in rows}
    out = []
    for dataset, target in sorted(present):
        for r in reported:
            if (
                r.target != target
                or r.metric != "dice"
                or (dataset, target, r.labeler, r.segmenter) in have
            ):
                continue
            out.append(
                {
                    "dataset": dataset,
                    "target": r.target,
                    "protocol": "",
                    "labeler": r.labeler,
                    "segmenter": r.segmenter,
                    "sweep": dict(r.params),
                    "seeds": [],
                    "n_cases": 0,
                    "failed": 0,
                    "version": "reported only",
                    "baseline": False,
                    "dice_mean": math.nan,
                    "pseudo_dice": math.nan,
                    "pct_oracle": math.nan,
                    "reported": r.value,
                    "reported_dataset": r.dataset,
                    "reported_source": r.source + (f" ({r.note})" if r.note else ""),
                }
            )
    return out


def sweep_params(rows: Sequence[dict[str, Any]]) -> list[str]:
    return sorted({k for r in rows for k in r["sweep"]})


def class_names(rows: Sequence[dict[str, Any]]) -> list[str]:
    names = sorted(
        {
            k[len("dice/") : -len("_mean")]
            for r in rows
            for k in r
            if k.startswith("dice/") and k.endswith("_mean")
        }
    )
    return names if len(names) > 1 else []


def columns(rows: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """(title, key) pairs of the table; ↑ / ↓ say which way is better."""
    cols = [("labeler", "labeler"), ("segmenter", "segmenter")]
    cols += [(p.split(".")[-1], f"sweep:{p}") for p in sweep_params(rows)]
    cols += [(f"{title} {'↑' if up else '↓'}", f"metric:{m}") for m, title, up in MAIN_METRICS]
    cols += [(f"Dice {c} ↑", f"metric:dice/{c}") for c in class_names(rows)]
    cols += [
        ("pseudo Dice ↑", "pseudo_dice"),
        ("% oracle", "pct_oracle"),
        ("paper Dice", "reported"),
        ("seeds", "seeds"),
        ("version", "version"),
    ]
    return cols


def cell_text(row: dict[str, Any], key: str) -> str:
    if key.startswith("sweep:"):
        return str(row["sweep"].get(key[6:], ""))
    if key.startswith("metric:"):
        m = key[7:]
        mean, std = row.get(f"{m}_mean", math.nan), row.get(f"{m}_std", math.nan)
        if not _finite(mean):
            return "–"
        missing = row.get(f"{m}_n_missing", 0)
        return f"{mean:.3f} ± {std:.3f}" + (f" ({missing} n/a)" if missing else "")
    value = row.get(key)
    if key == "seeds":
        return str(len(value)) if value else "–"
    if key == "pct_oracle":
        return f"{value:.0f} %" if _finite(value) else "–"
    if key == "reported" and _finite(value):
        where = row.get("reported_dataset", "")
        return f"{value:.3f}" + (f" ({where})" if where and where != row["dataset"] else "")
    if isinstance(value, float):
        return f"{value:.3f}" if _finite(value) else "–"
    return str(value if value is not None else "")


def other_paper_numbers(
    rows: Sequence[dict[str, Any]], reported: Sequence[Reported]
) -> list[Reported]:
    """Reported numbers of the papers behind this table's labelers that no row shows (e.g.
    LiTS tumour numbers beside a phantom liver run): listed under the table for context."""
    labelers = {r["labeler"] for r in rows if r.get("seeds")}
    shown = {
        (r["target"], r["labeler"], r["segmenter"]) for r in rows if _finite(r.get("reported"))
    }
    papers = {r.source.split(",")[0] for r in reported if r.labeler in labelers}
    return [
        r
        for r in reported
        if r.source.split(",")[0] in papers and (r.target, r.labeler, r.segmenter) not in shown
    ]


def to_markdown(
    rows: Sequence[dict[str, Any]], dataset: str, reported: Sequence[Reported] = ()
) -> str:
    rows = [r for r in rows if r["dataset"] == dataset]
    cols = columns(rows)
    targets = sorted({r["target"] for r in rows})
    lines = [f"# {dataset} — target {', '.join(targets)}", ""]
    lines.append("| " + " | ".join(t for t, _ in cols) + " |")
    lines.append("|" + "|".join("---" for _ in cols) + "|")
    for r in rows:
        lines.append("| " + " | ".join(cell_text(r, k) for _, k in cols) + " |")
    lines.append("")
    lines.append(
        "Mean ± std over test cases pooled across seeds. Distances in mm at voxel "
        "spacing. pseudo Dice: pseudo masks against training ground truth. "
        "% oracle: Dice relative to the fully supervised oracle with the same segmenter."
    )
    missing = [b for b in BASELINES if not any(r["labeler"] == b for r in rows)]
    if missing:
        lines.append(
            f"Baselines not run here: {', '.join(missing)} (add `--labeler {','.join(missing)}`)."
        )
    sources = sorted({r["reported_source"] for r in rows if r.get("reported_source")})
    if sources:
        lines.append("paper Dice from: " + "; ".join(sources) + ".")
    extra = other_paper_numbers(rows, reported)
    if extra:
        lines += ["", "Numbers the papers report for other settings (not runs of this table):", ""]
        lines.append("| dataset | target | labeler | segmenter | metric | value | source |")
        lines.append("|---|---|---|---|---|---|---|")
        for r in extra:
            lines.append(
                f"| {r.dataset} | {r.target} | {r.labeler} | {r.segmenter} | {r.metric} | "
                f"{r.value:.3f} | {r.source}{f' ({r.note})' if r.note else ''} |"
            )
    failed = sum(r.get("failed", 0) for r in rows)
    if failed:
        lines.append(f"{failed} failed cell(s) are not in the means; see results.sqlite.")
    return "\n".join(lines) + "\n"


def write(
    rows: Sequence[dict[str, Any]],
    records: Sequence[dict[str, Any]],
    to: Path,
    reported: Sequence[Reported] = (),
) -> list[Path]:
    """``<to>/<dataset>.md``, ``.csv``, ``.json`` and, for numeric sweeps, a figure."""
    to = Path(to)
    to.mkdir(parents=True, exist_ok=True)
    written = []
    for dataset in sorted({r["dataset"] for r in rows}):
        ds_rows = [r for r in rows if r["dataset"] == dataset]
        md = to / f"{dataset}.md"
        md.write_text(to_markdown(ds_rows, dataset, reported))
        js = to / f"{dataset}.json"
        js.write_text(
            json.dumps({"dataset": dataset, "rows": [_clean(r) for r in ds_rows]}, indent=1)
        )
        cs = to / f"{dataset}.csv"
        keys = sorted({k for r in ds_rows for k in r})
        with cs.open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=keys)
            w.writeheader()
            for r in ds_rows:
                w.writerow(
                    {
                        k: json.dumps(v) if isinstance(v, (dict, list)) else v
                        for k, v in _clean(r).items()
                    }
                )
        written += [md, cs, js]
        written += _figures([r for r in records if r["dataset"] == dataset], ds_rows, to, dataset)
    return written


def _figures(records, rows, to: Path, dataset: str) -> list[Path]:
    out = []
    for param in sweep_params(rows):
        values = {r["sweep"].get(param) for r in rows}
        if len(values) < 2 or not all(_is_number(v) for v in values):
            continue
        from wsbench.figures import plot_metric_vs_param

        done = [r for r in records if r["status"] == "done"]
        out.append(
            plot_metric_vs_param(
                done, param, "dice", to / f"{dataset}-{param.replace('.', '_')}.png"
            )
        )
    return out


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()
    }


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _num(v: Any) -> float:
    return float(v) if _finite(v) else -1.0


def _is_number(v: Any) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False
