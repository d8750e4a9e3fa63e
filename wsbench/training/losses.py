"""Segmentation losses that honour per-pixel weight maps (weight 0 = ignore).

Multiclass losses take logits ``(B, K+1, H, W)``, an integer target ``(B, H, W)`` with
values 0..K and a weight ``(B, H, W)``. Multilabel losses (K sigmoid heads, SMILE) take
logits ``(B, K, H, W)``, a {0, 1} target ``(B, K, H, W)`` and a weight ``(B, K, H, W)``
holding SMILE's w_k. Every loss returns a scalar; a batch whose weights are all zero
gives 0 with a zero gradient.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from wsbench.errors import ParameterError

LossFunction = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

MULTICLASS_LOSSES = ("ce", "dice", "ce+dice")
MULTILABEL_LOSSES = ("bce", "dice", "bce+dice")
LOSS_NAMES = ("ce", "bce", "dice", "ce+dice", "bce+dice")

DICE_SMOOTH = 1.0


def _weighted_mean(per_pixel: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Sum of weighted values over the weight sum (0 when every weight is 0)."""
    total = weight.sum()
    return (per_pixel * weight).sum() / torch.where(total > 0, total, torch.ones_like(total))


def weighted_ce(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Softmax cross-entropy, each pixel weighted, averaged over the weight sum."""
    per_pixel = F.cross_entropy(logits, target.long(), reduction="none")
    return _weighted_mean(per_pixel, weight)


def _soft_dice_loss(prob: torch.Tensor, onehot: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """1 - mean over channels of the weighted soft Dice; sums run over batch and pixels."""
    dims = (0, 2, 3)
    intersection = (weight * prob * onehot).sum(dims)
    sums = (weight * prob).sum(dims) + (weight * onehot).sum(dims)
    dice = (2 * intersection + DICE_SMOOTH) / (sums + DICE_SMOOTH)
    return 1 - dice.mean()


def soft_dice(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Soft Dice over the foreground classes 1..K of a softmax head (V-Net style)."""
    prob = logits.softmax(1)[:, 1:]
    classes = torch.arange(1, logits.shape[1], device=logits.device).view(1, -1, 1, 1)
    onehot = (target.long().unsqueeze(1) == classes).to(prob.dtype)
    return _soft_dice_loss(prob, onehot, weight.unsqueeze(1))


def ce_dice(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return weighted_ce(logits, target, weight) + soft_dice(logits, target, weight)


def weighted_bce(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """SMILE eq. 1: sum_k w_k * BCE_k over pixels, normalised by the sum of the weights."""
    per_pixel = F.binary_cross_entropy_with_logits(
        logits, target.to(logits.dtype), reduction="none"
    )
    return _weighted_mean(per_pixel, weight)


def multilabel_dice(
    logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor
) -> torch.Tensor:
    """Soft Dice per sigmoid head k with its own weight map w_k, averaged over k."""
    return _soft_dice_loss(logits.sigmoid(), target.to(logits.dtype), weight)


def bce_dice(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return weighted_bce(logits, target, weight) + multilabel_dice(logits, target, weight)


_MULTICLASS = {"ce": weighted_ce, "dice": soft_dice, "ce+dice": ce_dice}
_MULTILABEL = {"bce": weighted_bce, "dice": multilabel_dice, "bce+dice": bce_dice}


def make_loss(name: str, multilabel: bool) -> LossFunction:
    """The loss ``name`` for a softmax head (``multilabel=False``) or K sigmoid heads."""
    table, head = (
        (_MULTILABEL, "multilabel (K sigmoid heads)")
        if multilabel
        else (_MULTICLASS, "multiclass (softmax)")
    )
    if name in table:
        return table[name]
    if name in LOSS_NAMES:
        raise ParameterError(
            f"loss {name!r} cannot train a {head} segmenter; use one of {', '.join(table)}"
        )
    raise ParameterError(f"loss {name!r} is not known; choose one of {', '.join(LOSS_NAMES)}")
