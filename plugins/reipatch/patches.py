"""Ouassit et al. 2022 §3.8, Algorithm 1: self-labelled patches.

Each training slice is cut into non-overlapping patches at every level (1/2, 1/4 and 1/8
of its side: 256, 128 and 64 px of a 512 px slice). A patch is kept when the area ratio
``mu = A / C`` of its predicted foreground A to its area C is at least the threshold
(0.3 in the paper, Eq. 7); it joins the training set with the model's prediction as its label,
zoomed to the slice size so the network sees it at full resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class PatchSet:
    """Self-labelled patches: ``inputs`` (n, 2, H, W) = slice and box prior, ``target``
    (n, H, W) uint8 (the predicted labels), ``level`` (n,) the patch level."""

    inputs: torch.Tensor
    target: torch.Tensor
    level: torch.Tensor

    def __len__(self) -> int:
        return int(self.inputs.shape[0])

    def subset(self, rows: torch.Tensor) -> PatchSet:
        rows = rows.sort().values
        return PatchSet(self.inputs[rows], self.target[rows], self.level[rows])


def patch_grid(size: int, level: int) -> list[tuple[int, int]]:
    """(start, stop) of the non-overlapping patches along one side at ``level`` (1/2**level
    of the side; the last patch ends at the border)."""
    parts = 2**level
    cuts = [round(i * size / parts) for i in range(parts + 1)]
    return [(cuts[i], cuts[i + 1]) for i in range(parts) if cuts[i + 1] > cuts[i]]


def area_ratio(pred: torch.Tensor) -> torch.Tensor:
    """Eq. 7's ``mu = A / C`` of predicted labels (..., h, w): foreground share."""
    return (pred > 0).float().flatten(-2).mean(-1)


def self_labelled_patches(
    inputs: torch.Tensor,
    pred: torch.Tensor,
    mu: float,
    levels: tuple[int, ...] = (1, 2, 3),
    keep: torch.Tensor | None = None,
) -> PatchSet:
    """Patches of ``inputs`` (N, 2, H, W) at ``levels`` whose predicted labels ``pred``
    (N, H, W) have ``mu`` >= the threshold; ``keep`` (N,) bool limits the slices used."""
    n, _, height, width = inputs.shape
    rows = torch.arange(n) if keep is None else torch.nonzero(keep).flatten()
    xs, ys, lv = [], [], []
    for level in levels:
        for y0, y1 in patch_grid(height, level):
            for x0, x1 in patch_grid(width, level):
                crop = pred[rows, y0:y1, x0:x1]
                chosen = rows[area_ratio(crop) >= mu]
                if chosen.numel() == 0:
                    continue
                x = inputs[chosen, :, y0:y1, x0:x1].float()
                y = pred[chosen, y0:y1, x0:x1].unsqueeze(1).float()
                xs.append(F.interpolate(x, size=(height, width), mode="bilinear"))
                ys.append(F.interpolate(y, size=(height, width), mode="nearest")[:, 0])
                lv.append(torch.full((chosen.numel(),), level))
    if not xs:
        return PatchSet(
            torch.zeros(0, inputs.shape[1], height, width),
            torch.zeros(0, height, width, dtype=torch.uint8),
            torch.zeros(0, dtype=torch.long),
        )
    return PatchSet(torch.cat(xs), torch.cat(ys).to(torch.uint8), torch.cat(lv))
