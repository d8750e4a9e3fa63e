"""Batch samplers shared by every trainer: seeded shuffling and class-balanced batches.

One rule lives here: a last batch of one sample joins the batch before it, since batch
norm cannot train on a single sample (``split_batches``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler

from wsbench.errors import ParameterError


def split_batches(order: Sequence[int], batch_size: int) -> list[list[int]]:
    """Cut ``order`` into batches of ``batch_size``; a last batch of one joins the one before."""
    batches = [list(order[i : i + batch_size]) for i in range(0, len(order), batch_size)]
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches[-2].extend(batches.pop())
    return batches


def batch_count(n: int, batch_size: int) -> int:
    """How many batches ``split_batches`` makes of ``n`` samples."""
    count = math.ceil(n / batch_size)
    return count - 1 if count > 1 and n % batch_size == 1 else count


class ShuffledBatches(Sampler[list[int]]):
    """Seeded shuffled batches (``split_batches`` of a fresh permutation each epoch)."""

    def __init__(self, n: int, batch_size: int, generator: torch.Generator):
        self.n, self.batch_size, self.generator = n, batch_size, generator

    def __len__(self) -> int:
        return batch_count(self.n, self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        order = torch.randperm(self.n, generator=self.generator).tolist()
        return iter(split_batches(order, self.batch_size))


class BalancedBatches(Sampler[list[int]]):
    """Batches with a fixed share of positive samples (paper 004's balanced sampling).

    Each batch holds ``round(pos_fraction * batch_size)`` positives and the rest
    negatives. Each class is drawn from its own seeded permutation, reshuffled when used
    up, so the minority class repeats within an epoch and the majority class is seen in
    turn. An epoch has as many batches as plain shuffling would. Where one class is
    missing, batches are drawn from the other alone.
    """

    def __init__(
        self,
        positive: Sequence[bool] | torch.Tensor,
        batch_size: int,
        pos_fraction: float,
        generator: torch.Generator,
    ):
        if not 0 < pos_fraction < 1:
            raise ParameterError(f"pos_fraction={pos_fraction} must be in (0, 1)")
        flags = torch.as_tensor(positive, dtype=torch.bool)
        self.pools = [
            torch.nonzero(flags).flatten().tolist(),
            torch.nonzero(~flags).flatten().tolist(),
        ]
        self.n, self.batch_size, self.generator = len(flags), max(2, batch_size), generator
        share = round(pos_fraction * self.batch_size)
        share = min(max(share, 1), self.batch_size - 1)
        if not self.pools[0]:
            share = 0
        elif not self.pools[1]:
            share = self.batch_size
        self.counts = (share, self.batch_size - share)
        self.queues: list[list[int]] = [[], []]

    def __len__(self) -> int:
        return max(1, math.ceil(self.n / self.batch_size))

    def _draw(self, which: int, count: int) -> list[int]:
        out: list[int] = []
        pool, queue = self.pools[which], self.queues[which]
        while len(out) < count:
            if not queue:
                queue.extend(pool[i] for i in torch.randperm(len(pool), generator=self.generator))
            out.append(queue.pop())
        return out

    def __iter__(self) -> Iterator[list[int]]:
        for _ in range(len(self)):
            batch = self._draw(0, self.counts[0]) + self._draw(1, self.counts[1])
            order = torch.randperm(len(batch), generator=self.generator).tolist()
            yield [batch[i] for i in order]
