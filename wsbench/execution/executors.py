"""Executors: where label groups and cells run.

- ``serial``: in this process, one after the other.
- ``local``: one spawned worker process per device (``--devices``) or per ``--jobs`` on
  CPU, each with its own registry built from entry points. A group's labelling runs on
  one worker; its cells then go to whichever workers are free. A worker that dies
  (SIGKILL, out of memory, a segfault in a C extension) fails only the task it held,
  and a fresh worker takes its place.
- ``ray``: Ray core tasks, one per label group, whose result fans out into one task per
  cell (``num_gpus=1`` on GPU clusters, ``num_cpus`` on CPU).

Every executor yields ``CellRecord`` values as cells finish and passes events to the
driver's sink; none writes the results store.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import replace
from multiprocessing.connection import Connection, wait
from typing import Any

from wsbench.errors import WsbenchError
from wsbench.execution.events import Event, Sink
from wsbench.execution.jobs import CellJob, LabelGroup, WorkerEnv
from wsbench.execution.record import CellRecord
from wsbench.execution.worker import (
    LabelResult,
    failed_record,
    run_cell,
    run_label,
    set_threads,
    worker_registry,
)
from wsbench.plugins import Registry


def first_tasks(groups: list[LabelGroup]) -> list[tuple[str, Any]]:
    """Label one group per task; a labeler that trains the cell's segmenter labels and
    trains in its cell's own task."""
    tasks: list[tuple[str, Any]] = []
    for g in groups:
        if g.together:
            tasks.extend(("cell", (job, None)) for job in g.jobs)
        else:
            tasks.append(("label", g))
    return tasks


class SerialExecutor:
    name = "serial"

    def __init__(self, env: WorkerEnv, registry: Registry):
        self.env, self.registry = env, registry

    def run(self, groups: list[LabelGroup], sink: Sink) -> Iterator[CellRecord]:
        for group in groups:
            label = None if group.together else run_label(group, self.env, self.registry, sink)
            for job in group.jobs:
                yield run_cell(job, label, self.env, self.registry, sink)


# ---------------------------------------------------------------------------
# local: a pool of spawned processes, one task at a time each


class _Worker:
    def __init__(self, ctx: Any, env: WorkerEnv):
        self.env = env
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(
            target=_worker_main, args=(child, env), name=f"wsbench-{env.name}", daemon=True
        )
        self.proc.start()
        child.close()
        self.task: tuple[str, Any] | None = None
        self.started = 0.0

    def give(self, task: tuple[str, Any]) -> None:
        self.task, self.started = task, time.perf_counter()
        self.conn.send(task)

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()


class LocalExecutor:
    name = "local"

    def __init__(self, envs: list[WorkerEnv]):
        if not envs:
            raise WsbenchError("--executor local needs at least one worker; pass --jobs 1 or more")
        self.envs = envs

    def run(self, groups: list[LabelGroup], sink: Sink) -> Iterator[CellRecord]:
        ctx = mp.get_context("spawn")
        labels: deque[tuple[str, Any]] = deque(first_tasks(groups))
        cells: deque[tuple[str, Any]] = deque()  # cells of labelled groups go first
        n = min(len(self.envs), len(labels))  # no more workers than there is work to start
        workers: list[_Worker | None] = [_Worker(ctx, env) for env in self.envs[:n]]
        workers += [None] * (len(self.envs) - n)
        try:
            while labels or cells or any(w is not None and w.task for w in workers):
                for i, w in enumerate(workers):
                    if (cells or labels) and (w is None or w.task is None):
                        if w is None:  # started late, or replacing a worker that died
                            w = workers[i] = _Worker(ctx, self.envs[i])
                        w.give(cells.popleft() if cells else labels.popleft())
                busy = [w for w in workers if w is not None and w.task is not None]
                ready = wait([w.conn for w in busy] + [w.proc.sentinel for w in busy])
                for w in busy:
                    if w.conn in ready or w.proc.sentinel in ready:
                        done = yield from self._drain(w, sink, cells)
                        if done == "dead":
                            yield from self._died(w, sink)
                            w.conn.close()
                            workers[workers.index(w)] = None
        finally:
            for w in workers:
                if w is not None:
                    w.stop()

    def _drain(self, w: _Worker, sink: Sink, cells: deque) -> Iterator[CellRecord]:
        """Read what ``w`` sent; return "dead" when its process is gone."""
        while True:
            try:
                if not w.conn.poll():
                    return "dead" if not w.proc.is_alive() else "ok"
                kind, payload = w.conn.recv()
            except (EOFError, OSError):
                w.proc.join(timeout=5)
                return "dead"
            if kind == "event":
                sink(payload)
                continue
            task, w.task = w.task, None
            assert task is not None
            if task[0] == "label":
                group: LabelGroup = task[1]
                cells.extend(("cell", (job, payload)) for job in group.jobs)
            else:
                yield payload
            return "ok"

    def _died(self, w: _Worker, sink: Sink) -> Iterator[CellRecord]:
        task, w.task = w.task, None
        if task is None:
            return
        w.proc.join(timeout=5)
        code = w.proc.exitcode
        how = (
            f"signal {signal.Signals(-code).name}"
            if code is not None and code < 0
            else f"exit status {code}"
        )
        jobs: list[CellJob] = list(task[1].jobs) if task[0] == "label" else [task[1][0]]
        stage = "labelling" if task[0] == "label" else "running"
        why = (
            f"worker {w.env.name} ({w.env.device}) died with {how} while {stage} this cell "
            "(killed, out of memory, or a crash in a C extension); the grid went on"
        )
        for job in jobs:
            sink(Event("warning", job.id, job.title, "", w.env.name, message=why))
            yield failed_record(job, w.env, why, time.perf_counter() - w.started)


