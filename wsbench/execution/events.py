"""Progress events: what workers tell the driver, and what the driver tells a reporter."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    """One thing that happened to a cell. ``kind``: ``stage`` (a stage began),
    ``progress`` (``done`` of ``total`` within the stage), ``note`` or ``warning``."""

    kind: str
    cell_id: str
    title: str
    stage: str = ""
    worker: str = ""
    done: int = 0
    total: int = 0
    message: str = ""


Sink = Callable[[Event], None]


def no_events(event: Event) -> None:
    """A sink that drops every event."""
