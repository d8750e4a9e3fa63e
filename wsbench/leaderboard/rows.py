"""Leaderboard rows from stored records: pure functions, no files.

Selection: the newest finished record per configuration (``config_id`` and seed when the
store gives one; otherwise dataset, target, protocol, labeler, segmenter, sweep,
overrides, profile and seed). Grouping: one row per configuration over seeds *and*
plugin versions, so results of different versions are never merged.

Each metric of a row carries the mean over seeds of per-seed means over test cases, the
sample sd of those per-seed means (``±``), and a 95 % bootstrap interval over patients:
see ``wsbench.stats``. Tables ("boards") are the rows of one dataset, target, protocol and
sweep point; within a board every pair of rows is compared with a paired test on
per-patient scores (Holm-corrected) and rows not different from the best are "tied".
"""

from __future__ import annotations

import functools
import itertools
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from wsbench import stats
from wsbench.api import Reported
from wsbench.metrics.pooled import BACKGROUND, CONFUSION, POOLED_METRICS, pooled
from wsbench.params import stable_hash

# Metrics shown as table columns, in this order, when the records have them. Their
# direction and unit come from the metric plugins (``Metric.higher_is_better``, ``.unit``).
HEADLINE_METRICS = ("dice", "hd95", "assd")
MAIN_METRIC = "dice"
# per-case 0/1 flags written by the metrics helper, not scores
FLAG_PREFIXES = ("missed/", "spurious/")
# dataset-pooled metrics (from per-case confusion counts) shown beside the headline ones
POOLED_COLUMNS = POOLED_METRICS
POS = "@pos"  # suffix of a metric over the positive cases only (SIIM)


@dataclass(frozen=True)
class MetricInfo:
    name: str
    higher_is_better: bool = True
    unit: str = ""


@dataclass(frozen=True)
class PluginInfo:
    """What the leaderboard needs from the plugin declarations."""

    baselines: frozenset[str] = frozenset()
    metrics: dict[str, MetricInfo] = field(default_factory=dict)
    versions: dict[tuple[str, str], str] = field(default_factory=dict)  # (kind, name) -> v

    def metric(self, name: str) -> MetricInfo:
        base = name.split("/", 1)[0].split("@", 1)[0]  # "hd95/liver@pos" -> "hd95"
        return self.metrics.get(base, MetricInfo(base))


def plugin_info(registry: Any = None) -> PluginInfo:
    """Baselines, metric directions and units, and versions, from the registry."""
    if registry is None:
        return _default_info()
    return PluginInfo(
        baselines=frozenset(
            n for n, c in registry.classes("labeler").items() if getattr(c, "baseline", False)
        ),
        metrics={
            n: MetricInfo(n, bool(c.higher_is_better), str(c.unit))
            for n, c in registry.classes("metric").items()
        },
        versions={(kind, cls.name): str(cls.version) for kind, cls in registry.all_plugins()},
    )


@functools.lru_cache(maxsize=1)
def _default_info() -> PluginInfo:
    from wsbench.plugins import load_registry

    return plugin_info(load_registry())


# ---------------------------------------------------------------------------
# Selection and grouping


