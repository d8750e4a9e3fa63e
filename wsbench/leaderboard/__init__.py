"""Leaderboards from stored results: rows, renderers (terminal, Markdown, CSV/JSON, site)
and figures.

- ``rows``: records -> rows (newest per configuration, versions never merged), intervals,
  paired comparisons, "tied" marks, reported against reproduced;
- ``tables``: terminal, Markdown, CSV and JSON;
- ``site``: the static HTML site;
- ``figures``: Dice against a swept parameter and against annotation cost;
- ``costs``: cited annotation costs per weak-label kind;
- ``publish``: published folders (``records.json``) and the staleness check.

The statistics behind every number live in ``wsbench.stats``.
"""

from wsbench.leaderboard.publish import check, load_source, write
from wsbench.leaderboard.rows import (
    PluginInfo,
    boards,
    build_rows,
    cell_text,
    class_names,
    columns,
    latest,
    other_paper_numbers,
    plugin_info,
    sweep_params,
)
from wsbench.leaderboard.site import Source, build_site, safe_slug
from wsbench.leaderboard.tables import rich_table, to_csv, to_json, to_markdown

__all__ = [
    "PluginInfo",
    "Source",
    "boards",
    "build_rows",
    "build_site",
    "cell_text",
    "check",
    "class_names",
    "columns",
    "latest",
    "load_source",
    "other_paper_numbers",
    "plugin_info",
    "rich_table",
    "safe_slug",
    "sweep_params",
    "to_csv",
    "to_json",
    "to_markdown",
    "write",
]
