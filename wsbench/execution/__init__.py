"""Execution: plan -> resolve -> schedule label groups -> run stages -> store records.

- ``jobs``: picklable, resolved cells (identity, pseudo-label key) and label groups
- ``stages``: load split, simulate weak labels, pseudo-label, train, predict, evaluate,
  write artefacts; plain values in, plain values out
- ``worker``: a label group's or a cell's stages, as one task
- ``executors``: serial, local (process per device) and Ray
- ``driver``: resume decisions, the output lock, the only writer of results.sqlite
"""

from wsbench.execution.driver import (
    Execution,
    Reporter,
    plan_summary,
    run_grid,
    run_plan,
    schedule,
)
from wsbench.execution.events import Event
from wsbench.execution.record import CellRecord

__all__ = [
    "CellRecord",
    "Event",
    "Execution",
    "Reporter",
    "plan_summary",
    "run_grid",
    "run_plan",
    "schedule",
]
