"""SMILE's training targets as pure numpy functions (Petit et al. 2018, §2.1 and §2.2).

``label`` is a partial task map (Z, Y, X): class k (1-based) is drawn only where it was
annotated; ``annotated[k-1]`` says whether class k was annotated in this volume.
"""

from __future__ import annotations

import numpy as np

from wsbench.errors import ParameterError

POSITIVE = 0.5  # a pixel is "predicted positive" for class k when its sigmoid exceeds this


def baseline_targets(label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The DeepLab baseline: the partial map as-is (missing organs are background), weight 1."""
    return label.astype(np.uint8, copy=True), np.ones(label.shape, np.float32)


def smile_targets(
    label: np.ndarray, annotated: np.ndarray, ambiguity: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """K binary targets and K weight maps w_k (§2.1, Eq. 1).

    Annotated class k: w_k = 1 everywhere. Unannotated class k: w_k = 1 only on the
    pixels of the annotated classes (certain negatives for k), 0 elsewhere (ambiguous).
    ``ambiguity=False`` removes SMILE's key idea (w_k = 1 everywhere: a missing organ is
    a certain negative); it exists as the claims test's mutant, not as a method.
    """
    num_classes = len(annotated)
    target = np.stack([label == k for k in range(1, num_classes + 1)]).astype(np.uint8)
    if not ambiguity:
        return target, np.ones(target.shape, np.float32)
    known_organs = np.isin(label, [k + 1 for k in range(num_classes) if annotated[k]])
    weight = np.empty(target.shape, np.float32)
    for k in range(num_classes):
        weight[k] = 1.0 if annotated[k] else known_organs
    return target, weight


def gamma_schedule(rounds: int, gamma_max: float) -> list[float]:
    """gamma_t = (t / T) * gamma_max for t = 1..T (§2.2)."""
    if rounds < 1:
        raise ParameterError(f"smiler.rounds={rounds!r} is out of range; it must be >= 1")
    if not 0.0 < gamma_max <= 1.0:
        raise ParameterError(
            f"smiler.gamma_max={gamma_max!r} is out of range; it must be in (0, 1]"
        )
    return [t / rounds * gamma_max for t in range(1, rounds + 1)]


def top_fraction_positives(
    prob: np.ndarray, weight: np.ndarray, slices: np.ndarray, gamma: float
) -> np.ndarray:
    """The new positives for one unannotated class in one volume (§2.2).

    Candidates are the pixels predicted positive (``prob > 0.5``) on the training
    ``slices`` that are still ambiguous (``weight == 0``: certain negatives, the
    annotated organs, are never relabelled). The top-scoring ``round(gamma * n)`` of
    the ``n`` candidates are returned as a bool (Z, Y, X) mask.
    """
    on_slices = np.zeros(prob.shape, bool)
    on_slices[np.asarray(slices, dtype=np.int64)] = True
    candidates = np.flatnonzero((prob > POSITIVE) & (weight == 0) & on_slices)
    count = int(np.floor(gamma * candidates.size + 0.5))
    chosen = np.zeros(prob.size, bool)
    if count > 0:
        scores = prob.ravel()[candidates]
        chosen[candidates[np.argsort(-scores, kind="stable")[:count]]] = True
    return chosen.reshape(prob.shape)
