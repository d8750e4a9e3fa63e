"""Training slices of image-level tags: each weak-labelled slice with its ``present`` row.

On SIIM the tag is the native one (positive where the RLE table has a mask); on CT the
``tags`` protocol tags every weak slice, so tumour-free liver slices are the negatives.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from wsbench.api import TagLabel, WeakCase
from wsbench.errors import WeakLabelError
from wsbench.training.batches import BalancedBatches, ShuffledBatches


@dataclass
class TagSlice:
    """One training slice: where it comes from and its tags ``(K,)``."""

    case: int  # index into the labelled cases
    z: int
    present: np.ndarray  # bool (K,)


def tag_slices(cases: Sequence[WeakCase]) -> list[TagSlice]:
    """Every weak-labelled slice of ``cases`` with its tags; one-line error on a bad label."""
    out = []
    for i, case in enumerate(cases):
        weak = case.weak
        assert isinstance(weak, TagLabel), "wsbench.api.check_weak_kind runs before labelling"
        present = np.asarray(weak.present, bool)
        k = len(case.classes)
        if present.ndim != 2 or present.shape != (case.image.shape[0], k):
            raise WeakLabelError(
                f"case {case.id!r}: tags of shape {present.shape}, expected (slices, classes) = "
                f"{(case.image.shape[0], k)}; re-simulate them with --weak tags"
            )
        out += [TagSlice(i, int(z), present[int(z)].copy()) for z in weak.slices]
    return out


def network_input(plane: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """A normalised slice ``(Y, X)`` as a ``(1, H, W)`` tensor at the network's size."""
    x = torch.from_numpy(np.ascontiguousarray(plane, np.float32))[None, None]
    if tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    return x[0]


def input_size(cases: Sequence[WeakCase], image_size: int) -> tuple[int, int]:
    """The network's input size: ``image_size`` squared, or the first case's slice size."""
    if image_size:
        return image_size, image_size
    return int(cases[0].image.shape[1]), int(cases[0].image.shape[2])


class TagBatches:
    """Batches ``{"image", "tags"}`` for ``Trainer``: class-balanced (``pos_fraction`` of
    slices with any tag per batch, the paper's sampling) or shuffled (``pos_fraction == 0``)."""

    def __init__(
        self,
        images: torch.Tensor,
        tags: torch.Tensor,
        batch_size: int,
        pos_fraction: float,
        seed: int,
    ):
        self.images, self.tags = images, tags
        generator = torch.Generator().manual_seed(seed)
        positive = tags.any(dim=1)
        if 0 < pos_fraction < 1 and positive.any() and (~positive).any():
            self.sampler: BalancedBatches | ShuffledBatches = BalancedBatches(
                positive, batch_size, pos_fraction, generator
            )
        else:
            self.sampler = ShuffledBatches(len(tags), batch_size, generator)

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        for rows in self.sampler:
            index = torch.as_tensor(rows)
            yield {"image": self.images[index], "tags": self.tags[index]}
