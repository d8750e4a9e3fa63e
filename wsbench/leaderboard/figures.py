"""Pure plotting functions for leaderboards: stored records in, a PNG out.

The records are what ``wsbench.runner.run_grid`` returns and the store holds: dicts with
``labeler``, ``segmenter``, ``seed``, ``sweep`` (e.g. ``{"weak.alpha": 0.7}``) and
``metrics`` (``"dice"`` for the class mean, ``"dice/<class>"`` per class). Nothing here
reads files or global state; matplotlib's object API is used, so no backend is touched.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from wsbench.errors import ParameterError
from wsbench.stats import PM_FOOTER, mean_sd

__all__ = [
    "SeriesPoint",
    "metric_panels",
    "metric_vs_param_table",
    "plot_dice_vs_cost",
    "plot_metric_vs_param",
]


@dataclass(frozen=True)
class SeriesPoint:
    """One point of a curve: a metric at one parameter value, over seeds."""

    method: str
    metric: str
    value: float  # the swept parameter's value
    mean: float
    std: float  # sample std over seeds (0 for a single seed): the wsbench.stats ± convention
    n: int


def _method_name(row: dict[str, Any], several_segmenters: bool) -> str:
    return f"{row['labeler']} / {row['segmenter']}" if several_segmenters else row["labeler"]


def _usable(rows: Iterable[dict[str, Any]], param: str) -> list[dict[str, Any]]:
    """Finished records that carry ``param`` in their sweep."""
    return [
        r
        for r in rows
        if r.get("status", "done") == "done"
        and param in (r.get("sweep") or {})
        and r.get("metrics")
    ]


def metric_panels(rows: Sequence[dict[str, Any]], metric_prefix: str = "dice") -> list[str]:
    """Metric keys to draw: each ``<prefix>/<class>`` in first-seen order, then ``<prefix>``."""
    per_class: list[str] = []
    for r in rows:
        for key in r["metrics"]:
            if key.startswith(metric_prefix + "/") and key not in per_class:
                per_class.append(key)
    has_mean = any(metric_prefix in r["metrics"] for r in rows)
    return per_class + ([metric_prefix] if has_mean else [])


def metric_vs_param_table(
    rows: Sequence[dict[str, Any]], param: str, metric_prefix: str = "dice"
) -> list[SeriesPoint]:
    """Mean and std over seeds of every panel metric, per method and parameter value."""
    usable = _usable(rows, param)
    if not usable:
        swept = sorted({k for r in rows for k in (r.get("sweep") or {})})
        raise ParameterError(
            f"no finished record was swept over {param!r}; swept keys are: "
            f"{', '.join(swept) or '(none)'}; pass one of them, or run with --sweep {param}=..."
        )
    several = len({r["segmenter"] for r in usable}) > 1
    groups: dict[tuple[str, str, float], list[float]] = defaultdict(list)
    for r in usable:
        x = float(r["sweep"][param])
        for metric in metric_panels(usable, metric_prefix):
            if metric in r["metrics"] and r["metrics"][metric] is not None:
                groups[(_method_name(r, several), metric, x)].append(float(r["metrics"][metric]))
    points = []
    for (method, metric, x), values in sorted(groups.items()):
        spread = mean_sd(values)
        std = spread.sd if spread.n > 1 else 0.0
        points.append(SeriesPoint(method, metric, x, spread.mean, std, spread.n))
    return points


def plot_metric_vs_param(
    rows: Sequence[dict[str, Any]],
    param: str,
    metric_prefix: str = "dice",
    out_png: Path | str | None = None,
) -> Path:
    """Draw a metric versus a swept parameter, as Fig. 3 of Petit et al. (SMILE, 2018).

    One panel per class (``<prefix>/<class>``) plus one for the class mean
    (``<prefix>``), one line per method (labeler, or labeler / segmenter when several
    segmenters appear), error bars = sample std over seeds. Writes and returns
    ``out_png`` (required; it has a default only to follow ``metric_prefix``).
    """
    if out_png is None:
        raise TypeError("plot_metric_vs_param() needs out_png, the path of the PNG to write")
    points = metric_vs_param_table(rows, param, metric_prefix)
    panels = metric_panels(_usable(rows, param), metric_prefix)
    methods = list(dict.fromkeys(p.method for p in points))
    fig = Figure(figsize=(3.2 * len(panels), 3.0), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False, sharey=True)[0]
    for ax, metric in zip(axes, panels):
        for i, method in enumerate(methods):
            series = [p for p in points if p.method == method and p.metric == metric]
            if not series:
                continue
            ax.errorbar(
                [p.value for p in series],
                [p.mean for p in series],
                yerr=[p.std for p in series],
                marker="o",
                markersize=3,
                capsize=3,
                color=f"C{i}",
                label=method,
            )
        ax.set_title(metric.split("/", 1)[1] if "/" in metric else f"mean {metric}")
        ax.set_xlabel(param)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(metric_prefix)
    axes[-1].legend(fontsize="small", loc="best")
    fig.supxlabel("error bars: " + PM_FOOTER, fontsize="x-small")
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=100)
    return out_png


def plot_dice_vs_cost(
    rows: Sequence[dict[str, Any]], out_png: Path | str, metric: str = "dice"
) -> Path | None:
    """Dice against annotation seconds per object of each row's weak-label kind.

    ``rows`` are leaderboard rows (``wsbench.leaderboard.rows``); the error bars are their
    95 % bootstrap intervals over patients. Kinds without a cited cost are left off; None
    when fewer than two kinds remain (no trade-off to draw)."""
    from wsbench.leaderboard.costs import cost_of, weak_kind
    from wsbench.stats import CI_FOOTER

    pts = [
        (cost_of(r["protocol"]).seconds, r)  # type: ignore[union-attr]
        for r in rows
        if r.get("seeds")
        and cost_of(r["protocol"])
        and np.isfinite(r.get(f"{metric}_mean", np.nan))
    ]
    if len({weak_kind(r["protocol"]) for _, r in pts}) < 2:
        return None
    fig = Figure(figsize=(7.2, 3.6), layout="constrained")
    ax = fig.subplots()
    segmenters = sorted({r["segmenter"] for _, r in pts})
    labelers = sorted({r["labeler"] for _, r in pts})
    markers = "osD^v<>P*X"
    for x, r in pts:
        mean = r[f"{metric}_mean"]
        lo, hi = r.get(f"{metric}_ci_lo", np.nan), r.get(f"{metric}_ci_hi", np.nan)
        yerr = [[mean - lo], [hi - mean]] if np.isfinite(lo) and np.isfinite(hi) else None
        # a small horizontal offset per segmenter keeps equal-cost points apart
        dx = 1.0 + 0.06 * (segmenters.index(r["segmenter"]) - (len(segmenters) - 1) / 2)
        ax.errorbar(
            [x * dx],
            [mean],
            yerr=yerr,
            marker=markers[segmenters.index(r["segmenter"]) % len(markers)],
            color=f"C{labelers.index(r['labeler']) % 10}",
            capsize=3,
            linestyle="none",
        )
    for i, lab in enumerate(labelers):
        ax.plot([], [], "s", color=f"C{i % 10}", label=lab)
    for j, seg in enumerate(segmenters):
        ax.plot([], [], markers[j % len(markers)], color="gray", label=seg)
    kinds = sorted({(x, weak_kind(r["protocol"])) for x, r in pts})
    ax.set_xscale("log")
    ax.set_xticks([x for x, _ in kinds], [f"{k}\n{x:g} s" for x, k in kinds])
    ax.minorticks_off()
    ax.set_xlabel("annotation seconds per object (cited study)")
    ax.set_ylabel(f"test {metric}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.supxlabel("error bars: " + CI_FOOTER, fontsize="x-small")
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=100)
    return out_png
