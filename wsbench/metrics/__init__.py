"""Overlap and surface metrics of a binary prediction against a binary ground truth, in mm.

Arrays are ``(Z, Y, X)`` volumes with ``spacing`` ``(z, y, x)`` or ``(Y, X)`` slices with
``(y, x)``; a volume with ``Z == 1`` is evaluated as the 2D slice it is (a 3D erosion of a
one-slice volume would mark every voxel as surface).

Definitions (docs/metrics.md has the full text and the comparison with MONAI and medpy):

* dice = 2TP / (2TP + FP + FN); iou = TP / (TP + FP + FN); precision = TP / (TP + FP);
  recall = TP / (TP + FN); accuracy = (TP + TN) / N; vs = 1 - |FP - FN| / (2TP + FP + FN).
* Surface of a mask: its voxels that a binary erosion with the face-connected (connectivity 1)
  structure removes, voxels outside the array counting as background. This is medpy's
  definition, and hd95 / assd match ``medpy.metric.binary.hd95`` / ``assd`` to float precision.
* hd95: the 95th percentile (linear interpolation) of the union of both directed sets of
  surface distances. assd: the mean of that same union (MONAI's symmetric average surface
  distance pools the two sets the same way).
* ahd: the averaged Hausdorff distance of Taha & Hanbury 2015 (paper 001's "AVD"),
  max(d(A, B), d(B, A)) with d(A, B) the mean over all voxels of A of the distance to the
  nearest voxel of B. As in their tool it runs over whole segments, not surfaces.

Empty policy (MetricsReloaded, Maier-Hein et al. 2024; docs/metrics.md cites it). Both
masks empty: every overlap metric is 1.0 and every distance 0.0 (a perfect answer). Exactly
one empty (a missed or a spurious structure): a ratio whose denominator is 0 is 0.0 (dice,
iou, vs, and precision or recall, whichever is undefined), and every distance is the
declared worst case ``worst_distance``: the diagonal of the field of view in mm. Never NaN,
so a miss is never dropped from a mean. ``compute_classes`` flags each case and class with
``missed/<class>`` and ``spurious/<class>`` (1.0 or 0.0), so misses can be counted.

Speed (``wsbench.metrics.nearest``): both masks are cut to the bounding box of their union
plus one voxel; surfaces are the face-connected erosion; nearest surface voxels are found
exactly by a k-d tree of surface voxel centres in mm (small surfaces) or by a search over
the voxel offsets of a small ball with the k-d tree for what lies beyond (large surfaces).
Both give the numbers of ``distance_transform_edt(sampling=spacing)`` at a cost that follows
the surface, not the box (benchmarks/test_bench_metrics.py). ``ahd`` uses the EDT on the box.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np
from scipy import ndimage

from wsbench import hookimpl
from wsbench.api import Metric
from wsbench.errors import DataError, UnknownPluginError
from wsbench.metrics.nearest import crop_to_union, surface, surface_distances_of
from wsbench.stats import mean_sd

__all__ = [
    "DEFAULT_METRICS",
    "METRIC_CLASSES",
    "accuracy",
    "ahd",
    "assd",
    "compute_all",
    "compute_classes",
    "confusion",
    "dice",
    "hd95",
    "iou",
    "per_slice",
    "precision",
    "recall",
    "summarize",
    "surface",
    "surface_distances",
    "volumetric_similarity",
    "worst_distance",
]

OVERLAP_METRICS = ("dice", "iou", "precision", "recall", "accuracy", "vs")
SURFACE_METRICS = ("hd95", "assd")
DISTANCE_METRICS = (*SURFACE_METRICS, "ahd")
DEFAULT_METRICS = (*OVERLAP_METRICS, *DISTANCE_METRICS)
MISSED, SPURIOUS = "missed", "spurious"  # per-case flags "missed/<class>", "spurious/<class>"

TAHA_2015 = (
    "Taha & Hanbury, Metrics for evaluating 3D medical image segmentation: analysis, "
    "selection, and tool, BMC Medical Imaging 15:29, 2015"
)
METRICS_RELOADED = (
    "Maier-Hein et al., Metrics reloaded: recommendations for image analysis validation, "
    "Nature Methods 21:195-212, 2024 (doi:10.1038/s41592-023-02151-z)"
)


# ---------------------------------------------------------------------------
# Input checks


def _prepare(
    pred: np.ndarray, gt: np.ndarray, spacing: Sequence[float] | None
) -> tuple[np.ndarray, np.ndarray, tuple[float, ...]]:
    """Boolean arrays and a spacing tuple; a one-slice volume becomes a 2D slice."""
    pred, gt = np.asarray(pred, dtype=bool), np.asarray(gt, dtype=bool)
    if pred.shape != gt.shape:
        raise DataError(
            f"prediction shape {pred.shape} differs from ground-truth shape {gt.shape}; "
            "resample the prediction onto the ground-truth grid"
        )
    spacing = tuple(float(s) for s in (spacing if spacing is not None else (1.0,) * gt.ndim))
    if len(spacing) != gt.ndim:
        raise DataError(
            f"spacing {spacing} has {len(spacing)} values for a {gt.ndim}D mask of shape "
            f"{gt.shape}; give one spacing per axis (z, y, x) or (y, x)"
        )
    if any(not np.isfinite(s) or s <= 0 for s in spacing):
        raise DataError(f"spacing {spacing} must be positive and finite (mm per voxel)")
    if gt.ndim == 3 and gt.shape[0] == 1:
        return pred[0], gt[0], spacing[1:]
    return pred, gt, spacing


# ---------------------------------------------------------------------------
# Overlap metrics


def confusion(pred: np.ndarray, gt: np.ndarray) -> tuple[int, int, int, int]:
    """(TP, FP, FN, TN) voxel counts of two binary masks."""
    pred, gt = np.asarray(pred, dtype=bool), np.asarray(gt, dtype=bool)
    tp = int(np.count_nonzero(pred & gt))
    fp = int(np.count_nonzero(pred)) - tp
    fn = int(np.count_nonzero(gt)) - tp
    return tp, fp, fn, gt.size - tp - fp - fn


def _ratio(num: float, den: float, both_empty: bool) -> float:
    if den == 0:
        return 1.0 if both_empty else 0.0
    return float(num / den)


def _overlap(name: str, tp: int, fp: int, fn: int, tn: int) -> float:
    both_empty = tp + fp + fn == 0
    if name == "dice":
        return _ratio(2 * tp, 2 * tp + fp + fn, both_empty)
    if name == "iou":
        return _ratio(tp, tp + fp + fn, both_empty)
    if name == "precision":
        return _ratio(tp, tp + fp, both_empty)
    if name == "recall":
        return _ratio(tp, tp + fn, both_empty)
    if name == "accuracy":
        return _ratio(tp + tn, tp + fp + fn + tn, True)
    if name == "vs":
        return 1.0 - _ratio(abs(fp - fn), 2 * tp + fp + fn, False)
    raise KeyError(name)


def dice(pred: np.ndarray, gt: np.ndarray) -> float:
    return _overlap("dice", *confusion(pred, gt))


def iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """Jaccard index."""
    return _overlap("iou", *confusion(pred, gt))


def precision(pred: np.ndarray, gt: np.ndarray) -> float:
    return _overlap("precision", *confusion(pred, gt))


def recall(pred: np.ndarray, gt: np.ndarray) -> float:
    return _overlap("recall", *confusion(pred, gt))


def accuracy(pred: np.ndarray, gt: np.ndarray) -> float:
    return _overlap("accuracy", *confusion(pred, gt))


def volumetric_similarity(pred: np.ndarray, gt: np.ndarray) -> float:
    """1 - |FP - FN| / (2TP + FP + FN): 1 when the volumes are equal, wherever they are."""
    return _overlap("vs", *confusion(pred, gt))


# ---------------------------------------------------------------------------
# Distance metrics


def worst_distance(shape: Sequence[int], spacing: Sequence[float]) -> float:
    """The declared distance of a missed or spurious structure: the diagonal of the field of
    view in mm, ``sqrt(sum((n_i * s_i)^2))``. No two voxel centres of the image lie farther
    apart, so a miss never scores better than any prediction that found the structure."""
    return float(np.sqrt(sum((n * s) ** 2 for n, s in zip(shape, spacing))))


def surface_distances(
    pred: np.ndarray, gt: np.ndarray, spacing: Sequence[float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Directed surface distances in mm: (pred surface -> gt surface, gt surface -> pred surface).

    Each array holds, for every surface voxel of the first mask (C order), the distance to
    the nearest surface voxel of the second. Both arrays are empty when either mask is empty.
    """
    pred, gt, spacing = _prepare(pred, gt, spacing)
    return _surface_distances(pred, gt, spacing)