def latest(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The newest record per configuration and seed; a finished one wins over a newer
    failure (the failure is still counted on the row)."""
    best: dict[str, dict[str, Any]] = {}
    for r in records:
        key = _config_key(r)
        old = best.get(key)
        if old is None or _newer(r, old):
            best[key] = r
    return sorted(best.values(), key=lambda r: str(r.get("id")))


def _newer(r: dict[str, Any], old: dict[str, Any]) -> bool:
    done_r, done_old = r.get("status") == "done", old.get("status") == "done"
    if done_r != done_old:
        return done_r
    return (str(r.get("finished_at") or ""), str(r.get("id"))) > (
        str(old.get("finished_at") or ""),
        str(old.get("id")),
    )


def _config_key(r: dict[str, Any]) -> str:
    if r.get("config_id"):
        return stable_hash([r["config_id"], r.get("seed")])
    prov = r.get("provenance") or {}
    return stable_hash(
        [
            r["dataset"],
            r["target"],
            r["protocol"],
            r["labeler"],
            r["segmenter"],
            r.get("sweep") or {},
            prov.get("overrides"),
            prov.get("profile"),
            r.get("seed"),
        ]
    )


def _group_key(r: dict[str, Any]) -> str:
    prov = r.get("provenance") or {}
    return stable_hash(
        [
            r["dataset"],
            r["target"],
            r["protocol"],
            r["labeler"],
            r["segmenter"],
            r.get("sweep") or {},
            prov.get("overrides"),
            prov.get("profile"),
            _versions(r),
        ]
    )


def _versions(r: dict[str, Any]) -> str:
    prov = r.get("provenance") or {}
    plugins = prov.get("plugins") or {}
    parts = [
        f"{v.get('name')} {v.get('version')}"
        for k, v in plugins.items()
        if k in ("labeler", "segmenter") and isinstance(v, dict) and v.get("version")
    ]
    wsb = prov.get("wsbench")
    return ", ".join(parts + ([f"wsbench {wsb}"] if wsb else []))


# ---------------------------------------------------------------------------
# Rows


def build_rows(
    records: Iterable[dict[str, Any]],
    reported: Sequence[Reported] = (),
    info: PluginInfo | None = None,
) -> list[dict[str, Any]]:
    """Leaderboard rows (sorted: dataset, target, protocol, sweep, main metric best first).

    Keys starting with ``_`` (per-patient scores) are for comparisons and are left out
    of written files."""
    info = info or plugin_info()
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    failed: dict[str, int] = defaultdict(int)
    for r in latest(records):
        key = _group_key(r)
        if r.get("status") == "done":
            groups[key].append(r)
        else:
            failed[key] += 1
    rows = [_row(recs, failed.get(key, 0), info) for key, recs in groups.items()]
    for row in rows:
        row["pct_oracle"] = _pct_oracle(row, rows)
        _attach_reported(row, _reported_for(row, reported))
        _attach_other_reported(row, reported)
    rows.extend(_reported_only(rows, reported))
    measures = paper_measures(rows, reported)
    for row in rows:
        row["_paper_metrics"] = measures
    _mark_rows(rows, info)
    direction = -1 if info.metric(MAIN_METRIC).higher_is_better else 1
    rows.sort(
        key=lambda r: (
            r["dataset"],
            r["target"],
            r["protocol"],
            sweep_sort_key(r["sweep"]),
            not r.get("seeds"),
            direction * _num(r.get(f"{MAIN_METRIC}_mean"), -direction * math.inf),
        )
    )
    return rows


def _row(recs: list[dict[str, Any]], failed: int, info: PluginInfo) -> dict[str, Any]:
    recs = sorted(recs, key=lambda r: (r.get("seed"), str(r.get("id"))))
    first = recs[-1]
    row: dict[str, Any] = {
        "dataset": first["dataset"],
        "target": first["target"],
        "protocol": first["protocol"],
        "labeler": first["labeler"],
        "segmenter": first["segmenter"],
        "sweep": dict(first.get("sweep") or {}),
        "seeds": sorted({r["seed"] for r in recs}),
        "n_cases": sum(len(r.get("per_case") or []) for r in recs),
        "failed": failed,
        "version": _versions(first),
        "baseline": first["labeler"] in info.baselines,
    }
    cases_by_seed = [r.get("per_case") or [] for r in recs]
    row["n_patients"] = len({_patient(c) for cases in cases_by_seed for c in cases})
    keys = sorted(
        {
            k
            for cases in cases_by_seed
            for c in cases
            for k, v in c.items()
            if _is_score(v) and not k.startswith(FLAG_PREFIXES)
        }
    )
    patients: dict[str, dict[str, float]] = {}
    for k in keys:
        table = _metric_stats(row, k, k, cases_by_seed)
        if k in HEADLINE_METRICS:
            patients[k] = table.patient_scores()
    if any("positive" in c for cases in cases_by_seed for c in cases):
        positive = [[c for c in cases if c.get("positive")] for cases in cases_by_seed]
        for k in HEADLINE_METRICS:
            if k in keys:
                _metric_stats(row, k, f"{k}{POS}", positive)
    row.update(pooled_stats(cases_by_seed))
    row["_patients"] = patients
    row["_resolved"] = resolved_params(first.get("provenance") or {})
    row.update(_misses(cases_by_seed))
    pseudo = stats.mean_sd((r.get("pseudo") or {}).get("dice") for r in recs)
    row["pseudo_dice"] = pseudo.mean
    row["provenance"] = _provenance(recs)
    scored = _scored(first)
    if scored:  # only rows off the default (per volume, whole image) carry the key
        row["scored"] = scored
    return row


def _metric_stats(
    row: dict[str, Any], key: str, name: str, cases_by_seed: list[list[dict[str, Any]]]
) -> stats.SeedPatientTable:
    """Mean over seeds, sd, interval over patients and missing count of one per-case
    score ``key``, stored on ``row`` under ``name``."""
    table = stats.seed_patient_table(
        [[(_patient(c), _float(c.get(key))) for c in cases] for cases in cases_by_seed]
    )
    row[f"{name}_mean"] = stats.point_estimate(table)
    row[f"{name}_sd"] = stats.mean_sd(table.seed_means()).sd
    lo, hi = stats.bootstrap_ci(table)
    row[f"{name}_ci_lo"], row[f"{name}_ci_hi"] = lo, hi
    n_cases = sum(len(cases) for cases in cases_by_seed)
    n_values = sum(1 for cases in cases_by_seed for c in cases if _finite(c.get(key)))
    row[f"{name}_n_missing"] = n_cases - n_values
    return table


def pooled_stats(cases_by_seed: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """Dataset-pooled ``miou`` and ``pooled_dice`` (see ``wsbench.metrics.pooled``) from
    the per-case confusion counts: per seed, then mean and sd over seeds; the interval
    resamples patients (with their summed counts) as for the other metrics. ``@pos``
    over positive cases where the cases say which are positive."""
    if not any(isinstance(c.get(CONFUSION), dict) for cases in cases_by_seed for c in cases):
        return {}
    out: dict[str, Any] = {}
    subsets = [("", cases_by_seed)]
    if any("positive" in c for cases in cases_by_seed for c in cases):
        subsets.append((POS, [[c for c in cs if c.get("positive")] for cs in cases_by_seed]))
    for suffix, subset in subsets:
        per_seed = [pooled(c[CONFUSION] for c in cs if CONFUSION in c) for cs in subset]
        names = sorted({k for p in per_seed for k in p})
        for k in names:
            spread = stats.mean_sd(p.get(k) for p in per_seed)
            out[f"{k}{suffix}_mean"], out[f"{k}{suffix}_sd"] = spread.mean, spread.sd
        for k in POOLED_METRICS:
            lo, hi = _pooled_ci(subset, k)
            out[f"{k}{suffix}_ci_lo"], out[f"{k}{suffix}_ci_hi"] = lo, hi
    return out


def _pooled_ci(cases_by_seed: list[list[dict[str, Any]]], metric: str) -> tuple[float, float]:
    """Percentile bootstrap over patients of a pooled metric (mean over seeds)."""
    import numpy as np

    patients = sorted({_patient(c) for cases in cases_by_seed for c in cases if CONFUSION in c})
    classes = sorted({k for cases in cases_by_seed for c in cases for k in c.get(CONFUSION, {})})
    if len(patients) < 2 or not classes:
        return math.nan, math.nan
    where = {p: i for i, p in enumerate(patients)}
    counts = np.zeros((len(cases_by_seed), len(patients), len(classes), 3))
    for s, cases in enumerate(cases_by_seed):
        for c in cases:
            for j, name in enumerate(classes):
                if name in c.get(CONFUSION, {}):
                    counts[s, where[_patient(c)], j] += c[CONFUSION][name]
    rng = np.random.default_rng(stats.BOOTSTRAP_SEED)
    idx = rng.integers(0, len(patients), size=(stats.BOOTSTRAP_RESAMPLES, len(patients)))
    total = counts[:, idx].sum(2)  # (seeds, resamples, classes, 3)
    tp, fp, fn = total[..., 0], total[..., 1], total[..., 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        if metric == "miou":
            value = np.nanmean(tp / (tp + fp + fn), axis=-1)
        else:
            fg = [j for j, name in enumerate(classes) if name != BACKGROUND]
            dice = 2 * tp[..., fg] / (2 * tp[..., fg] + fp[..., fg] + fn[..., fg])
            value = np.nanmean(dice, axis=-1)
        stat = np.nanmean(value, axis=0)
    stat = stat[np.isfinite(stat)]
    if not stat.size:
        return math.nan, math.nan
    lo, hi = np.percentile(stat, [2.5, 97.5])
    return float(lo), float(hi)


def _scored(rec: dict[str, Any]) -> str:
    """How a row's test cases were scored, when not the default: Fan et al. 2022's per-image
    protocol (``evaluate=images``), per lesion (``evaluate=lesions``) and the organ-ROI
    crop (``roi=organ``)."""
    from wsbench.per_image import EVAL_LABELS

    prov = rec.get("provenance") or {}
    params = (prov.get("dataset") or {}).get("params") or {}
    parts = []
    mode = prov.get("evaluation", params.get("evaluate"))
    if mode in ("images", "lesions"):
        parts.append(EVAL_LABELS[mode])
    if params.get("roi", "none") != "none":
        parts.append(f"{params['roi']} ROI")
    return ", ".join(parts)


def _misses(cases_by_seed: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """Test cases per seed (mean over seeds) where a class in the ground truth was not
    predicted at all: from the per-case ``missed/<class>`` flags, when the records have
    them."""
    classes = sorted(
        {
            k[len("missed/") :]
            for cases in cases_by_seed
            for c in cases
            for k in c
            if k.startswith("missed/") and len(k) > len("missed/")
        }
    )
    if not classes:
        return {}
    n = max(len(cases_by_seed), 1)
    per_class = {
        c: sum(_float(case.get(f"missed/{c}")) or 0.0 for cases in cases_by_seed for case in cases)
        / n
        for c in classes
    }
    return {"misses": per_class, "misses_total": sum(per_class.values())}


def _provenance(recs: list[dict[str, Any]]) -> dict[str, Any]:
    """What a reader needs to trust or reproduce a row (from its records)."""
    prov = (recs[-1].get("provenance") or {}) if recs else {}
    plugins = prov.get("plugins") or {}
    dataset = prov.get("dataset") or {}
    protocol = prov.get("protocol") or {}
    labeler = prov.get("labeler") or {}
    # a labeler tuned on the validation split declares its budget of full masks (#11)
    val_masks = prov.get("val_masks") or (
        (labeler.get("params") or {}).get("val_masks") if isinstance(labeler, dict) else None
    )
    return {
        "versions": {
            k: f"{v.get('name')} {v.get('version')}"
            for k, v in plugins.items()
            if isinstance(v, dict)
        },
        "wsbench": prov.get("wsbench"),
        "profile": prov.get("profile"),
        "overrides": prov.get("overrides") or {},
        "protocol_hash": protocol.get("hash") if isinstance(protocol, dict) else None,
        "dataset_fingerprint": dataset.get("fingerprint") if isinstance(dataset, dict) else None,
        "split_hash": dataset.get("split_hash") if isinstance(dataset, dict) else None,
        "git_sha": sorted({str((r.get("provenance") or {}).get("git_sha")) for r in recs}),
        "device": sorted({str((r.get("provenance") or {}).get("device")) for r in recs}),
        "wall_s": round(sum(float(r.get("wall_s") or 0.0) for r in recs), 1),
        "finished_at": max(str(r.get("finished_at") or "") for r in recs) if recs else "",
        "records": [str(r.get("id")) for r in recs],
        **({"val_masks": val_masks} if val_masks else {}),
        # a segmenter given the test case's weak label at predict time (test_hint)
        **({"guided": prov["guided"]} if isinstance(prov.get("guided"), dict) else {}),
    }


def _patient(case: dict[str, Any]) -> str:
    return str(case.get("patient") if case.get("patient") is not None else case.get("case"))


def _pct_oracle(row: dict[str, Any], rows: Sequence[dict[str, Any]]) -> float:
    for other in rows:
        if (
            other["labeler"] == "oracle"
            and other["dataset"] == row["dataset"]
            and other["target"] == row["target"]
            and other["segmenter"] == row["segmenter"]
            and (other["sweep"] == row["sweep"] or not other["sweep"])
        ):
            o = other.get(f"{MAIN_METRIC}_mean", math.nan)
            if _finite(o) and o > 0:
                return 100.0 * row.get(f"{MAIN_METRIC}_mean", math.nan) / o
    return math.nan


# ---------------------------------------------------------------------------
# Reported against reproduced


def _reported_for(
    row: dict[str, Any], reported: Sequence[Reported], metric: str = MAIN_METRIC
) -> Reported | None:
    """The paper's number for this row and ``metric`` (``dice``, ``miou@pos``, ...): same
    dataset first, else the same target on the paper's own dataset (shown with that
    dataset's name, never as comparable); a test-split number before a validation one.
    ``Reported.params`` match the row's resolved parameters (a ``--set`` value or a
    default), not only its sweep values."""
    matches = [
        r
        for r in reported
        if (r.target, r.labeler, r.segmenter) == (row["target"], row["labeler"], row["segmenter"])
        and reported_key(r) == metric
        and _params_match(row, r.params)
    ]
    matches.sort(key=lambda r: (r.dataset != row["dataset"], r.split == "val"))
    return matches[0] if matches else None


def reported_key(r: Reported) -> str:
    """The row key a reported number compares with: ``miou`` or ``miou@pos``."""
    return r.metric + (POS if r.subset == "positive" else "")


def _params_match(row: dict[str, Any], params: Any) -> bool:
    resolved = row.get("_resolved") or {}
    for key, want in params.items():
        have = row["sweep"].get(key, resolved.get(key))
        if have is None or not _same_value(have, want):
            return False
    return True


def _same_value(a: Any, b: Any) -> bool:
    if str(a) == str(b):
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return str(a).lower() == str(b).lower()
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return False


def resolved_params(prov: dict[str, Any]) -> dict[str, Any]:
    """A record's resolved plugin parameters as ``scope.param`` keys: each plugin's name,
    plus ``weak.*`` (the protocol) and ``train.*`` (the segmenter), as ``--set`` spells
    them."""
    out: dict[str, Any] = {}
    identity = prov.get("identity") or {}
    parts = {
        "dataset": (identity.get("dataset") or {}).get("config") or prov.get("dataset"),
        "protocol": identity.get("protocol") or prov.get("protocol"),
        "labeler": identity.get("labeler") or prov.get("labeler"),
        "segmenter": identity.get("segmenter") or prov.get("segmenter"),
    }
    for kind, cfg in parts.items():
        if not isinstance(cfg, dict) or not isinstance(cfg.get("params"), dict):
            continue
        scopes = [str(cfg.get("name"))] + {"protocol": ["weak"], "segmenter": ["train"]}.get(
            kind, []
        )
        for scope in scopes:
            for k, v in cfg["params"].items():
                out.setdefault(f"{scope}.{k}", v)
    return out


def _attach_other_reported(row: dict[str, Any], reported: Sequence[Reported]) -> None:
    """The paper's value of every other metric it reports for this row (``miou``,
    ``dice@pos``, ...): ``row["reported_metrics"][key]``."""
    keys = {reported_key(r) for r in reported} - {MAIN_METRIC}
    out = {}
    for key in sorted(keys):
        match = _reported_for(row, reported, key)
        if match is None:
            continue
        comparable = match.dataset == row["dataset"] and match.split != "val"
        out[key] = {
            "value": match.value,
            "dataset": match.dataset,
            "split": match.split,
            "source": match.source + (f" ({match.note})" if match.note else ""),
            "comparable": comparable,
            "diff": row.get(f"{key}_mean", math.nan) - match.value if comparable else math.nan,
        }
    if out:
        row["reported_metrics"] = out


def _attach_reported(row: dict[str, Any], match: Reported | None) -> None:
    row["reported_comparable"] = False
    row["reported_diff"], row["reported_inside"] = math.nan, None
    if match is None:
        row["reported"], row["reported_dataset"], row["reported_source"] = math.nan, "", ""
        return
    row["reported"] = match.value
    row["reported_dataset"] = match.dataset
    row["reported_source"] = match.source + (f" ({match.note})" if match.note else "")
    if match.dataset != row["dataset"]:
        return  # another dataset: context, never a comparison
    row["reported_comparable"] = True
    mean = row.get(f"{MAIN_METRIC}_mean", math.nan)
    lo, hi = row.get(f"{MAIN_METRIC}_ci_lo", math.nan), row.get(f"{MAIN_METRIC}_ci_hi", math.nan)
    if _finite(mean):
        row["reported_diff"] = mean - match.value
    if _finite(lo) and _finite(hi):
        row["reported_inside"] = bool(lo <= match.value <= hi)


def _reported_only(rows: Sequence[dict[str, Any]], reported: Sequence[Reported]):
    """Rows for reported numbers of methods wsbench does not run (e.g. SDI, WSSL)."""
    present = {(r["dataset"], r["target"], r["protocol"]) for r in rows}
    have = {(r["dataset"], r["target"], r["labeler"], r["segmenter"]) for r in rows}
    papers = papers_on_board(rows, reported)
    out = []
    for dataset, target, protocol in sorted(present):
        for r in reported:
            if (
                paper_of(r) not in papers
                or r.target != target
                or r.metric != MAIN_METRIC
                or (dataset, target, r.labeler, r.segmenter) in have
            ):
                continue
            have.add((dataset, target, r.labeler, r.segmenter))
            row = {
                "dataset": dataset,
                "target": r.target,
                "protocol": protocol,
                "labeler": r.labeler,
                "segmenter": r.segmenter,
                "sweep": dict(r.params),
                "seeds": [],
                "n_cases": 0,
                "n_patients": 0,
                "failed": 0,
                "version": "reported only",
                "baseline": False,
                f"{MAIN_METRIC}_mean": math.nan,
                "pseudo_dice": math.nan,
                "pct_oracle": math.nan,
                "_patients": {},
            }
            _attach_reported(row, r)
            out.append(row)
    return out


# ---------------------------------------------------------------------------
# Boards and paired comparisons


FULL = "full"  # the fully supervised protocol: its rows (the oracle) join every table


def board_key(row: dict[str, Any]) -> tuple[str, str, str, str]:
    return (
        row["dataset"],
        row["target"],
        row["protocol"],
        json.dumps(row["sweep"], sort_keys=True, default=str),
    )


def sweep_sort_key(sweep: dict[str, Any]) -> tuple:
    """Sweep points in numeric order where the values are numbers (0 < 0.5 < 10)."""
    out = []
    for k in sorted(sweep):
        v = sweep[k]
        try:
            out.append((k, 0, float(v), ""))
        except (TypeError, ValueError):
            out.append((k, 1, 0.0, str(v)))
    return tuple(out)


def boards(rows: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Rows grouped into tables: one per dataset, target, protocol and sweep point.

    Rows of the ``full`` protocol (the oracle) also join every table of their dataset and
    target whose sweep point they match (or when they have no sweep), so that each weak
    method is compared with the oracle; they keep a table of their own only when they
    join none. The lists hold the rows themselves, not copies."""
    own: dict[tuple[str, str, str, str], list[dict[str, Any]]] = defaultdict(list)
    full: list[dict[str, Any]] = []
    for r in rows:
        (full if r["protocol"] == FULL else own[board_key(r)]).append(r)
    joined: set[int] = set()
    for key, bd in own.items():
        for f in full:
            if (f["dataset"], f["target"]) == key[:2] and (
                not f["sweep"] or json.dumps(f["sweep"], sort_keys=True, default=str) == key[3]
            ):
                bd.append(f)
                joined.add(id(f))
    for f in full:
        if id(f) not in joined:
            own[board_key(f)].append(f)
    order = sorted(own, key=lambda k: (k[:3], sweep_sort_key(json.loads(k[3]))))
    return [own[k] for k in order]


