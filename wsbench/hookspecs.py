"""Every hook a wsbench plugin can implement.

A plugin is a module (or object) with functions decorated by ``wsbench.hookimpl``,
registered through the ``wsbench`` entry-point group. The ``register`` hooks return
lists of plugin *classes* (subclasses of the contracts in ``wsbench.api``); wsbench
instantiates them per grid cell with the resolved parameters. Every hook is
documented in CONTRIBUTING.md; ``tests/test_docs.py`` checks that.
"""

from __future__ import annotations

from typing import Any

import pluggy

from wsbench.api import Dataset, Labeler, Metric, Protocol, Segmenter

hookspec = pluggy.HookspecMarker("wsbench")


@hookspec
def wsbench_register_datasets() -> list[type[Dataset]]:  # type: ignore[empty-body]
    """Return ``wsbench.api.Dataset`` subclasses: sources of cases (``--dataset``)."""


@hookspec
def wsbench_register_protocols() -> list[type[Protocol]]:  # type: ignore[empty-body]
    """Return ``wsbench.api.Protocol`` subclasses: weak-label simulators (``--weak``)."""


@hookspec
def wsbench_register_labelers() -> list[type[Labeler]]:  # type: ignore[empty-body]
    """Return ``wsbench.api.Labeler`` subclasses: weak label -> pseudo mask (``--labeler``)."""


@hookspec
def wsbench_register_segmenters() -> list[type[Segmenter]]:  # type: ignore[empty-body]
    """Return ``wsbench.api.Segmenter`` subclasses: networks trained on pseudo masks
    (``--segmenter``)."""


@hookspec
def wsbench_register_metrics() -> list[type[Metric]]:  # type: ignore[empty-body]
    """Return ``wsbench.api.Metric`` subclasses: per-case scores in the results and tables."""


@hookspec
def wsbench_cell_finished(cell: Any, record: dict) -> None:
    """Called after a grid cell is stored, finished or failed.

    ``cell`` is the ``wsbench.runner.Cell``; ``record`` is what the store holds for it
    (status, metrics, provenance). Use it to notify, log or export; return nothing.
    """
