"""Fully connected CRF refinement of a foreground probability map (Krähenbühl & Koltun 2011).

Two labels, background and foreground. The unaries are ``-log(1 - p)`` and ``-log(p)`` for a
foreground probability map ``p`` (as in Fan et al. 2022, §2.4). The pairwise terms are a
Gaussian (smoothness) kernel over pixel positions and a bilateral (appearance) kernel over
positions and the HU-windowed grey value (``Intensity.to_uint8``). Inference runs on a crop
(a box plus an optional margin) or on the whole slice, and ``refine_many`` spreads slices
over worker processes. The solver is ``pydensecrf`` (the ``pydensecrf2`` distribution).

    refined = refine(intensity.to_uint8(hu_slice), prob, CrfParams(), crop=(y0, x0, y1, x1))
    mask = refined > 0.5
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from wsbench.errors import ParameterError
from wsbench.params import Param, at_least, in_range

__all__ = ["CrfItem", "CrfParams", "crf_params", "crf_pool", "refine", "refine_many", "unaries"]


@dataclass(frozen=True)
class CrfParams:
    """DenseCRF settings. Distances are in pixels, ``bilateral_srgb`` in 0..255 grey levels."""

    gaussian_sxy: float = 3.0  # spatial std of the smoothness kernel
    gaussian_compat: float = 3.0  # weight of the smoothness kernel (Potts)
    bilateral_sxy: float = 20.0  # spatial std of the appearance kernel
    bilateral_srgb: float = 10.0  # grey-level std of the appearance kernel
    bilateral_compat: float = 5.0  # weight of the appearance kernel (Potts)
    iterations: int = 5  # mean-field iterations
    margin: int = 0  # pixels added around the crop on every side
    confidence: float = 1.0  # p -> 0.5 + confidence * (p - 0.5): how far the unaries are trusted
    clip: float = 1e-5  # probabilities are clipped to [clip, 1 - clip] before the log

    def __post_init__(self) -> None:
        for name in ("gaussian_sxy", "bilateral_sxy", "bilateral_srgb"):
            if not getattr(self, name) > 0:
                raise ParameterError(f"CrfParams.{name}={getattr(self, name)!r} must be > 0")
        for name in ("gaussian_compat", "bilateral_compat", "iterations", "margin"):
            if getattr(self, name) < 0:
                raise ParameterError(f"CrfParams.{name}={getattr(self, name)!r} must be >= 0")
        if not 0 < self.confidence <= 1:
            raise ParameterError(f"CrfParams.confidence={self.confidence!r} must be in (0, 1]")
        if not 0 < self.clip < 0.5:
            raise ParameterError(f"CrfParams.clip={self.clip!r} must be in (0, 0.5)")

    @classmethod
    def from_plugin(cls, p: Mapping[str, Any], prefix: str = "crf_") -> CrfParams:
        """Build from a plugin's resolved params declared with ``crf_params(prefix)``."""
        return cls(**{f.name: p[prefix + f.name] for f in fields(cls) if prefix + f.name in p})


def crf_params(defaults: CrfParams | None = None, prefix: str = "crf_") -> tuple[Param, ...]:
    """``Param`` declarations for a plugin that exposes the CRF (``--set acol.crf_margin=4``)."""
    d = defaults or CrfParams()
    positive = {"check": lambda v: v > 0, "check_doc": "> 0"}
    docs = {
        "gaussian_sxy": ("spatial std (px) of the DenseCRF smoothness kernel", positive),
        "gaussian_compat": ("weight of the DenseCRF smoothness kernel", at_least(0)),
        "bilateral_sxy": ("spatial std (px) of the DenseCRF appearance kernel", positive),
        "bilateral_srgb": ("grey-level std (0..255) of the DenseCRF appearance kernel", positive),
        "bilateral_compat": ("weight of the DenseCRF appearance kernel", at_least(0)),
        "iterations": ("DenseCRF mean-field iterations", at_least(0)),
        "margin": ("pixels added around the box before the DenseCRF crop", at_least(0)),
        "confidence": (
            "trust in the map: p -> 0.5 + confidence (p - 0.5) before the unaries",
            in_range(0, 1, lo_open=True),
        ),
        "clip": (
            "probability clip before the DenseCRF log-unaries",
            in_range(0, 0.5, lo_open=True, hi_open=True),
        ),
    }
    return tuple(
        Param(prefix + name, value, docs[name][0], **docs[name][1])
        for name, value in asdict(d).items()
    )


@dataclass
class CrfItem:
    """One slice to refine: grey image (Y, X) uint8, foreground probability (Y, X) in [0, 1],
    and an optional crop ``(y0, x0, y1, x1)`` (half-open); ``None`` = the whole slice."""

    image: np.ndarray
    prob: np.ndarray
    crop: tuple[int, int, int, int] | None = None