@dataclass
class Board:
    """One table: copies of its rows carrying this table's marks, and its comparisons."""

    rows: list[dict[str, Any]]
    comparisons: list[dict[str, Any]]

    @property
    def first(self) -> dict[str, Any]:
        return self.rows[0]


def compared_boards(rows: Sequence[dict[str, Any]], info: PluginInfo | None = None) -> list[Board]:
    info = info or plugin_info()
    out = []
    for bd in boards(rows):
        copies = [dict(r) for r in bd]
        out.append(Board(copies, compare_board(copies, info)))
    return out


def _mark_rows(rows: Sequence[dict[str, Any]], info: PluginInfo) -> None:
    """Give each row the marks of the first table it appears in."""
    originals = boards(rows)
    seen: set[int] = set()
    for orig, board in zip(originals, compared_boards(rows, info)):
        for r, copy in zip(orig, board.rows):
            if id(r) not in seen:
                seen.add(id(r))
                for k in ("best", "tied", "p_vs_best"):
                    r[k] = copy[k]


def compare_board(
    board: list[dict[str, Any]], info: PluginInfo, metric: str = MAIN_METRIC
) -> list[dict[str, Any]]:
    """Paired tests within one table, Holm-corrected together; sets ``best``, ``tied`` and
    ``p_vs_best`` on each row and returns the comparisons.

    The family: every two rows with the same segmenter (so each labeler meets box-fill,
    the oracle and every other labeler), and every row against the best. The best is
    taken among the table's own protocol: the oracle joins as an upper bound, not a
    contender."""
    run = [r for r in board if r.get("seeds") and _finite(r.get(f"{metric}_mean"))]
    for r in board:
        r["best"], r["tied"], r["p_vs_best"] = False, False, math.nan
    contenders = [r for r in run if r["protocol"] == board[0]["protocol"]]
    if not contenders:
        return []
    up = info.metric(metric).higher_is_better
    best = max(contenders, key=lambda r: r[f"{metric}_mean"] * (1 if up else -1))
    pairs = [
        (i, j)
        for i, j in itertools.combinations(range(len(run)), 2)
        if run[i]["segmenter"] == run[j]["segmenter"] or best in (run[i], run[j])
    ]
    raw = [
        stats.paired_wilcoxon(
            run[i]["_patients"].get(metric, {}), run[j]["_patients"].get(metric, {})
        )
        for i, j in pairs
    ]
    adjusted = stats.holm([p for p, _ in raw])
    comparisons = []
    for (i, j), (p, n), p_adj in zip(pairs, raw, adjusted):
        a, b = run[i], run[j]
        if b is best:  # the best reads first: "best − other"
            a, b = b, a
        comparisons.append(
            {
                "a": _name(a),
                "b": _name(b),
                "kind": _comparison_kind(a, b),
                "metric": metric,
                "diff": a[f"{metric}_mean"] - b[f"{metric}_mean"],
                "n_patients": n,
                "p": p,
                "p_holm": p_adj,
            }
        )
        if a is best and b in contenders:
            b["p_vs_best"] = p_adj
    best["best"] = True
    for r in contenders:
        r["tied"] = r is not best and _finite(r["p_vs_best"]) and r["p_vs_best"] >= stats.ALPHA
    return comparisons


