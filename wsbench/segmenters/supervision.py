"""Loss variants for slice segmenters: positive-weighted cross-entropy (paper 004) and
level-weighted deep supervision (paper 003, eq. 6).

Both build on ``wsbench.training.losses`` and honour weight maps (weight 0 = ignore).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from wsbench.errors import ParameterError
from wsbench.training.losses import LossFunction, make_loss, multilabel_dice, soft_dice


def _mean_over_weight(
    per_pixel: torch.Tensor, factor: torch.Tensor, weight: torch.Tensor
) -> torch.Tensor:
    total = weight.sum()
    return (per_pixel * factor * weight).sum() / torch.where(
        total > 0, total, torch.ones_like(total)
    )


def positive_weighted_loss(name: str, multilabel: bool, pos_weight: float) -> LossFunction:
    """``make_loss(name, multilabel)`` whose cross-entropy term weighs foreground pixels
    ``pos_weight`` times (torch's ``BCEWithLogitsLoss(pos_weight=...)`` where the weight
    map is 1); the Dice term is unchanged. ``pos_weight == 1`` gives ``make_loss`` itself."""
    base = make_loss(name, multilabel)
    if pos_weight == 1:
        return base
    if name == "dice":
        raise ParameterError(
            f"pos_weight={pos_weight} weighs the cross-entropy term, but loss 'dice' has none; "
            "use a ce/bce loss or pos_weight=1"
        )
    with_dice = name.endswith("+dice")

    def loss(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        positive = target > 0
        factor = torch.where(positive, pos_weight, 1.0).to(logits.dtype)
        if multilabel:
            per_pixel = F.binary_cross_entropy_with_logits(
                logits, target.to(logits.dtype), reduction="none"
            )
            dice = multilabel_dice
        else:
            per_pixel = F.cross_entropy(logits, target.long(), reduction="none")
            dice = soft_dice
        out = _mean_over_weight(per_pixel, factor, weight)
        return out + dice(logits, target, weight) if with_dice else out

    return loss


def deep_supervision_loss(
    outputs: Sequence[torch.Tensor],
    target: torch.Tensor,
    weight: torch.Tensor,
    levels: Sequence[int],
    n_levels: int,
    first: LossFunction,
    second: LossFunction,
) -> torch.Tensor:
    """Paper 003 eq. 6: ``sum_i (N - i) * first(out_i) + i * second(out_i)`` over the side
    outputs ``outputs`` of levels ``levels`` (003: i = 2..N, first = BCE, second = Dice).

    Each output is compared with the target and weight brought to its grid by nearest
    neighbour (003 feeds each decoder level labels at its own resolution).
    """
    if len(outputs) != len(levels):
        raise ParameterError(f"{len(outputs)} side outputs but {len(levels)} levels")
    total = torch.zeros((), device=target.device)
    for logits, level in zip(outputs, levels):
        t, w = _to_grid(target, logits.shape[-2:]), _to_grid(weight, logits.shape[-2:])
        total = total + (n_levels - level) * first(logits, t, w) + level * second(logits, t, w)
    return total


def _to_grid(t: torch.Tensor, size: torch.Size) -> torch.Tensor:
    if tuple(t.shape[-2:]) == tuple(size):
        return t
    squeeze = t.dim() == 3
    x = t.unsqueeze(1) if squeeze else t
    x = F.interpolate(x.float(), size=tuple(size), mode="nearest").to(t.dtype)
    return x[:, 0] if squeeze else x
