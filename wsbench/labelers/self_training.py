"""A base for self-training labelers: label, train the cell's segmenter, relabel, repeat.

SMILEr (paper 002) and the reiterative framework of paper 003 (Algorithm 1) share the
loop; ``SelfTrainingLabeler`` owns it so a subclass only says how to start and how to
relabel::

    class MyLabeler(SelfTrainingLabeler):
        name = "my-labeler"
        consumes = ("box",)

        def initial_labels(self, cases, ctx):
            return [fill_boxes(c) for c in cases]

        def relabel(self, round, strength, cases, labels, segmenter, ctx):
            ...  # new pseudo labels from segmenter.predict(...) and the weak labels

Round ``t = 1..rounds`` trains a segmenter from ``ctx.new_segmenter()`` on the current
labels (with ``warm_start``, round t > 1 fine-tunes round t-1's model) and calls
``relabel`` with ``strength = schedule(t, rounds)``. Each round reports a progress event
and is logged in ``self.history`` (``RoundLog``: round, labels, training log), so the
runner can score the pseudo labels of every round. ``should_stop`` ends the loop early
(003: "repeat until performance stops improving"). The labels of the last round are
returned; the runner then trains the cell's segmenter on them.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from wsbench.api import LabelContext, Labeler, PseudoLabel, Segmenter, WeakCase
from wsbench.errors import DataError, IncompatibleError
from wsbench.params import Param, at_least

SELF_TRAINING_PARAMS: tuple[Param, ...] = (
    Param("rounds", 2, "relabel-and-retrain rounds", type=int, **at_least(1)),
    Param(
        "warm_start",
        False,
        "round t > 1 fine-tunes round t-1's model instead of training a fresh one",
    ),
)


@dataclass
class RoundLog:
    """One round: its number (0 = the initial labels), strength, the pseudo labels it
    produced, the segmenter's training log and the seconds it took."""

    round: int
    strength: float
    labels: list[PseudoLabel]
    fit_log: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


class SelfTrainingLabeler(Labeler):
    """The relabel-and-retrain loop; subclasses implement ``initial_labels`` and ``relabel``."""

    uses_segmenter = True
    params = SELF_TRAINING_PARAMS

    def __init__(self, profile: str = "quick", **overrides: Any):
        super().__init__(profile, **overrides)
        self.history: list[RoundLog] = []

    # -- what a subclass provides

    def initial_labels(self, cases: Sequence[WeakCase], ctx: LabelContext) -> list[PseudoLabel]:
        """The pseudo labels of round 0, from the weak labels alone."""
        raise NotImplementedError

    def relabel(
        self,
        round: int,
        strength: float,
        cases: Sequence[WeakCase],
        labels: Sequence[PseudoLabel],
        segmenter: Segmenter,
        ctx: LabelContext,
    ) -> list[PseudoLabel]:
        """New pseudo labels after round ``round``'s ``segmenter`` was trained on ``labels``."""
        raise NotImplementedError

    def schedule(self, round: int, rounds: int) -> float:
        """The strength of round ``round`` (1-based); default ``round / rounds`` (SMILEr's
        gamma_t / gamma_max)."""
        return round / rounds

    def should_stop(self, round: int, segmenter: Segmenter, ctx: LabelContext) -> bool:
        """Whether to stop after round ``round`` (its labels are kept); default never."""
        return False

    # -- the loop

    def label(self, cases: Sequence[WeakCase], ctx: LabelContext) -> list[PseudoLabel]:
        if ctx.new_segmenter is None:
            raise IncompatibleError(
                f"labeler {self.name!r} retrains a segmenter but LabelContext.new_segmenter is "
                "None; run it through wsbench.runner (it sets new_segmenter) or pass one"
            )
        rounds, warm = int(self.p["rounds"]), bool(self.p["warm_start"])
        start = time.perf_counter()
        labels = self._checked(self.initial_labels(cases, ctx), cases, 0)
        self.history = [RoundLog(0, 0.0, labels, seconds=time.perf_counter() - start)]
        previous: Segmenter | None = None
        what = f"{self.name} round"
        ctx.progress(what, 0, rounds)
        for t in range(1, rounds + 1):
            start = time.perf_counter()
            round_ctx = dataclasses.replace(ctx, workdir=ctx.workdir / f"{self.name}-round{t}")
            round_ctx.workdir.mkdir(parents=True, exist_ok=True)
            segmenter = ctx.new_segmenter()
            if warm and previous is not None:
                if not hasattr(segmenter, "warm_start"):
                    raise IncompatibleError(
                        f"labeler {self.name!r} with warm_start=true needs a segmenter that "
                        f"can warm-start (a SliceSegmenter); {segmenter.name!r} cannot"
                    )
                segmenter.warm_start(previous)
            fit_log = segmenter.fit(cases, labels, round_ctx)
            strength = self.schedule(t, rounds)
            labels = self._checked(
                self.relabel(t, strength, cases, labels, segmenter, round_ctx), cases, t
            )
            elapsed = time.perf_counter() - start
            self.history.append(RoundLog(t, strength, labels, dict(fit_log), elapsed))
            ctx.progress(what, t, rounds)
            previous = segmenter
            if self.should_stop(t, segmenter, round_ctx):
                break
        return labels

    def _checked(
        self, labels: list[PseudoLabel], cases: Sequence[WeakCase], round: int
    ) -> list[PseudoLabel]:
        ids = [lab.case_id for lab in labels]
        if ids != [c.id for c in cases]:
            raise DataError(
                f"labeler {self.name!r}, round {round}: pseudo labels for {ids[:3]}... do not "
                "match the cases one to one, in order; return one label per case"
            )
        return labels