def _name(row: dict[str, Any]) -> str:
    return f"{row['labeler']} / {row['segmenter']}"


def _comparison_kind(a: dict[str, Any], b: dict[str, Any]) -> str:
    if a["segmenter"] != b["segmenter"]:
        return "vs best"
    labelers = {a["labeler"], b["labeler"]}
    if "box-fill" in labelers and "oracle" not in labelers:
        return "vs box-fill"
    if "oracle" in labelers and "box-fill" not in labelers:
        return "vs oracle"
    return "pair"


# ---------------------------------------------------------------------------
# Columns and cell text (shared by the terminal, Markdown and site renderers)


def sweep_params(rows: Sequence[dict[str, Any]]) -> list[str]:
    return sorted({k for r in rows for k in r["sweep"]})


def class_names(rows: Sequence[dict[str, Any]]) -> list[str]:
    names = sorted(
        {
            k[len(f"{MAIN_METRIC}/") : -len("_mean")]
            for r in rows
            for k in r
            if k.startswith(f"{MAIN_METRIC}/") and k.endswith("_mean")
        }
    )
    return names if len(names) > 1 else []


def metric_title(name: str, info: PluginInfo | None = None) -> str:
    """``dice ↑``, ``hd95 mm ↓``: the plugin's name, unit and direction."""
    m = (info or plugin_info()).metric(name)
    base, _, subset = name.partition("@")
    cls = base.split("/", 1)[1] if "/" in base else ""
    unit = f" {m.unit}" if m.unit else ""
    where = f" @{subset}" if subset else ""
    arrow = "↑" if m.higher_is_better else "↓"
    return f"{m.name}{' ' + cls if cls else ''}{where}{unit} {arrow}"