def _surface_distances(
    pred: np.ndarray, gt: np.ndarray, spacing: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray]:
    if not pred.any() or not gt.any():
        return np.zeros(0), np.zeros(0)
    return surface_distances_of(pred, gt, spacing)


def _surface_metric(name: str, to_gt: np.ndarray, to_pred: np.ndarray) -> float:
    if name == "hd95":
        return float(np.percentile(np.concatenate([to_gt, to_pred]), 95))
    if name == "assd":
        return float(np.concatenate([to_gt, to_pred]).mean())
    raise KeyError(name)


def _ahd(pred: np.ndarray, gt: np.ndarray, spacing: tuple[float, ...]) -> float:
    pred, gt = crop_to_union(pred, gt)
    pred_to_gt = ndimage.distance_transform_edt(~gt, sampling=spacing)[pred].mean()
    gt_to_pred = ndimage.distance_transform_edt(~pred, sampling=spacing)[gt].mean()
    return float(max(pred_to_gt, gt_to_pred))


def _distance(name: str, pred: np.ndarray, gt: np.ndarray, spacing, cache: dict) -> float:
    """A distance metric with the empty policy applied; surface distances computed once."""
    pred_any, gt_any = bool(pred.any()), bool(gt.any())
    if not pred_any and not gt_any:
        return 0.0
    if pred_any != gt_any:  # a missed or a spurious structure
        return worst_distance(gt.shape, spacing)
    if name == "ahd":
        return _ahd(pred, gt, spacing)
    if "surface" not in cache:
        cache["surface"] = _surface_distances(pred, gt, spacing)
    return _surface_metric(name, *cache["surface"])