def _worker_main(conn: Connection, env: WorkerEnv) -> None:
    """A local worker: one task at a time until told to stop or the driver goes away."""
    parent = os.getppid()
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    set_threads(env.threads)
    worker_registry(env)  # import the plugins while the driver is still scheduling

    def sink(event: Event) -> None:
        conn.send(("event", event))

    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        kind, payload = task
        if kind == "label":
            result: Any = run_label(payload, env, None, sink)
        else:
            job, label = payload
            result = run_cell(job, label, env, None, sink)
        conn.send(("result", result))


def _exit_with_parent(parent: int) -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(3)


# ---------------------------------------------------------------------------
# ray


def _ray_label(group: LabelGroup, env: WorkerEnv) -> LabelResult:
    set_threads(env.threads)
    return run_label(group, _ray_env(env))


def _ray_cell(job: CellJob, label: LabelResult | None, env: WorkerEnv) -> CellRecord:
    set_threads(env.threads)
    return run_cell(job, label, _ray_env(env))


def _ray_env(env: WorkerEnv) -> WorkerEnv:
    import ray

    node = ray.get_runtime_context().get_node_id()[:8]
    device = env.device
    if device.startswith("cuda") and ray.get_gpu_ids():
        device = "cuda:0"  # Ray sets CUDA_VISIBLE_DEVICES to the task's GPU
    return replace(env, name=f"ray:{node}", device=device)


class RayExecutor:
    name = "ray"

    def __init__(self, env: WorkerEnv, address: str | None = None, num_cpus: int | None = None):
        self.env, self.address, self.num_cpus = env, address, num_cpus

    def run(self, groups: list[LabelGroup], sink: Sink) -> Iterator[CellRecord]:
        try:
            import ray
        except ImportError:
            raise WsbenchError(
                "--executor ray needs Ray; install it with: pip install 'wsbench[ray]'"
            ) from None
        started_here = not ray.is_initialized()
        if started_here:
            kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if self.address:
                kw["address"] = self.address
            elif self.num_cpus:
                kw["num_cpus"] = self.num_cpus
            ray.init(**kw)
        try:
            yield from self._run(ray, groups, sink)
        finally:
            if started_here:
                ray.shutdown()

    def _run(self, ray: Any, groups: list[LabelGroup], sink: Sink) -> Iterator[CellRecord]:
        gpus = ray.cluster_resources().get("GPU", 0) > 0
        env = replace(self.env, device="cuda" if gpus else "cpu")
        opts = {"num_gpus": 1} if gpus else {"num_cpus": max(1, env.threads or 1)}
        label_task = ray.remote(max_retries=0)(_ray_label).options(**opts)
        cell_task = ray.remote(max_retries=0)(_ray_cell).options(**opts)
        pending: dict[Any, tuple[str, Any]] = {}

        def submit_cell(job: CellJob, label: Any) -> None:
            sink(Event("stage", job.id, job.title, "queued", "ray"))
            pending[cell_task.remote(job, label, env)] = ("cell", job)

        for kind, payload in first_tasks(groups):
            if kind == "label":
                pending[label_task.remote(payload, env)] = ("label", payload)
            else:
                submit_cell(payload[0], None)
        while pending:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            kind, what = pending.pop(ref)
            try:
                result = ray.get(ref)
            except ray.exceptions.RayError as exc:
                why = f"Ray task failed: {type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
                for job in what.jobs if kind == "label" else [what]:
                    yield failed_record(job, env, why)
                continue
            if kind == "label":
                for job in what.jobs:
                    submit_cell(job, result)
            else:
                yield result
