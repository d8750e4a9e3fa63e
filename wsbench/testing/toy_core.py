"""Small plugins that use the core's extension points, for tests and as worked examples.

- ``toy-coronal-unet``: the built-in U-Net trained on coronal slices (``axis``), with
  isotropic resampling of the in-plane grid;
- ``toy-deep-unet``: a U-Net with a side output per decoder level and paper 003's
  level-weighted loss (``compute_loss`` and ``forward_logits`` overridden);
- ``toy-self-training``: a box labeler on ``SelfTrainingLabeler``: box fill, then rounds
  that keep the box pixels the segmenter believes in;
- ``toy-box-guided``: a hint-guided segmenter (``test_hint = "box"``): the toy threshold,
  applied only inside the test case's boxes, as RECIST-guided segmentation crops around
  each lesion's mark;
- ``toy-val-threshold``: the toy threshold that picks its cut among candidates by
  ``ctx.validate`` (round selection on the validation split);
- ``toy-val-budget``: box fill that declares a budget of validation masks
  (``val_masks``) and reads the validation cases' weak labels.

Register them with ``load_registry(extra=[wsbench.testing.toy_core])``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from wsbench import hookimpl
from wsbench.api import (
    BoxLabel,
    Intensity,
    LabelContext,
    Labeler,
    PseudoLabel,
    Segmenter,
    WeakCase,
)
from wsbench.labelers.box_fill import fill_boxes
from wsbench.labelers.self_training import SELF_TRAINING_PARAMS, SelfTrainingLabeler
from wsbench.params import Param
from wsbench.segmenters.supervision import deep_supervision_loss
from wsbench.segmenters.unet import UNet, UNetSegmenter
from wsbench.testing.toy_plugins import ToyThreshold
from wsbench.training.losses import make_loss


class CoronalUNet(UNetSegmenter):
    """``unet`` on coronal slices: the only change is the ``axis`` default."""

    name = "toy-coronal-unet"
    citation = "wsbench toy: the built-in U-Net with axis=coronal"
    profiles: ClassVar[dict[str, dict[str, Any]]] = {
        name: {**values, "axis": "coronal"} for name, values in UNetSegmenter.profiles.items()
    }


class SideOutputUNet(UNet):
    """A U-Net whose forward returns logits of every decoder level, finest first; the
    finest is the ordinary U-Net output."""

    def __init__(self, in_channels: int, out_channels: int, width: int = 16, depth: int = 3):
        super().__init__(in_channels, out_channels, width, depth)
        self.side = nn.ModuleList(
            [nn.Conv2d(width * 2**i, out_channels, 1) for i in reversed(range(1, depth))]
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:  # type: ignore[override]
        height, width = x.shape[-2:]
        multiple = 2**self.depth
        pad_h, pad_w = -height % multiple, -width % multiple
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        skips = []
        for level, block in enumerate(self.down):
            x = block(x if level == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        skips.pop()
        sides = []
        for step, (up, merge) in enumerate(zip(self.up, self.merge)):
            x = merge(torch.cat([skips.pop(), up(x)], dim=1))
            if step < len(self.side):
                sides.append(self.side[step](x))
        final = self.head(x)[..., :height, :width]
        return [final, *reversed(sides)]


class DeepSupervisedUNet(UNetSegmenter):
    """Paper 003's multi-level loss on a U-Net: level i = 2..N of N = depth + 1 (finest
    output i = 2) weighs cross-entropy by N - i and Dice by i (003 eq. 6)."""

    name = "toy-deep-unet"
    citation = "wsbench toy: U-Net with side outputs and the level-weighted loss of paper 003"

    def build_model(self, in_channels: int, out_channels: int) -> nn.Module:
        return SideOutputUNet(in_channels, out_channels, self.p["width"], self.p["depth"])

    def forward_logits(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return model(x)[0]

    def compute_loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        outputs = [self.with_prior(o) for o in model(batch["image"])]
        n = len(outputs) + 1
        cross = make_loss("bce" if self.multilabel else "ce", self.multilabel)
        dice = make_loss("dice", self.multilabel)
        levels = range(2, n + 1)
        return deep_supervision_loss(
            outputs, batch["target"], batch["weight"], levels, n, cross, dice
        )


class ToySelfTraining(SelfTrainingLabeler):
    """Box fill, then each round keeps the box pixels whose predicted probability of the
    box's class exceeds ``threshold * strength`` (strength t / rounds: trust grows)."""

    name = "toy-self-training"
    citation = "wsbench toy: box fill refined by self-training"
    consumes = ("box",)
    params = SELF_TRAINING_PARAMS + (
        Param("threshold", 0.5, "probability a box pixel needs in the last round"),
    )
    profiles: ClassVar[dict[str, dict[str, Any]]] = {"quick": {}, "paper": {"rounds": 3}}

    def initial_labels(self, cases: Sequence[WeakCase], ctx: LabelContext) -> list[PseudoLabel]:
        return [fill_boxes(case) for case in cases]

    def relabel(
        self,
        round: int,
        strength: float,
        cases: Sequence[WeakCase],
        labels: Sequence[PseudoLabel],
        segmenter: Segmenter,
        ctx: LabelContext,
    ) -> list[PseudoLabel]:
        cut = self.p["threshold"] * strength
        out = []
        for case, previous in zip(cases, labels):
            prob = segmenter.predict(case.image, case.intensity, ctx, spacing=case.spacing)
            boxed = fill_boxes(case).target
            target = np.zeros_like(boxed)
            for cls in np.unique(boxed[boxed > 0]):
                keep = (boxed == cls) & (prob[cls] > cut)
                target[keep] = cls
            out.append(PseudoLabel(case.id, target, previous.weight, previous.slices))
        return out


