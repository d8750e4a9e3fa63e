"""DropBlock (Ghiasi, Lin and Le, NeurIPS 2018): drop contiguous square regions of a feature map.

In training, block centres are drawn with rate ``gamma`` among the positions where a whole
block fits, each grows to a ``block_size`` square, the dropped units are zeroed, and the
rest are rescaled by ``units / kept`` (Algorithm 1 of the DropBlock paper). ``gamma``
makes the expected dropped share ``drop_prob`` (the paper's Eq. 1). In eval mode, and with
``drop_prob == 0``, the block is the identity.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from wsbench.errors import ParameterError


def block_rate(drop_prob: float, block_size: int, height: int, width: int) -> float:
    """``gamma`` of DropBlock's Eq. 1, for a ``height x width`` map (rectangular form)."""
    valid = max(height - block_size + 1, 1) * max(width - block_size + 1, 1)
    return drop_prob * height * width / (block_size**2 * valid)


class DropBlock2d(nn.Module):
    """DropBlock on ``(B, C, H, W)``; one mask per sample shared over channels."""

    def __init__(self, drop_prob: float = 0.1, block_size: int = 7):
        super().__init__()
        if not 0 <= drop_prob < 1:
            raise ParameterError(f"DropBlock drop_prob={drop_prob!r} must be in [0, 1)")
        if block_size < 1:
            raise ParameterError(f"DropBlock block_size={block_size!r} must be >= 1")
        self.drop_prob, self.block_size = float(drop_prob), int(block_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.drop_prob == 0:
            return x
        b, _, h, w = x.shape
        k = min(self.block_size, h, w)
        gamma = block_rate(self.drop_prob, k, h, w)
        # centres only where the whole block lies inside the map
        centres = torch.zeros((b, 1, h, w), device=x.device, dtype=x.dtype)
        inner = (b, 1, h - k + 1, w - k + 1)
        top, left = k // 2, k // 2
        centres[:, :, top : top + inner[2], left : left + inner[3]] = (
            torch.rand(inner, device=x.device) < gamma
        ).to(x.dtype)
        # grow each centre to a k x k square (odd k: centred; even k: one row/column more below)
        dropped = F.max_pool2d(centres, kernel_size=k, stride=1, padding=k // 2)[..., :h, :w]
        keep = 1 - dropped
        kept = keep.sum().clamp(min=1.0)
        return x * keep * (keep.numel() / kept)

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob}, block_size={self.block_size}"