def refine(
    image: np.ndarray,
    prob: np.ndarray,
    params: CrfParams,
    crop: tuple[int, int, int, int] | None = None,
) -> np.ndarray:
    """Refined foreground probability (Y, X) float32; outside the (margined) crop it is ``prob``.

    ``image`` is the HU-windowed slice as uint8 (``Intensity.to_uint8``), ``prob`` the
    foreground probability of every pixel (0 where the pixel is surely background).
    """
    _check_inputs(image, prob, crop)
    out = prob.astype(np.float32, copy=True)
    y0, x0, y1, x1 = _expand(crop, params.margin, prob.shape)
    if y1 <= y0 or x1 <= x0:
        return out
    out[y0:y1, x0:x1] = _crf_foreground(image[y0:y1, x0:x1], out[y0:y1, x0:x1], params)
    return out


def refine_many(
    items: Sequence[CrfItem], params: CrfParams, workers: int = 1, executor: Executor | None = None
) -> list[np.ndarray]:
    """``refine`` every item, in order, over ``workers`` processes (1 = in this process).

    A new pool costs about half a second to start; pass a running ``executor``
    (``crf_pool(workers)``) to refine many batches without paying it each time.
    """
    if workers < 1:
        raise ParameterError(f"refine_many(workers={workers}) must be >= 1")
    if executor is None and (workers == 1 or len(items) < 2):
        return [refine(it.image, it.prob, params, it.crop) for it in items]
    n_workers = getattr(executor, "_max_workers", workers)
    chunksize = max(1, len(items) // (4 * n_workers))
    if executor is not None:
        return list(executor.map(_refine_item, items, [params] * len(items), chunksize=chunksize))
    with crf_pool(workers) as pool:
        return list(pool.map(_refine_item, items, [params] * len(items), chunksize=chunksize))


def crf_pool(workers: int) -> ProcessPoolExecutor:
    """A process pool for ``refine_many``. Workers are spawned, not forked: forking a process
    that holds torch's thread pools can deadlock."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def _refine_item(item: CrfItem, params: CrfParams) -> np.ndarray:
    return refine(item.image, item.prob, params, item.crop)


def unaries(prob: np.ndarray, clip: float) -> np.ndarray:
    """(2, N) float32 energies: row 0 = -log(1 - p) (background), row 1 = -log(p) (foreground)."""
    p = np.clip(prob.astype(np.float32).ravel(), clip, 1.0 - clip)
    return np.ascontiguousarray(-np.log(np.stack([1.0 - p, p])), dtype=np.float32)


def _crf_foreground(image: np.ndarray, prob: np.ndarray, params: CrfParams) -> np.ndarray:
    import pydensecrf.densecrf as dcrf
    from pydensecrf.utils import create_pairwise_bilateral, create_pairwise_gaussian

    h, w = prob.shape
    crf = dcrf.DenseCRF(h * w, 2)
    crf.setUnaryEnergy(unaries(0.5 + params.confidence * (prob - 0.5), params.clip))
    if params.gaussian_compat > 0:
        feats = create_pairwise_gaussian((params.gaussian_sxy,) * 2, (h, w))
        crf.addPairwiseEnergy(
            np.ascontiguousarray(feats, np.float32), compat=float(params.gaussian_compat)
        )
    if params.bilateral_compat > 0:
        feats = create_pairwise_bilateral(
            (params.bilateral_sxy,) * 2, (params.bilateral_srgb,), image, chdim=-1
        )
        crf.addPairwiseEnergy(
            np.ascontiguousarray(feats, np.float32), compat=float(params.bilateral_compat)
        )
    q = np.asarray(crf.inference(int(params.iterations)), dtype=np.float32)
    return q[1].reshape(h, w)


def _expand(
    crop: tuple[int, int, int, int] | None, margin: int, shape: tuple[int, ...]
) -> tuple[int, int, int, int]:
    if crop is None:
        return 0, 0, shape[0], shape[1]
    y0, x0, y1, x1 = crop
    return (
        max(0, y0 - margin),
        max(0, x0 - margin),
        min(shape[0], y1 + margin),
        min(shape[1], x1 + margin),
    )


def _check_inputs(
    image: np.ndarray, prob: np.ndarray, crop: tuple[int, int, int, int] | None
) -> None:
    if image.ndim != 2 or image.shape != prob.shape:
        raise ValueError(
            f"DenseCRF needs a 2D image and a probability map of the same shape; got image "
            f"{image.shape} and prob {prob.shape}: pass one slice (Y, X) at a time"
        )
    if image.dtype != np.uint8:
        raise ValueError(
            f"DenseCRF needs a uint8 image, got {image.dtype}: pass intensity.to_uint8(hu)"
        )
    if crop is not None:
        y0, x0, y1, x1 = crop
        if not (0 <= y0 < y1 <= prob.shape[0] and 0 <= x0 < x1 <= prob.shape[1]):
            raise ValueError(
                f"DenseCRF crop {crop} is empty or outside the slice {prob.shape}; "
                "give (y0, x0, y1, x1) with 0 <= y0 < y1 <= Y and 0 <= x0 < x1 <= X"
            )
