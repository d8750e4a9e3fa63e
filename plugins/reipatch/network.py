"""Ouassit et al. 2022 §3.4-3.7, Fig. 8: the tuning network.

Two inputs, the slice and the box prior. Encoder: a first layer of parallel dilated 3x3
convolutions (several rates, concatenated), then residual blocks (Fig. 11), one per level;
at levels 1..3 the image itself comes in again, at 1/2, 1/4 and 1/8 of the input size,
brought to the level's width by a 1x1 convolution and concatenated (multi-level patch
inputs). Bottleneck: ASPP. Decoder: transposed convolutions, skip connections multiplied
by ConvBox (max pooling, then three convolutions on the box prior; Fig. 12), residual
blocks, and a 1x1 side output at every level, bottleneck included.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from wsbench.nn import ASPP

PATCH_INPUTS = ("pyramid", "tiles", "none")


class ResidualBlock(nn.Module):
    """Two 3x3 conv-BN-ReLU with a (1x1 when the width changes) shortcut, then dropout."""

    def __init__(self, cin: int, cout: int, dropout: float = 0.0):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
        )
        self.shortcut = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1, bias=False)
        self.drop = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(F.relu(self.body(x) + self.shortcut(x)))


class MultiRateConv(nn.Module):
    """The first encoder layer: parallel 3x3 convolutions with dilation ``rates``,
    concatenated to ``cout`` channels, BN and ReLU."""

    def __init__(self, cin: int, cout: int, rates: Sequence[int]):
        super().__init__()
        share = [cout // len(rates) + (i < cout % len(rates)) for i in range(len(rates))]
        self.branches = nn.ModuleList(
            [nn.Conv2d(cin, c, 3, padding=r, dilation=r, bias=False) for c, r in zip(share, rates)]
        )
        self.post = nn.Sequential(nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.post(torch.cat([b(x) for b in self.branches], 1))


class ConvBox(nn.Module):
    """Max-pool the box prior to a level's grid, then three 3x3 convolutions; a sigmoid
    gate in (0, 1) multiplied into that level's skip connection."""

    def __init__(self, channels: int, level: int):
        super().__init__()
        self.level = level
        self.convs = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1),
        )

    def forward(self, prior: torch.Tensor) -> torch.Tensor:
        k = 2**self.level
        pooled = F.max_pool2d(prior, k) if k > 1 else prior
        return torch.sigmoid(self.convs(pooled))


def tiles(x: torch.Tensor, k: int) -> torch.Tensor:
    """Non-overlapping ``k`` x ``k`` grid of tiles of ``x`` (B, 1, H, W) as channels
    (B, k*k, H/k, W/k); H and W must be multiples of k."""
    b, _, h, w = x.shape
    t = x.reshape(b, k, h // k, k, w // k).permute(0, 1, 3, 2, 4)
    return t.reshape(b, k * k, h // k, w // k)


class TuningNet(nn.Module):
    """The tuning network. ``forward(x)`` takes (B, 2, H, W): channel 0 the slice,
    channel 1 the box prior; it returns the side outputs' logits, deepest first
    (bottleneck, then each decoder level up to the full-resolution one), each on its own
    grid. Inputs are padded to a multiple of ``2**depth`` and outputs cropped back."""

    def __init__(
        self,
        out_channels: int,
        width: int = 16,
        depth: int = 3,
        first_rates: Sequence[int] = (1, 2, 4),
        aspp_rates: Sequence[int] = (6, 12, 18),
        aspp_channels: int = 64,
        patch_inputs: str = "pyramid",
        patch_levels: int = 3,
        convbox: bool = True,
        dropout: float = 0.2,
    ):
        super().__init__()
        if patch_inputs not in PATCH_INPUTS:
            raise ValueError(f"patch_inputs {patch_inputs!r}: choose one of {PATCH_INPUTS}")
        self.depth, self.patch_inputs, self.use_convbox = depth, patch_inputs, convbox
        self.patch_levels = min(patch_levels, depth) if patch_inputs != "none" else 0
        chans = [width * 2**level for level in range(depth + 1)]
        self.stem = nn.Sequential(
            MultiRateConv(1, chans[0], first_rates), ResidualBlock(chans[0], chans[0], dropout)
        )
        self.patch_convs = nn.ModuleList(
            [
                nn.Conv2d(1 if patch_inputs == "pyramid" else 4**level, chans[level - 1], 1)
                for level in range(1, self.patch_levels + 1)
            ]
        )
        self.down = nn.ModuleList(
            [
                ResidualBlock(
                    chans[level - 1] * (2 if level <= self.patch_levels else 1),
                    chans[level],
                    dropout,
                )
                for level in range(1, depth + 1)
            ]
        )
        self.aspp = ASPP(chans[depth], aspp_rates, aspp_channels)
        self.up = nn.ModuleList(
            [
                nn.ConvTranspose2d(
                    aspp_channels if level == depth - 1 else chans[level + 1],
                    chans[level],
                    2,
                    stride=2,
                )
                for level in reversed(range(depth))
            ]
        )
        self.merge = nn.ModuleList(
            [ResidualBlock(2 * chans[level], chans[level]) for level in reversed(range(depth))]
        )
        self.convbox = nn.ModuleList(
            [ConvBox(chans[level], level) for level in reversed(range(depth))] if convbox else []
        )
        self.heads = nn.ModuleList(
            [nn.Conv2d(aspp_channels, out_channels, 1)]
            + [nn.Conv2d(chans[level], out_channels, 1) for level in reversed(range(depth))]
        )

    def patch_input(self, image: torch.Tensor, level: int) -> torch.Tensor:
        k = 2**level
        if self.patch_inputs == "pyramid":
            return F.avg_pool2d(image, k)
        return tiles(image, k)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        height, width = x.shape[-2:]
        multiple = 2**self.depth
        pad_h, pad_w = -height % multiple, -width % multiple
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        image, prior = x[:, :1], x[:, 1:2]
        feats = [self.stem(image)]
        for level, block in enumerate(self.down, start=1):
            h = F.max_pool2d(feats[-1], 2)
            if level <= self.patch_levels:
                h = torch.cat([h, self.patch_convs[level - 1](self.patch_input(image, level))], 1)
            feats.append(block(h))
        h = self.aspp(feats.pop())
        outputs = [self.heads[0](h)]
        for i, (up, merge) in enumerate(zip(self.up, self.merge)):
            skip = feats.pop()
            if self.use_convbox:
                skip = skip * self.convbox[i](prior)
            h = merge(torch.cat([skip, up(h)], 1))
            outputs.append(self.heads[i + 1](h))
        crops = []
        for k, out in enumerate(outputs):
            scale = 2 ** (self.depth - k)
            crops.append(out[..., : -(-height // scale), : -(-width // scale)])
        return crops


def parameter_count(model: nn.Module) -> tuple[int, int]:
    """(all, trainable) parameters: Ouassit et al. 2022 §3.4 reports 38,059,141 and 38,056,069."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return total, trainable
