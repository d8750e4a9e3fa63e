"""Reporters for ``wsbench run``: live rich rows on a terminal, plain lines elsewhere.

``RichReporter`` draws an overall bar with an ETA and one row per running cell
(worker or device, stage, epoch and loss). ``PlainReporter`` writes one line per event,
each with the cell id, for CI logs and pipes.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from wsbench.execution import CellRecord, Event, Reporter


def make_reporter(console: Console) -> RichReporter | PlainReporter:
    return RichReporter(console) if console.is_terminal else PlainReporter(console)


def _finished_line(title: str, record: CellRecord) -> str:
    if record.status == "failed":
        return f"[red]failed[/] {escape(title)}: {escape(record.error or '')}"
    dice = record.metrics.get("dice", float("nan"))
    line = f"[green]done[/] {escape(title)}: Dice {dice:.3f} ({record.wall_s:.0f} s)"
    return line + (f" [dim]({record.note})[/]" if record.note else "")


class RichReporter(Reporter):
    def __init__(self, console: Console):
        self.console = console
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._grid: Any = None
        self._rows: dict[str, Any] = {}

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def grid_started(self, total: int, resumed: int) -> None:
        self._grid = self.progress.add_task("grid", total=total, completed=resumed)

    def event(self, event: Event) -> None:
        if event.kind == "warning":
            self.console.print(f"[yellow]warning[/] {escape(event.title)}: {escape(event.message)}")
            return
        row = self._rows.get(event.cell_id)
        if row is None:
            row = self._rows[event.cell_id] = self.progress.add_task("", total=None)
        what = event.message.removeprefix(event.stage) if event.kind == "progress" else ""
        self.progress.update(
            row,
            description=f"  [cyan]{escape(event.worker)}[/] {escape(event.title)} · "
            f"{escape(event.stage)} {escape(what)}",
            completed=event.done,
            total=event.total or None,
        )

    def resumed(self, title: str, record: CellRecord) -> None:
        self.console.print(f"[dim]resumed {escape(title)} {escape(record.note)}[/]")

    def cell_finished(self, title: str, record: CellRecord) -> None:
        row = self._rows.pop(record.id, None)
        if row is not None:
            self.progress.remove_task(row)
        if self._grid is not None:
            self.progress.advance(self._grid)
        self.console.print(_finished_line(title, record))

    def skipped(self, what: str, why: str) -> None:
        self.console.print(f"[yellow]skipped[/] {escape(what)}: {escape(why)}", soft_wrap=True)

    def note(self, message: str) -> None:
        self.console.print(f"[dim]{escape(message)}[/]", soft_wrap=True)


class PlainReporter(Reporter):
    """One line per event; progress within a stage at most once every few seconds."""

    def __init__(self, console: Console, every_s: float = 5.0):
        self.console = console
        self.every_s = every_s
        self._last: dict[str, float] = {}
        self._done = 0
        self._total = 0

    def __enter__(self) -> PlainReporter:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def _print(self, text: str) -> None:
        self.console.print(text, soft_wrap=True, highlight=False)

    def grid_started(self, total: int, resumed: int) -> None:
        self._total, self._done = total, resumed
        self._print(f"grid: {total} cells, {resumed} resumed")

    def event(self, event: Event) -> None:
        if event.kind == "progress":
            now = time.monotonic()
            last = event.done == event.total
            if not last and now - self._last.get(event.cell_id, 0.0) < self.every_s:
                return
            self._last[event.cell_id] = now
            what = event.message.removeprefix(event.stage).strip()
            self._print(
                f"{event.cell_id} {escape(f'[{event.worker}]')} {event.stage} {escape(what)} "
                f"{event.done}/{event.total}"
            )
        elif event.kind == "warning":
            self._print(f"[yellow]warning[/] {event.cell_id}: {escape(event.message)}")
        else:
            self._print(f"{event.cell_id} {escape(f'[{event.worker}]')} {event.stage}")

    def resumed(self, title: str, record: CellRecord) -> None:
        self._print(f"[dim]resumed {record.id} {escape(title)} {escape(record.note)}[/]")

    def cell_finished(self, title: str, record: CellRecord) -> None:
        self._done += 1
        self._print(f"[{self._done}/{self._total}] {record.id} " + _finished_line(title, record))

    def skipped(self, what: str, why: str) -> None:
        self._print(f"[yellow]skipped[/] {escape(what)}: {escape(why)}")

    def note(self, message: str) -> None:
        self._print(escape(message))