def hd95(pred: np.ndarray, gt: np.ndarray, spacing: Sequence[float] | None = None) -> float:
    """95th percentile Hausdorff distance in mm (medpy's definition; see the empty policy)."""
    return compute_all(pred, gt, spacing, ("hd95",))["hd95"]


def assd(pred: np.ndarray, gt: np.ndarray, spacing: Sequence[float] | None = None) -> float:
    """Average symmetric surface distance in mm (medpy's definition)."""
    return compute_all(pred, gt, spacing, ("assd",))["assd"]


def ahd(pred: np.ndarray, gt: np.ndarray, spacing: Sequence[float] | None = None) -> float:
    """Averaged Hausdorff distance of Taha & Hanbury 2015 in mm (paper 001's AVD)."""
    return compute_all(pred, gt, spacing, ("ahd",))["ahd"]


# ---------------------------------------------------------------------------
# Many metrics at once


def compute_all(
    pred: np.ndarray,
    gt: np.ndarray,
    spacing: Sequence[float] | None,
    metrics: Sequence[str | Metric] = DEFAULT_METRICS,
) -> dict[str, float]:
    """Every requested metric of one binary pair, by name; surface distances computed once.

    ``metrics`` holds names of the core metrics or ``Metric`` instances (a plugin's metric is
    called through its ``compute``). An unknown name raises ``UnknownPluginError``.
    """
    pred, gt, spacing = _prepare(pred, gt, spacing)
    counts = confusion(pred, gt) if any(_name(m) in OVERLAP_METRICS for m in metrics) else None
    cache: dict = {}
    out: dict[str, float] = {}
    for metric in metrics:
        name = _name(metric)
        if name in OVERLAP_METRICS:
            out[name] = _overlap(name, *counts)
        elif name in SURFACE_METRICS or name == "ahd":
            out[name] = _distance(name, pred, gt, spacing, cache)
        elif isinstance(metric, Metric):
            out[name] = float(metric.compute(pred, gt, spacing))
        else:
            raise UnknownPluginError("metric", name, DEFAULT_METRICS)
    return out


def _name(metric: str | Metric) -> str:
    return metric if isinstance(metric, str) else metric.name


def compute_classes(
    pred: np.ndarray,
    gt: np.ndarray,
    spacing: Sequence[float] | None,
    classes: Sequence[str],
    metrics: Sequence[str | Metric] = DEFAULT_METRICS,
) -> dict[str, float]:
    """Per-class metrics ``"<metric>/<class>"``, their class mean under ``"<metric>"``, and
    per class ``"missed/<class>"`` and ``"spurious/<class>"``: 1.0 when the class is in the
    ground truth but not predicted (missed) or predicted but absent (spurious), else 0.0.

    ``gt`` is a task label map (0 = background, k = classes[k-1]). ``pred`` is a label map of
    the same shape or a multilabel stack ``(K, ...)`` whose ``pred[k-1]`` is class k. Core
    metrics are never NaN (empty policy); the class mean leaves out NaN from plugin metrics
    and is NaN only if every class is NaN.
    """
    pred, gt = np.asarray(pred), np.asarray(gt)
    multilabel = pred.ndim == gt.ndim + 1
    if multilabel and pred.shape[0] != len(classes):
        raise DataError(
            f"multilabel prediction has {pred.shape[0]} channels for {len(classes)} classes "
            f"{tuple(classes)}; give one channel per class"
        )
    out: dict[str, float] = {}
    per_metric: dict[str, list[float]] = {}
    flags: dict[str, float] = {}
    for k, cls in enumerate(classes, start=1):
        pred_k = pred[k - 1] > 0 if multilabel else pred == k
        gt_k = gt == k
        for name, value in compute_all(pred_k, gt_k, spacing, metrics).items():
            out[f"{name}/{cls}"] = value
            per_metric.setdefault(name, []).append(value)
        predicted, present = bool(pred_k.any()), bool(gt_k.any())
        flags[f"{MISSED}/{cls}"] = float(present and not predicted)
        flags[f"{SPURIOUS}/{cls}"] = float(predicted and not present)
    for name, values in per_metric.items():
        out[name] = _nanmean(values)
    out.update(flags)
    return out


