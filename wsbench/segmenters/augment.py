"""Seeded batch augmentations for slice training: scale, rotation, blur and brightness
(paper 004 on SIIM-ACR; its horizontal flip is the segmenters' ``hflip`` parameter).
Every draw comes from one ``torch.Generator``, so a seed gives the same augmented
batches on every run; an augmentation whose strength is 0 draws nothing.

A batch is ``image`` (B, 1, H, W), ``target`` (B, H, W) or (B, K, H, W), ``weight`` like
``target``. Geometric transforms resample the image bilinearly, target and weight by
nearest neighbour; pixels that come from outside the slice get weight 0 (ignored).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

Batch = dict[str, torch.Tensor]


@dataclass(frozen=True)
class Augmentation:
    """Strengths; 0 turns one off. ``scale`` s draws factors in [1 - s, 1 + s],
    ``rotate`` degrees in [-r, r], ``blur`` Gaussian sigmas (pixels) in [0, b],
    ``brightness`` additive shifts of the normalised image in [-d, d]."""

    scale: float = 0.0
    rotate: float = 0.0
    blur: float = 0.0
    brightness: float = 0.0

    @property
    def active(self) -> bool:
        return any((self.scale, self.rotate, self.blur, self.brightness))

    def __call__(self, batch: Batch, generator: torch.Generator) -> Batch:
        if not self.active:
            return batch
        image, target, weight = batch["image"], batch["target"], batch["weight"]
        n = image.shape[0]

        def uniform(half_width: float) -> torch.Tensor:
            return (torch.rand(n, generator=generator) * 2 - 1) * half_width

        if self.scale or self.rotate:
            scale = 1 + uniform(self.scale) if self.scale else torch.ones(n)
            angle = uniform(math.radians(self.rotate)) if self.rotate else torch.zeros(n)
            image, target, weight = _affine(image, target, weight, scale, angle)
        if self.blur:
            sigmas = torch.rand(n, generator=generator) * self.blur
            image = torch.cat(
                [_gaussian_blur(image[i : i + 1], float(s)) for i, s in enumerate(sigmas)]
            )
        if self.brightness:
            image = image + uniform(self.brightness).to(image).view(-1, 1, 1, 1)
        return {**batch, "image": image, "target": target, "weight": weight}


def _affine(
    image: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor,
    scale: torch.Tensor,
    angle: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Zoom by ``scale`` and rotate by ``angle`` (radians) about the slice centre."""
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [
            torch.stack([cos, -sin, torch.zeros_like(cos)], 1),
            torch.stack([sin, cos, torch.zeros_like(cos)], 1),
        ],
        1,
    ).to(image)
    grid = F.affine_grid(theta, list(image.shape), align_corners=False)
    image = F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=False)
    squeeze = target.dim() == 3
    t = target.unsqueeze(1) if squeeze else target
    w = weight.unsqueeze(1) if squeeze else weight
    t = F.grid_sample(t.to(grid.dtype), grid, mode="nearest", align_corners=False).to(target.dtype)
    w = F.grid_sample(w.to(grid.dtype), grid, mode="nearest", align_corners=False).to(weight.dtype)
    if squeeze:
        t, w = t[:, 0], w[:, 0]
    return image, t, w


def _gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of a (1, C, H, W) tensor with reflect padding."""
    if sigma < 0.1:
        return image
    radius = max(1, int(math.ceil(3 * sigma)))
    radius = min(radius, image.shape[-1] - 1, image.shape[-2] - 1)
    if radius < 1:
        return image
    x = torch.arange(-radius, radius + 1, dtype=image.dtype, device=image.device)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    c = image.shape[1]
    out = F.pad(image, (radius, radius, 0, 0), mode="reflect")
    out = F.conv2d(out, kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    out = F.pad(out, (0, 0, radius, radius), mode="reflect")
    return F.conv2d(out, kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
