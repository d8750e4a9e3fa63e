"""The driver: resolve the plan, decide what resumes, run the rest, store each record.

Only this process writes ``results.sqlite``, one transaction per finished cell, while
holding the output folder's lock. A cell counts as finished when its record and its
artefacts exist: a record whose ``summary.json``, predictions or checkpoint are gone
runs the missing stages again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wsbench.errors import ParameterError
from wsbench.execution import stages
from wsbench.execution.events import Event
from wsbench.execution.executors import LocalExecutor, RayExecutor, SerialExecutor
from wsbench.execution.jobs import (
    CellJob,
    LabelGroup,
    WorkerEnv,
    group_jobs,
    registry_spec,
    resolve_jobs,
)
from wsbench.execution.lock import OutLock
from wsbench.execution.record import CellRecord
from wsbench.grid import Cell, Plan, RunSpec, plan
from wsbench.plugins import Registry
from wsbench.store import Store

EXECUTORS = ("serial", "local", "ray")


@dataclass(frozen=True)
class Execution:
    """How to run a grid (none of it changes a result): executor, workers, devices."""

    executor: str | None = None  # None: local when there are several workers, else serial
    jobs: int = 1
    devices: tuple[str, ...] = ()  # () : every visible GPU, else --device
    threads: int = 0  # torch threads per worker; 0: the cores split between workers
    ray_address: str | None = None
    wait: bool = False  # wait for another run on the same --out instead of failing


class Reporter:
    """Progress callbacks; the default does nothing."""

    def grid_started(self, total: int, resumed: int) -> None: ...

    def event(self, event: Event) -> None: ...

    def resumed(self, title: str, record: CellRecord) -> None: ...

    def cell_finished(self, title: str, record: CellRecord) -> None: ...

    def skipped(self, what: str, why: str) -> None: ...

    def note(self, message: str) -> None: ...


@dataclass
class Decision:
    """What happens to one cell: ``resume`` (stored and complete), ``restore`` (stored,
    artefacts missing: run from ``job.resume_from``) or ``run``; ``why`` in words."""

    job: CellJob
    action: str
    why: str
    previous: dict[str, Any] | None = None


@dataclass
class Schedule:
    decisions: list[Decision]
    groups: list[LabelGroup]
    skipped: list[tuple[str, str]] = field(default_factory=list)


def run_grid(
    spec: RunSpec,
    registry: Registry,
    reporter: Reporter | None = None,
    execution: Execution | None = None,
) -> list[dict[str, Any]]:
    """Plan and run ``spec``; one record dict per cell (finished, failed or resumed)."""
    records = run_plan(plan(spec, registry), spec, registry, reporter, execution)
    return [r.to_dict() for r in records]


def schedule(the_plan: Plan, spec: RunSpec, registry: Registry) -> Schedule:
    """Resolve every cell and decide, against the store, what resumes and what runs."""
    jobs = resolve_jobs(the_plan.cells, spec, registry)
    db = Path(spec.out) / "results.sqlite"
    decisions = []
    # read-only: `wsbench plan` must not create, migrate or switch the journal of a store
    store = Store(db, read_only=True) if db.is_file() and db.stat().st_size else None
    try:
        for job in jobs:
            decisions.append(_decide(job, store, spec.resume, registry))
    finally:
        if store is not None:
            store.close()
    # a sweep over a parameter of a plugin outside a cell repeats that cell: compute it once
    todo: dict[str, CellJob] = {}
    for d in decisions:
        if d.action != "resume":
            todo.setdefault(d.job.id, d.job)
    groups = group_jobs(list(todo.values()))
    return Schedule(decisions, groups, list(the_plan.skipped))


def _decide(job: CellJob, store: Store | None, resume: bool, registry: Registry) -> Decision:
    row = store.get(job.id) if store is not None else None
    if row is None:
        return Decision(job, "run", _why_new(job, store))
    if not resume:
        return Decision(job, "run", "--no-resume: computed again into a new record", row)
    if row["status"] != "done":
        return Decision(job, "run", f"its last attempt failed: {row['error']}", row)
    checkpointed = "checkpoint" in row["provenance"]
    missing = stages.artefacts_missing(job, checkpointed)
    if not missing:
        return Decision(job, "resume", f"finished {row['finished_at']}, identity matches", row)
    stage = "predict" if checkpointed and "model.pt" not in missing else "start"
    redo = "predict and evaluate" if stage == "predict" else "train, predict and evaluate"
    return Decision(
        job.with_resume(stage),
        "restore",
        f"record found but {', '.join(missing)} missing: {redo} again",
        row,
    )


def _why_new(job: CellJob, store: Store | None) -> str:
    """Why no stored record matches: what changed since the newest row of this
    configuration, or that the configuration never ran here."""
    if store is None:
        return "no results store yet"
    olds = store.records(latest=True, config_id=job.config_id)
    if not olds:
        return "no stored record of this configuration"
    old = olds[0]["provenance"].get("identity") or {}
    changes = [c for c in _diff(old, dict(job.identity)) if c]
    return "changed since the stored record: " + ("; ".join(changes[:4]) or "identity differs")


def _diff(old: Any, new: Any, path: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for k in sorted(set(old) | set(new)):
            out += _diff(old.get(k), new.get(k), f"{path}.{k}" if path else str(k))
        return out
    if old != new:
        return [f"{path} {_short(old)} -> {_short(new)}"]
    return []


def _short(v: Any) -> str:
    s = str(v)
    return s if len(s) <= 24 else s[:21] + "..."


def run_plan(
    the_plan: Plan,
    spec: RunSpec,
    registry: Registry,
    reporter: Reporter | None = None,
    execution: Execution | None = None,
) -> list[CellRecord]:
    """Run a planned grid; return one record per cell, in plan order."""
    reporter = reporter or Reporter()
    execution = execution or Execution()
    out = Path(spec.out)
    out.mkdir(parents=True, exist_ok=True)
    for what, why in the_plan.skipped:
        reporter.skipped(what, why)
    with OutLock(out, wait=execution.wait):
        sched = schedule(the_plan, spec, registry)
        by_id: dict[str, CellRecord] = {}
        resumed = [d for d in sched.decisions if d.action == "resume"]
        reporter.grid_started(len(sched.decisions), len(resumed))
        for d in resumed:
            assert d.previous is not None
            rec = CellRecord.from_dict({**d.previous, "resumed": True})
            rec.note = f"from {out / 'results.sqlite'}, finished {d.previous['finished_at']}"
            by_id[d.job.id] = rec
            reporter.resumed(d.job.title, rec)
        for d in sched.decisions:
            if d.action == "restore":
                reporter.note(f"restoring {d.job.title}: {d.why}")
        titles = {d.job.id: d.job.title for d in sched.decisions}
        previous = {d.job.id: d.previous for d in sched.decisions}
        executor = make_executor(execution, spec, registry)
        with Store(out / "results.sqlite") as store:
            for record in executor.run(sched.groups, reporter.event):
                _keep_previous(record, previous.get(record.id))
                if not store.put(record):
                    record.note = "the earlier finished record was kept"
                registry.cell_finished(_cell_of(sched, record.id), record.to_dict())
                reporter.cell_finished(titles[record.id], record)
                by_id[record.id] = record
    return [by_id[d.job.id] for d in sched.decisions if d.job.id in by_id]


def _keep_previous(record: CellRecord, previous: dict[str, Any] | None) -> None:
    """A restored cell keeps what only its first run measured (pseudo-label quality)."""
    if previous and record.done and not record.pseudo:
        record.pseudo = previous.get("pseudo", {})
        for key in ("pseudo_cache", "train_log"):
            if key in previous["provenance"] and key not in record.provenance:
                record.provenance[key] = previous["provenance"][key]


def _cell_of(sched: Schedule, cell_id: str) -> Cell:
    return next(d.job.cell for d in sched.decisions if d.job.id == cell_id)


# ---------------------------------------------------------------------------
# executors and devices


def make_executor(execution: Execution, spec: RunSpec, registry: Registry):
    devices = resolve_devices(execution, spec)
    kind = execution.executor or ("local" if len(devices) > 1 else "serial")
    if kind not in EXECUTORS:
        raise ParameterError(f"--executor {kind!r} is not known; choose one of serial, local, ray")
    cores = os.cpu_count() or 1
    threads = execution.threads or max(1, cores // max(1, len(devices)))
    reg = registry_spec(registry)
    if kind == "serial":
        return SerialExecutor(WorkerEnv(reg, devices[0], execution.threads, "main"), registry)
    if kind == "local":
        envs = [WorkerEnv(reg, dev, threads, f"w{i}") for i, dev in enumerate(devices)]
        return LocalExecutor(envs)
    return RayExecutor(
        WorkerEnv(reg, devices[0], threads, "ray"),
        address=execution.ray_address,
        num_cpus=None if execution.ray_address else len(devices) * threads,
    )


def resolve_devices(execution: Execution, spec: RunSpec) -> list[str]:
    """One entry per worker: ``--devices``; else every visible GPU; else ``--jobs`` x
    the resolved ``--device``."""
    from wsbench.training.device import select_device

    if execution.jobs < 1:
        raise ParameterError(f"--jobs {execution.jobs}: give 1 or more workers")
    if execution.devices:
        return [str(select_device(d)) for d in execution.devices]
    device = str(select_device(spec.device))
    if device.startswith("cuda") and spec.device in ("auto", "cuda"):
        import torch

        n = torch.cuda.device_count()
        if n > 1:
            return [f"cuda:{i}" for i in range(n)]
    return [device] * execution.jobs


def plan_summary(sched: Schedule) -> dict[str, Any]:
    """``wsbench plan --json``: cells, label groups, what resumes and why, what is skipped."""
    group_of = {}
    for i, g in enumerate(sched.groups):
        for job in g.jobs:
            group_of[job.id] = i
    return {
        "cells": [
            {
                "id": d.job.id,
                "config_id": d.job.config_id,
                "title": d.job.title,
                "dataset": d.job.cell.dataset,
                "labeler": d.job.cell.labeler,
                "segmenter": d.job.cell.segmenter,
                "seed": d.job.cell.seed,
                "sweep": dict(d.job.cell.sweep),
                "action": d.action,
                "why": d.why,
                "group": group_of.get(d.job.id),
            }
            for d in sched.decisions
        ],
        "groups": [
            {
                "group": i,
                "pseudo_key": g.key,
                "labeler": g.labeler,
                "cells": [j.id for j in g.jobs],
                "labels_with_segmenter": g.together,
            }
            for i, g in enumerate(sched.groups)
        ],
        "skipped": [{"what": w, "why": y} for w, y in sched.skipped],
    }


__all__ = [
    "Decision",
    "Execution",
    "Reporter",
    "Schedule",
    "plan_summary",
    "run_grid",
    "run_plan",
    "schedule",
]