class BoxGuidedThreshold(ToyThreshold):
    """The toy threshold inside the test case's boxes only (``hint``); background
    elsewhere. Without a hint (a direct call) it thresholds the whole image."""

    name = "toy-box-guided"
    citation = "wsbench toy: a threshold guided by test-time boxes"
    test_hint = "box"
    hints: ClassVar[list[BoxLabel]] = []  # what the runner passed, for tests

    def predict(
        self,
        image: np.ndarray,
        intensity: Intensity,
        ctx: Any,
        spacing: Sequence[float] | None = None,
        hint: BoxLabel | None = None,
    ) -> np.ndarray:
        p = (image > self.t).astype(np.float32)
        if hint is not None:
            type(self).hints.append(hint)
            inside = np.zeros(image.shape, bool)
            for b in hint.boxes:
                inside[b.z, b.y0 : b.y1, b.x0 : b.x1] = True
            p *= inside
        return np.stack([1 - p, p])


class ValidatedThreshold(ToyThreshold):
    """Fits the toy threshold, then tries ``candidates`` cuts between background and
    foreground means and keeps the one whose validation Dice (``ctx.validate``) is best."""

    name = "toy-val-threshold"
    citation = "wsbench toy: a threshold chosen on the validation split"
    params = ToyThreshold.params + (Param("candidates", 5, "cuts tried on the validation split"),)
    scores: ClassVar[list[dict[str, float]]] = []

    def fit(self, cases, labels, ctx):
        log = super().fit(cases, labels, ctx)
        if ctx.validate is None:
            return log
        mid, tried = float(self.t), []
        for f in np.linspace(0.2, 1.8, self.p["candidates"]):
            self.t = mid * f
            score = ctx.validate(self)
            type(self).scores.append(score)
            tried.append((score["dice"], -abs(f - 1.0), mid * f))
        self.t = max(tried)[2]
        return {**log, "val_dice": max(tried)[0]}


class ValBudgetBoxFill(Labeler):
    """Box fill that declares a budget of validation masks and reads what it is given."""

    name = "toy-val-budget"
    citation = "wsbench toy: a labeler tuned on a declared budget of validation masks"
    consumes = ("box",)
    params = (Param("val_masks", 1, "full validation masks used for tuning"),)
    seen: ClassVar[dict[str, Any]] = {}

    def label(self, cases, ctx):
        val = ctx.val_cases()
        masks = ctx.val_masks()
        type(self).seen = {
            "val_ids": [c.id for c in val],
            "val_kinds": [c.weak.kind for c in val],
            "mask_ids": [c.id for c, _ in masks],
            "mask_shapes_ok": all(m.shape == c.image.shape for c, m in masks),
            "train_ids": [c.id for c in cases],
        }
        return [fill_boxes(case) for case in cases]


@hookimpl
def wsbench_register_segmenters() -> list[type]:
    return [CoronalUNet, DeepSupervisedUNet, BoxGuidedThreshold, ValidatedThreshold]


@hookimpl
def wsbench_register_labelers() -> list[type]:
    return [ToySelfTraining, ValBudgetBoxFill]
