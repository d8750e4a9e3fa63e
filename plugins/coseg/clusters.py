"""Lesion clustering and pairing (Agarwal et al. 2020, §1 and §3.1).

The paper clusters DeepLesion's lesions into 200 classes with the learned lesion
embeddings of Yan et al. 2018 and pairs images within a cluster. Those embeddings are
not available, so the descriptor is computed here from what every weak label gives:
the RECIST long and short diameters (mm) and HU statistics (mean, sd) inside the
RECIST box and in a ring around it. Features are z-scored, then k-means. k scales with
the dataset: ``ceil(n_lesions / lesions_per_cluster)``, at most ``max_clusters`` (the
paper: 32,735 lesions in 200 clusters, about 164 per cluster).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans

from .crops import Lesion, crop_window, cut

PAPER_LESIONS_PER_CLUSTER = 164  # 32,735 / 200
DESCRIPTOR = ("long_mm", "short_mm", "hu_mean", "hu_sd", "ring_mean", "ring_sd")


def describe(lesion: Lesion, plane_hu: np.ndarray) -> np.ndarray:
    """The lesion's descriptor: diameters and HU statistics of box and surrounding ring."""
    y0, x0, y1, x1 = lesion.box
    inner = cut(plane_hu, lesion.box, np.nan)
    outer = cut(plane_hu, crop_window(lesion.box, 0.5), np.nan)
    ring = outer.copy()
    oy0, ox0 = crop_window(lesion.box, 0.5)[:2]
    ring[y0 - oy0 : y1 - oy0, x0 - ox0 : x1 - ox0] = np.nan

    def stats(values: np.ndarray) -> tuple[float, float]:
        values = values[np.isfinite(values)]
        return (float(values.mean()), float(values.std())) if values.size else (0.0, 0.0)

    return np.array([lesion.long_mm, lesion.short_mm, *stats(inner), *stats(ring)])


def n_clusters(n_lesions: int, lesions_per_cluster: int, max_clusters: int) -> int:
    """k scaled to the dataset: ceil(n / lesions_per_cluster), in 1..max_clusters."""
    return max(1, min(max_clusters, n_lesions, math.ceil(n_lesions / lesions_per_cluster)))


@dataclass
class Clusters:
    """k-means on z-scored descriptors; ``labels[i]`` is lesion i's cluster."""

    mean: np.ndarray
    scale: np.ndarray
    centroids: np.ndarray
    labels: np.ndarray

    @classmethod
    def fit(cls, descriptors: np.ndarray, k: int, seed: int) -> Clusters:
        mean = descriptors.mean(0)
        scale = descriptors.std(0) + 1e-6
        z = (descriptors - mean) / scale
        if k == 1:
            return cls(mean, scale, z.mean(0, keepdims=True), np.zeros(len(z), np.int64))
        km = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(z)
        return cls(mean, scale, km.cluster_centers_, km.labels_.astype(np.int64))

    def assign(self, descriptors: np.ndarray) -> np.ndarray:
        """The nearest centroid of each (new) lesion."""
        z = (np.atleast_2d(descriptors) - self.mean) / self.scale
        return np.argmin(((z[:, None] - self.centroids[None]) ** 2).sum(-1), 1)

    def members(self) -> list[np.ndarray]:
        return [np.flatnonzero(self.labels == c) for c in range(len(self.centroids))]


def draw_partners(
    index: Sequence[int], labels: np.ndarray, members: list[np.ndarray], rng: np.random.Generator
) -> np.ndarray:
    """For each lesion in ``index``, another lesion of its cluster drawn at random (itself
    when it is alone in its cluster)."""
    out = np.empty(len(index), np.int64)
    for i, lesion in enumerate(index):
        pool = members[labels[lesion]]
        if len(pool) > 1:
            pick = pool[rng.integers(len(pool) - 1)]
            out[i] = pick if pick != lesion else pool[-1]
        else:
            out[i] = lesion
    return out


def partners_for_test(
    descriptor: np.ndarray,
    clusters: Clusters,
    train_descriptors: np.ndarray,
    n: int,
) -> np.ndarray:
    """The ``n`` training lesions of the test lesion's cluster nearest to it in descriptor
    space (fewer when the cluster is smaller)."""
    c = int(clusters.assign(descriptor)[0])
    pool = np.flatnonzero(clusters.labels == c)
    z = (train_descriptors[pool] - clusters.mean) / clusters.scale
    zq = (descriptor - clusters.mean) / clusters.scale
    order = np.argsort(((z - zq) ** 2).sum(1), kind="stable")
    return pool[order[:n]]