def shown_metrics(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The headline metrics the rows have, then the other measures the board's papers
    report (``_paper_metrics``: recall, precision, ... for Agarwal et al.), then the pooled
    ones, then ``@pos`` ones where the dataset says which cases are positive (SIIM)."""
    papers = [m for r in rows[:1] for m in r.get("_paper_metrics") or ()]
    order = dict.fromkeys((*HEADLINE_METRICS, *papers, *POOLED_COLUMNS))
    present = [m for m in order if _has(rows, m)]
    return present + [
        f"{m}{POS}" for m in (MAIN_METRIC, *POOLED_COLUMNS) if _has(rows, f"{m}{POS}")
    ]


def reported_metric_keys(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Metrics other than the main one for which some row has the paper's value."""
    return sorted({k for r in rows for k in r.get("reported_metrics") or {}})


def _has(rows: Sequence[dict[str, Any]], m: str) -> bool:
    return any(f"{m}_mean" in r for r in rows)


def columns(
    rows: Sequence[dict[str, Any]], info: PluginInfo | None = None
) -> list[tuple[str, str]]:
    """(title, key) pairs of the table; ↑ / ↓ say which way is better."""
    info = info or plugin_info()
    cols = [("labeler", "labeler"), ("segmenter", "segmenter")]
    if any(r.get("scored") for r in rows):
        cols.append(("scored", "scored"))
    cols += [(p.split(".")[-1], f"sweep:{p}") for p in sweep_params(rows)]
    cols += [(metric_title(m, info), f"metric:{m}") for m in shown_metrics(rows)]
    cols += [
        (metric_title(f"{MAIN_METRIC}/{c}", info), f"metric:{MAIN_METRIC}/{c}")
        for c in class_names(rows)
    ]
    if any("misses" in r for r in rows):
        cols.append(("misses ↓", "misses"))
    cols += [
        ("vs best", "vs_best"),
        ("pseudo Dice ↑", "pseudo_dice"),
        ("% oracle", "pct_oracle"),
        ("paper Dice", "reported"),
        *[
            (f"paper {metric_title(k, info)[:-2]}", f"reported:{k}")
            for k in reported_metric_keys(rows)
        ],
        ("seeds", "seeds"),
        ("version", "version"),
    ]
    return cols


def scored_text(row: dict[str, Any]) -> str:
    """How a row was scored; a paper's number alone (no seeds of ours) says nothing of it."""
    if row.get("scored"):
        return str(row["scored"])
    return "per volume (3D)" if row.get("seeds") else "–"


def cell_text(row: dict[str, Any], key: str, info: PluginInfo | None = None) -> str:
    if key.startswith("sweep:"):
        return str(row["sweep"].get(key[6:], ""))
    if key.startswith("metric:"):
        return metric_text(row, key[7:], metric_digits(key[7:], info))
    value = row.get(key)
    if key == "labeler":
        return str(value) + "".join(f" ({t})" for t in labeler_tags(row))
    if key == "seeds":
        return str(len(value)) if value else "–"
    if key == "scored":
        return scored_text(row)
    if key == "misses":
        return misses_text(row)
    if key == "vs_best":
        return vs_best_text(row)
    if key == "pct_oracle":
        return f"{value:.0f} %" if _finite(value) else "–"
    if key.startswith("reported:"):
        rep = (row.get("reported_metrics") or {}).get(key[len("reported:") :])
        if not rep:
            return "–"
        where = [] if rep["dataset"] == row["dataset"] else [rep["dataset"]]
        where += [rep["split"]] if rep["split"] != "test" else []
        return f"{rep['value']:.3f}" + (f" ({', '.join(where)})" if where else "")
    if key == "reported" and _finite(value):
        where = row.get("reported_dataset", "")
        return f"{value:.3f}" + (f" ({where})" if where and where != row["dataset"] else "")
    if isinstance(value, float):
        return f"{value:.3f}" if _finite(value) else "–"
    return str(value if value is not None else "")


def labeler_tags(row: dict[str, Any]) -> list[str]:
    """Marks shown beside a labeler's name: baseline, a declared budget of validation
    masks used for tuning, and "guided" where the segmenter saw the test case's weak label
    (a RECIST-guided segmenter is not comparable with unguided ones)."""
    tags = ["baseline"] if row.get("baseline") else []
    prov = row.get("provenance") or {}
    masks = prov.get("val_masks")
    if masks:
        tags.append(f"tuned on {masks} val masks")
    guided = prov.get("guided")
    if guided:
        tags.append(f"guided by test {guided.get('kind')}")
    return tags


def metric_digits(m: str, info: PluginInfo | None = None) -> int:
    """Decimals shown: 1 for distances in mm, 3 for ratios."""
    return 1 if (info or plugin_info()).metric(m).unit == "mm" else 3


def metric_text(row: dict[str, Any], m: str, digits: int = 3, sep: str = " ") -> str:
    """``mean ± sd [lo, hi]`` (± over seeds, interval over patients; see wsbench.stats)."""
    mean = row.get(f"{m}_mean", math.nan)
    if not _finite(mean):
        return "–"
    text = stats.MeanSD(mean, row.get(f"{m}_sd", math.nan), len(row.get("seeds") or [])).text(
        digits
    )
    lo, hi = row.get(f"{m}_ci_lo", math.nan), row.get(f"{m}_ci_hi", math.nan)
    if _finite(lo) and _finite(hi):
        text += f"{sep}[{lo:.{digits}f}, {hi:.{digits}f}]"
    missing = row.get(f"{m}_n_missing", 0)
    return text + (f" ({missing} n/a)" if missing else "")


def misses_text(row: dict[str, Any]) -> str:
    misses = row.get("misses")
    if not misses:
        return "–"
    if len(misses) == 1:
        return _count(next(iter(misses.values())))
    return ", ".join(f"{c} {_count(v)}" for c, v in misses.items())


def vs_best_text(row: dict[str, Any]) -> str:
    if row.get("best"):
        return "best"
    if row.get("protocol") == FULL and row.get("seeds"):
        return "upper bound"
    p = row.get("p_vs_best")
    if not _finite(p):
        return "–"
    return f"tied (p={p:.2g})" if row.get("tied") else f"p={p:.2g}"


def _count(v: float) -> str:
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}"


