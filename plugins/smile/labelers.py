"""The three labelers of Petit et al. (2018): the DeepLab baseline, SMILE and SMILEr.

All three consume the ``partial`` weak label (``wsbench.weak.partial``): a label map in
which dropped organs are background, and ``annotated[k-1]`` per class.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from wsbench import LabelContext, Labeler, PartialLabel, PseudoLabel, WeakCase
from wsbench.api import Segmenter
from wsbench.errors import IncompatibleError, WeakLabelError
from wsbench.labelers.self_training import SelfTrainingLabeler
from wsbench.params import Param, at_least, in_range

from .paper import CITATION, REPORTED
from .targets import baseline_targets, gamma_schedule, smile_targets, top_fraction_positives


def _partial(case: WeakCase) -> PartialLabel:
    """The case's partial label, checked against its classes."""
    weak = case.weak
    assert isinstance(weak, PartialLabel), "wsbench.api.check_weak_kind runs before labelling"
    if len(weak.annotated) != len(case.classes):
        raise WeakLabelError(
            f"case {case.id!r}: the partial label marks {len(weak.annotated)} classes as "
            f"annotated or not, but the task has {len(case.classes)} ({', '.join(case.classes)}); "
            "re-simulate the weak labels for this task"
        )
    return weak


class PartialBaseline(Labeler):
    """The paper's DeepLab softmax baseline: missing organs are trained as background."""

    name = "partial"
    version = "0.1.0"
    citation = CITATION
    consumes = ("partial",)
    multilabel = False
    # §2: DeepLab's softmax trained with cross-entropy (no Dice term) under --profile paper
    train_profiles: ClassVar[dict[str, dict[str, Any]]] = {"paper": {"loss": "ce"}}

    def label_case(self, case: WeakCase, ctx: LabelContext) -> PseudoLabel:
        target, weight = baseline_targets(_partial(case).label)
        return PseudoLabel(case.id, target, weight, case.slices.copy(), multilabel=False)


class Smile(Labeler):
    """SMILE (§2.1): K sigmoid targets; unannotated classes learn only from certain negatives."""

    name = "smile"
    version = "0.1.0"
    citation = CITATION
    reported = REPORTED
    consumes = ("partial",)
    multilabel = True
    # §2.1, Eq. 1: K sigmoid heads trained with BCE weighted by w_k under --profile paper
    train_profiles: ClassVar[dict[str, dict[str, Any]]] = {"paper": {"loss": "bce"}}
    params = (
        Param(
            "ambiguity",
            True,
            "ignore the ambiguous pixels of missing organs (w_k, §2.1); false = w_k = 1 "
            "everywhere, missing organs trained as certain negatives (the claims-test mutant)",
        ),
    )

    def label_case(self, case: WeakCase, ctx: LabelContext) -> PseudoLabel:
        return self._smile(case)

    def _smile(self, case: WeakCase) -> PseudoLabel:
        weak = _partial(case)
        target, weight = smile_targets(weak.label, weak.annotated, self.p["ambiguity"])
        return PseudoLabel(case.id, target, weight, case.slices.copy(), multilabel=True)


class SmileR(SelfTrainingLabeler, Smile):
    """SMILEr (§2.2): SMILE, then T rounds of curriculum relabelling of missing organs.

    The loop is ``wsbench.labelers.self_training.SelfTrainingLabeler``'s. Round t trains a
    segmenter on the current targets (round 1: the SMILE targets, so its model is SMILE;
    with ``warm_start``, round t > 1 fine-tunes round t-1's model: "SMILEr is initialised
    with SMILE"), then, for every unannotated class of every training volume, marks as
    positive (weight 1) the top gamma_t = (t / T) * gamma_max fraction of the ambiguous
    pixels it predicts positive. Each round adds to the SMILE targets (gamma grows, so the
    set grows). The returned targets are those of round T; the runner trains the cell's
    segmenter on them (the final model). ``relabel=False`` adds no positives, so every
    round retrains on the SMILE targets: the claims test's mutant, SMILEr without its key
    idea.
    """

    name = "smiler"
    version = "0.2.0"
    params = Smile.params + (
        Param("rounds", 2, "curriculum rounds T (relabel, then retrain)", type=int, **at_least(1)),
        Param(
            "gamma_max",
            0.66,
            "fraction of predicted positives relabelled in the last round",
            type=float,
            **in_range(0.0, 1.0, lo_open=True),
        ),
        Param(
            "warm_start",
            True,
            "round t > 1 fine-tunes round t-1's model (§2.2: SMILEr is initialised with "
            "SMILE); false = a fresh network each round",
        ),
        Param(
            "relabel",
            True,
            "add the top-gamma predicted positives each round (§2.2); false = every round "
            "retrains on the SMILE targets (the claims-test mutant)",
        ),
    )
    profiles: ClassVar[dict[str, dict[str, Any]]] = {
        "quick": {"rounds": 2, "gamma_max": 0.66, "warm_start": True},
        "paper": {"rounds": 2, "gamma_max": 0.66, "warm_start": True},
    }

    def label(self, cases: Sequence[WeakCase], ctx: LabelContext) -> list[PseudoLabel]:
        if all(np.all(_partial(case).annotated) for case in cases):
            return [self._smile(case) for case in cases]  # nothing to relabel, no round trains
        return super().label(cases, ctx)

    def initial_labels(self, cases: Sequence[WeakCase], ctx: LabelContext) -> list[PseudoLabel]:
        return [self._smile(case) for case in cases]

    def schedule(self, round: int, rounds: int) -> float:
        """gamma_t = (t / T) * gamma_max (§2.2)."""
        return gamma_schedule(rounds, self.p["gamma_max"])[round - 1]

    def relabel(
        self,
        round: int,
        strength: float,
        cases: Sequence[WeakCase],
        labels: Sequence[PseudoLabel],
        segmenter: Segmenter,
        ctx: LabelContext,
    ) -> list[PseudoLabel]:
        smile = self.history[0].labels
        return [self._relabel(c, base, segmenter, strength, ctx) for c, base in zip(cases, smile)]

    def _relabel(
        self, case: WeakCase, base: PseudoLabel, segmenter, gamma: float, ctx: LabelContext
    ) -> PseudoLabel:
        """The SMILE targets of ``case`` plus the top-gamma predicted positives."""
        annotated = np.asarray(case.weak.annotated, bool)
        if annotated.all() or not self.p["relabel"]:
            return base
        prob = segmenter.predict(case.image, case.intensity, ctx)
        if prob.shape != base.target.shape:
            raise IncompatibleError(
                f"labeler 'smiler' needs K sigmoid maps {base.target.shape} from "
                f"{type(segmenter).__name__}.predict after multilabel training, got {prob.shape}"
            )
        target, weight = base.target.copy(), base.weight.copy()
        for k in np.flatnonzero(~annotated):
            new = top_fraction_positives(prob[k], weight[k], base.slices, gamma)
            target[k][new] = 1
            weight[k][new] = 1.0
        return PseudoLabel(case.id, target, weight, base.slices.copy(), multilabel=True)
