"""The bottleneck attention of the co-segmentation network, shared across the pair.

Agarwal et al. 2020, §2.2-2.3 and Table 3. Channel attention (CA) and spatial attention
(SA) are computed independently and applied to the encoder features by element-wise
multiplication:

- ``se``: squeeze-and-excitation (Hu et al. 2018): global average pooling, FC-ReLU-FC,
  sigmoid;
- ``eca``: efficient channel attention (Wang et al. 2020): the FCs replaced by a 1D
  convolution across channels with the adaptive kernel size |log2(C)/2 + 1/2|, odd;
- ``msa``: the mean over channels at each position, through a sigmoid;
- ``aspp``: ASPP (Chen et al. 2017) reduced to one map, through a sigmoid;
- ``danet`` replaces both (CSA = DANet, Fu et al. 2019): a position attention module
  and a channel attention module, each a similarity-weighted sum added to the features.

Sharing across the pair (our reading of "preserving channels that contribute the most to
both feature maps"): the channel vector is computed for each image with the same
weights, and the product of the two vectors is applied to both images, so a channel is
kept only where it matters to both. Spatial maps stay per image (positions do not
correspond across two lesions). For DANet the channel affinity is computed over the two
images' positions together. ``shared=False`` (a mutant) applies each image's own vector.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from wsbench.nn.heads import ASPP

CHANNEL_ATTENTIONS = ("se", "eca")
SPATIAL_ATTENTIONS = ("msa", "aspp")
ATTENTIONS = ("csa", "danet", "none")


class SE(nn.Module):
    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(4, channels // reduction)
        self.fc = nn.Sequential(
            nn.Linear(channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, channels)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.fc(x.mean((2, 3))))


class ECA(nn.Module):
    def __init__(self, channels: int, gamma: int = 2, b: int = 1):
        super().__init__()
        k = int(abs(math.log2(channels) / gamma + b / gamma))
        k = k if k % 2 else k + 1
        self.conv = nn.Conv1d(1, 1, k, padding=k // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.conv(x.mean((2, 3)).unsqueeze(1)).squeeze(1))


class MSA(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x.mean(1, keepdim=True))


class ASPPAttention(nn.Module):
    def __init__(self, channels: int, rates: tuple[int, ...], width: int):
        super().__init__()
        self.aspp = ASPP(channels, rates, width)
        self.out = nn.Conv2d(width, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.out(self.aspp(x)))


class PositionAttention(nn.Module):
    """DANet's PAM: query/key at C/8, a softmax over positions, a learnt scale from 0."""

    def __init__(self, channels: int):
        super().__init__()
        inner = max(1, channels // 8)
        self.q = nn.Conv2d(channels, inner, 1)
        self.k = nn.Conv2d(channels, inner, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q = self.q(x).flatten(2).transpose(1, 2)  # (B, N, C')
        k = self.k(x).flatten(2)  # (B, C', N)
        attn = torch.softmax(q @ k, -1)  # (B, N, N)
        out = (self.v(x).flatten(2) @ attn.transpose(1, 2)).view(b, c, h, w)
        return self.gamma * out + x


def channel_affinity(a: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """DANet's CAM affinity (B, C, C) over the positions of ``a`` (and ``b``, shared)."""
    flat = a.flatten(2) if b is None else torch.cat([a.flatten(2), b.flatten(2)], 2)
    energy = flat @ flat.transpose(1, 2)
    energy = energy.max(-1, keepdim=True).values - energy  # DANet's inverted energy
    return torch.softmax(energy, -1)


class DANetAttention(nn.Module):
    def __init__(self, channels: int, shared: bool):
        super().__init__()
        self.pam = PositionAttention(channels)
        self.gamma = nn.Parameter(torch.zeros(1))
        self.shared = shared

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        outs = []
        for x, other in ((a, b), (b, a)):
            affinity = channel_affinity(x, other if self.shared else None)
            cam = (affinity @ x.flatten(2)).view_as(x)
            outs.append(self.pam(x) + self.gamma * cam + x)
        return outs[0], outs[1]


class PairAttention(nn.Module):
    """CA x SA on both images of a pair; ``forward(a, b) -> (a', b')``."""

    def __init__(
        self,
        channels: int,
        attention: str = "csa",
        ca: str = "se",
        sa: str = "msa",
        shared: bool = True,
        aspp_rates: tuple[int, ...] = (6, 12, 18),
        aspp_width: int = 64,
    ):
        super().__init__()
        self.attention, self.shared = attention, shared
        if attention == "danet":
            self.danet = DANetAttention(channels, shared)
        elif attention == "csa":
            self.ca = SE(channels) if ca == "se" else ECA(channels)
            self.sa = MSA() if sa == "msa" else ASPPAttention(channels, aspp_rates, aspp_width)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.attention == "none":
            return a, b
        if self.attention == "danet":
            return self.danet(a, b)
        ca, cb = self.ca(a), self.ca(b)
        if self.shared:
            ca = cb = ca * cb
        a = a * ca[:, :, None, None] * self.sa(a)
        b = b * cb[:, :, None, None] * self.sa(b)
        return a, b


def upsample_to(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=ref.shape[-2:], mode="bilinear", align_corners=False)