def other_paper_numbers(
    rows: Sequence[dict[str, Any]], reported: Sequence[Reported]
) -> list[Reported]:
    """Reported numbers of the papers behind this table's methods that no row shows (e.g.
    LiTS tumour numbers beside a phantom liver run): listed under the table for context."""
    papers = papers_on_board(rows, reported)
    shown = {
        (r["target"], r["labeler"], r["segmenter"]) for r in rows if _finite(r.get("reported"))
    }
    return [
        r
        for r in reported
        if paper_of(r) in papers and (r.target, r.labeler, r.segmenter) not in shown
    ]


def paper_measures(rows: Sequence[dict[str, Any]], reported: Sequence[Reported]) -> list[str]:
    """The metrics, in their papers' order, that the papers of this board's methods report
    on any dataset (not ``@pos`` subsets): the board shows its own value of each."""
    papers = papers_on_board(rows, reported)
    return list(dict.fromkeys(r.metric for r in reported if paper_of(r) in papers))


def paper_of(r: Reported) -> str:
    """The paper a reported number comes from: its source up to the first comma."""
    return r.source.split(",")[0]


def papers_on_board(rows: Sequence[dict[str, Any]], reported: Sequence[Reported]) -> set[str]:
    """The papers whose own methods run on this board. A paper's own names are the labelers
    and segmenters that only its reported numbers use (ACoL and CAM for Fan et al., not the
    oracle or U-Net that several papers report), so a shared baseline brings no paper in."""
    users: dict[str, set[str]] = defaultdict(set)
    for r in reported:
        users[r.labeler].add(paper_of(r))
        users[r.segmenter].add(paper_of(r))
    run = {r[k] for r in rows if r.get("seeds") for k in ("labeler", "segmenter")}
    return {next(iter(users[name])) for name in run if len(users.get(name, ())) == 1}


def public(row: dict[str, Any]) -> dict[str, Any]:
    """The row as written to JSON/CSV: no private keys, NaN as None."""
    return {k: _clean(v) for k, v in row.items() if not k.startswith("_")}


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_clean(x) for x in v]
    return v


def _is_score(v: Any) -> bool:
    """A number (NaN included; a key whose values are all None is not a score)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _float(v: Any) -> float | None:
    return float(v) if _finite(v) else None


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _num(v: Any, default: float) -> float:
    return float(v) if _finite(v) else default
