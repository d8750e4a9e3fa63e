"""A ``Reporter`` that draws rich progress bars: the grid, and the stage of the current cell."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from wsbench.grid import Cell
from wsbench.runner import Reporter


class RichReporter(Reporter):
    def __init__(self, console: Console):
        self.console = console
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._grid: Any = None

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def grid_started(self, total: int) -> None:
        self._grid = self.progress.add_task("grid", total=total)

    def cell_started(self, cell: Cell) -> None:
        self.progress.update(self._grid, description=f"grid: {cell.title}")

    def cell_finished(self, cell: Cell, record: dict[str, Any]) -> None:
        self.progress.advance(self._grid)
        if record.get("resumed"):
            return
        if record["status"] == "failed":
            self.console.print(f"[red]failed[/] {cell.title}: {record['error']}")
        else:
            dice = record["metrics"].get("dice", float("nan"))
            self.console.print(
                f"[green]done[/] {cell.title}: Dice {dice:.3f} ({record.get('wall_s', 0):.0f} s)"
            )

    def skipped(self, what: str, why: str) -> None:
        self.console.print(f"[yellow]skipped[/] {what}: {why}", soft_wrap=True)

    @contextmanager
    def task(self, description: str, total: int | None = None) -> Iterator[Any]:
        tid = self.progress.add_task(f"  {description}", total=total)

        def update(what: str, done: int, n: int) -> None:
            self.progress.update(
                tid, description=f"  {description}: {what}", completed=done, total=n
            )

        try:
            yield update
        finally:
            self.progress.remove_task(tid)