def per_slice(
    pred: np.ndarray,
    gt: np.ndarray,
    spacing_yx: Sequence[float],
    metrics: Sequence[str | Metric] = DEFAULT_METRICS,
    slices: Sequence[int] | None = None,
) -> list[dict[str, float]]:
    """2D metrics slice by slice of binary ``(Z, Y, X)`` masks; each row carries its ``"z"``.

    ``slices=None`` takes every slice where either mask has foreground: slices empty in
    both would add a perfect 1.0 / 0.0 each and say nothing about the segmentation.
    """
    pred, gt = np.asarray(pred, dtype=bool), np.asarray(gt, dtype=bool)
    if pred.shape != gt.shape or gt.ndim != 3:
        raise DataError(
            f"per_slice needs two (Z, Y, X) masks of one shape, got {pred.shape} and {gt.shape}"
        )
    if slices is None:
        slices = np.flatnonzero((pred | gt).any(axis=(1, 2)))
    rows = []
    for z in slices:
        row: dict[str, float] = {"z": int(z)}
        row.update(compute_all(pred[z], gt[z], spacing_yx, metrics))
        rows.append(row)
    return rows


def _nanmean(values: Sequence[float]) -> float:
    finite = [v for v in values if not np.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")


def summarize(rows: Sequence[Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """Per metric, statistics over cases (one row per case): ``mean_over_cases``,
    ``sd_over_cases`` (sample sd, ddof 1, ``wsbench.stats.mean_sd``; NaN with one case),
    ``median_over_cases``, ``n_cases`` used and ``n_nan`` left out.

    Core metrics are never NaN (empty policy); NaN can come from a plugin's metric.
    """
    keys = [k for k in dict.fromkeys(k for row in rows for k in row) if k != "z"]
    out: dict[str, dict[str, float]] = {}
    for key in keys:
        values = np.array([row[key] for row in rows if key in row], dtype=float)
        stats = mean_sd(values)
        finite = values[np.isfinite(values)]
        out[key] = {
            "mean_over_cases": stats.mean,
            "sd_over_cases": stats.sd,
            "median_over_cases": float(np.median(finite)) if finite.size else float("nan"),
            "n_cases": stats.n,
            "n_nan": int(values.size - stats.n),
        }
    return out


# ---------------------------------------------------------------------------
# Metric plugins


class CoreMetric(Metric):
    """A core metric: ``compute`` goes through ``compute_all`` so the empty policy holds."""

    citation: ClassVar[str] = TAHA_2015

    def compute(self, pred: np.ndarray, gt: np.ndarray, spacing: Sequence[float]) -> float:
        return compute_all(pred, gt, spacing, (self.name,))[self.name]


class Dice(CoreMetric):
    name = "dice"


class IoU(CoreMetric):
    name = "iou"


class Precision(CoreMetric):
    name = "precision"


class Recall(CoreMetric):
    name = "recall"


class Accuracy(CoreMetric):
    name = "accuracy"


class VolumetricSimilarity(CoreMetric):
    name = "vs"


class HD95(CoreMetric):
    name = "hd95"
    higher_is_better = False
    unit = "mm"
    citation = "95th percentile Hausdorff distance as in medpy.metric.binary.hd95"


class ASSD(CoreMetric):
    name = "assd"
    higher_is_better = False
    unit = "mm"
    citation = "average symmetric surface distance as in medpy.metric.binary.assd"


class AHD(CoreMetric):
    name = "ahd"
    higher_is_better = False
    unit = "mm"


METRIC_CLASSES: tuple[type[CoreMetric], ...] = (
    Dice,
    IoU,
    Precision,
    Recall,
    Accuracy,
    VolumetricSimilarity,
    HD95,
    ASSD,
    AHD,
)


@hookimpl
def wsbench_register_metrics() -> list[type]:
    return list(METRIC_CLASSES)
