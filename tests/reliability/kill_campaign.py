"""The kill campaign: SIGKILL a grid driver again and again, resume each time, and prove
that no finished cell is lost or recomputed and that the store stays sound.

Run as a script (``python kill_campaign.py OUT N_KILLS SEED [--no-resume]``); it prints
one JSON summary line (``test_kill_campaign.py`` runs it). The parent imports wsbench
once and forks one driver per round, so a round costs milliseconds, not an interpreter
start. A driver dies by SIGKILL, with no cleanup, either on a named point (before or
after the n-th call of labelling, training, a store write or an artefact write) or from
the parent at a random moment. The parent then opens the store read-only and checks it,
and the next driver resumes the grid.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

# Where a driver can be killed: phase -> "module:attribute path" of a callable to wrap.
POINTS = {
    "labelling": [
        "wsbench.testing.toy_plugins:ToyOracle.label",
        "wsbench.labelers.box_fill:BoxFill.label",
    ],
    "training": ["wsbench.testing.toy_plugins:ToyThreshold.fit"],
    "store": ["wsbench.store:Store.put"],
    "artefacts": ["wsbench.outputs:write_summary", "wsbench.outputs:write_prediction"],
}
# logged on entry: a finished cell must not come back (the serial executor calls it)
CELL_ENTRY = "wsbench.execution.executors:run_cell"
OVERLAYS = "wsbench.outputs:write_overlay"  # matplotlib is not under test: a small stand-in
STORE = "results.sqlite"


def _resolve(spec: str):
    import importlib

    module, path = spec.split(":")
    owner = importlib.import_module(module)
    *parents, name = path.split(".")
    for part in parents:
        owner = getattr(owner, part)
    return owner, name


def _wrap(spec: str, before=None, after=None) -> None:
    owner, name = _resolve(spec)
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        if before:
            before(args)
        result = original(*args, **kwargs)
        if after:
            after(args)
        return result

    setattr(owner, name, wrapper)


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _driver(out: Path, spec, registry, point: tuple[str, int, str] | None) -> None:
    """The forked child: arm the kill point, run the grid, exit 0 when it finishes."""
    from wsbench.execution import run_grid

    def stand_in(cell_dir, case, *args, **kwargs):
        path = Path(cell_dir) / "overlays" / f"{case.id}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\x89PNG stand-in")
        return [path]

    owner, name = _resolve(OVERLAYS)
    setattr(owner, name, stand_in)
    log = open(out / "entered.log", "a")

    def entered(args):
        log.write(f"{os.getpid()} {args[0].id}\n")
        log.flush()
        os.fsync(log.fileno())

    _wrap(CELL_ENTRY, before=entered)
    if point is not None:
        phase, nth, when = point
        calls = [0]

        def count(_args):
            calls[0] += 1
            if calls[0] == nth:
                _die()

        for target in POINTS[phase]:
            _wrap(target, **{when: count})
    run_grid(spec, registry)
    os._exit(0)


def check_store(out: Path) -> dict[str, dict]:
    """Open the store read-only; integrity check plus record checks; {id: record}."""
    db = out / STORE
    if not db.exists():
        return {}
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        columns = [r[1] for r in con.execute("PRAGMA table_info(cells)")]
        rows = [dict(zip(columns, r)) for r in con.execute("SELECT * FROM cells")]
    finally:
        con.close()
    records = {}
    for row in rows:
        assert row["id"] not in records, f"duplicate record {row['id']}"
        assert row["status"] in ("done", "failed"), row["status"]
        assert row["finished_at"] and row["wall_s"] is not None
        for column in ("metrics", "per_case", "provenance"):
            json.loads(row[column])  # a torn write would not parse
        if row["status"] == "done":
            assert json.loads(row["metrics"]).get("dice") is not None, row["id"]
            summary = out / row["dataset"] / row["id"] / "summary.json"
            json.loads(summary.read_text())  # artefacts of a stored cell are complete
        records[row["id"]] = row
    return records


def campaign(out: Path, kills: int, seed: int, resume: bool = True) -> dict:
    from wsbench.grid import RunSpec, plan
    from wsbench.plugins import load_registry
    from wsbench.testing import toy_plugins

    rng = random.Random(seed)
    registry = load_registry(extra=[toy_plugins], disable={"acol", "smile"})
    spec = RunSpec(
        datasets=("toy",),
        labelers=("toy-oracle", "box-fill"),
        segmenters=("toy-threshold",),
        seeds=tuple(range(3 * kills // 2 + 2)),  # more cells than kills: every round can land
        device="cpu",
        out=out,
        resume=resume,  # False: the mutant that must be caught recomputing
    )
    n_cells = len(plan(spec, registry).cells)
    registry.classes("labeler")  # resolved once here, inherited by every driver
    phases = list(POINTS) + ["random"]
    started = time.perf_counter()
    rounds, by_phase, lost, recomputed = [], {p: 0 for p in phases}, [], []
    killed_rounds: list[float] = []
    kills_done = 0
    while True:
        before = check_store(out)
        done_before = {k: v for k, v in before.items() if v["status"] == "done"}
        phase = phases[len(rounds) % len(phases)] if kills_done < kills else None
        point = None
        if phase and phase != "random":
            point = (phase, rng.randint(1, 2), rng.choice(["before", "after"]))
        log_size = (out / "entered.log").stat().st_size if (out / "entered.log").exists() else 0
        t0 = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            try:
                _driver(out, spec, registry, point)
            finally:
                os._exit(3)  # an exception in the driver: not a kill, not a finish
        if phase == "random":  # somewhere in the first cell or two of this round
            typical = sorted(killed_rounds)[len(killed_rounds) // 2] if killed_rounds else 0.3
            time.sleep(rng.uniform(0.0, 1.5 * typical))
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _, status = os.waitpid(pid, 0)
        killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        exit_code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
        assert exit_code != 3, "the driver raised instead of running"
        if killed and phase != "random":
            killed_rounds.append(time.perf_counter() - t0)
        after = check_store(out)
        lost += [k for k in done_before if k not in after or after[k] != done_before[k]]
        entered = []
        if (out / "entered.log").exists():
            with open(out / "entered.log") as f:
                f.seek(log_size)
                entered = [line.split()[1] for line in f if line.strip()]
        recomputed += [k for k in entered if k in done_before]
        if killed:
            kills_done += 1
            by_phase[phase] += 1
        rounds.append(
            {
                "phase": phase,
                "point": point,
                "killed": killed,
                "done": sum(v["status"] == "done" for v in after.values()),
            }
        )
        if phase is None:  # the last round runs without a kill point and must finish
            assert exit_code == 0 and not killed, status
            break
        if len(rounds) > 3 * kills:
            raise AssertionError(f"only {kills_done} kills landed in {len(rounds)} rounds")
    final = check_store(out)
    return {
        "cells": n_cells,
        "rounds": len(rounds),
        "kills": sum(r["killed"] for r in rounds),
        "kills_by_phase": by_phase,
        "done": sum(v["status"] == "done" for v in final.values()),
        "failed": sum(v["status"] == "failed" for v in final.values()),
        "lost": lost,
        "recomputed": recomputed,
        "seconds": round(time.perf_counter() - started, 2),
        "round_log": rounds,
    }


if __name__ == "__main__":
    target, n, s = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    resume = "--no-resume" not in sys.argv
    target.mkdir(parents=True, exist_ok=True)
    print(json.dumps(campaign(target, n, s, resume)))
