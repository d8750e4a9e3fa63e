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

__all__ = ["SeriesPoint", "metric_panels", "metric_vs_param_table", "plot_metric_vs_param"]


@dataclass(frozen=True)
class SeriesPoint:
    """One point of a curve: a metric at one parameter value, over seeds."""

    method: str
    metric: str
    value: float  # the swept parameter's value
    mean: float
    std: float  # sample std over seeds (0 for a single seed)
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
        arr = np.asarray(values, dtype=float)
        std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
        points.append(SeriesPoint(method, metric, x, float(arr.mean()), std, int(arr.size)))
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
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=100)
    return out_png
