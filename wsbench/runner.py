"""Compatibility: the runner now lives in ``wsbench.execution``.

``from wsbench.runner import RunSpec, run_grid`` keeps working for plugin tests and
scripts; new code imports from ``wsbench.execution``.
"""

from wsbench.execution import CellRecord, Execution, Reporter, run_grid, run_plan
from wsbench.execution.stages import aggregate, evaluate_case, pseudo_quality, to_label_map
from wsbench.execution.worker import git_sha
from wsbench.grid import Cell, RunSpec

__all__ = [
    "Cell",
    "CellRecord",
    "Execution",
    "Reporter",
    "RunSpec",
    "aggregate",
    "evaluate_case",
    "git_sha",
    "pseudo_quality",
    "run_grid",
    "run_plan",
    "to_label_map",
]
