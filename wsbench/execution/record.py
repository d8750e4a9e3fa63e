"""``CellRecord``: what one grid cell produced, as it flows from a stage to the store."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

# Columns of results.sqlite (see wsbench.store); ``resumed`` and ``note`` are not stored.
STORED = (
    "id",
    "config_id",
    "dataset",
    "target",
    "protocol",
    "labeler",
    "segmenter",
    "seed",
    "sweep",
    "status",
    "error",
    "metrics",
    "per_case",
    "pseudo",
    "provenance",
    "finished_at",
    "wall_s",
)


@dataclass
class CellRecord:
    """One cell's result: status (``done`` | ``failed``), metrics, per-case scores,
    pseudo-label quality, provenance, wall time and error."""

    id: str
    config_id: str
    dataset: str
    target: str
    protocol: str
    labeler: str
    segmenter: str
    seed: int
    sweep: dict[str, str] = field(default_factory=dict)
    status: str = "running"
    error: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    per_case: list[dict[str, Any]] = field(default_factory=list)
    pseudo: dict[str, float] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    finished_at: str = ""
    wall_s: float = 0.0
    resumed: bool = False  # taken from the store, not computed by this run
    note: str = ""  # a one-line remark for the terminal (e.g. where a resumed record came from)

    @property
    def done(self) -> bool:
        return self.status == "done"

    def to_dict(self) -> dict[str, Any]:
        """The record as a plain dict with the store's keys (plus ``resumed``)."""
        out = asdict(self)
        out.pop("note")
        return out

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> CellRecord:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in row.items() if k in names})
