"""The stages of one cell, as functions of plain values.

load split -> simulate weak labels -> pseudo-label -> train -> predict -> evaluate ->
write artefacts. Each stage takes what it needs (picklable job descriptions, arrays,
a registry to build plugins from) and returns values; none touches the results store,
prints, or keeps the registry. Cases come memory-mapped from the slice cache, so a
stage holds in memory only the slices it reads.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wsbench.api import (
    Case,
    Intensity,
    LabelContext,
    Labeler,
    PseudoLabel,
    Task,
    TrainContext,
    WeakCase,
    WeakLabel,
    check_pseudo_labels,
    check_weak_kind,
)
from wsbench.data.cache import SliceCache
from wsbench.data.check import check_finite
from wsbench.data.mapped import release
from wsbench.execution.jobs import CellJob, DataRef
from wsbench.grid import NATIVE
from wsbench.per_image import evaluate_images, evaluate_lesions
from wsbench.plugins import Registry
from wsbench.roi import Window, crop_array, crop_training, organ_windows, paste
from wsbench.weak.simulate import TEST_HINT_STREAM, native_weak, simulate_weak, weak_case

Progress = Callable[[str, int, int], None]


def _quiet(what: str, done: int, total: int) -> None:
    pass


# -- load split


def load_split(
    data: DataRef, part: str, registry: Registry, cache_dir: str | None
) -> tuple[list[Case], Task, Intensity]:
    """The cases of one split part (``train`` or ``test``), memory-mapped, with the task
    and the intensity transform."""
    dataset = data.plugin.build(registry, data_dir=data.data_dir)
    task = dataset.tasks()[data.target]
    cache = SliceCache(cache_dir)
    cases = []
    for info in data.split[part]:
        case = cache.get(dataset, info, task)
        cases.append(check_finite(case))  # NaN or inf voxels: the cell fails naming the file
        release(case.image)  # read once: out of the resident set (wsbench.data.mapped)
    return cases, task, dataset.intensity()


# -- simulate weak labels


def simulate_weak_labels(
    job: CellJob, cases: Sequence[Case], intensity: Intensity, registry: Registry
) -> list[WeakCase]:
    """The weak label of every training case: simulated (seeded) or shipped natively."""
    out = []
    if job.cell.protocol.startswith(NATIVE):
        kind = job.cell.protocol.split(":", 1)[1]
        for c in cases:
            out.append(weak_case(c, native_weak(c, kind), intensity))
            release(c.image, c.label, c.organ)
        return out
    assert job.protocol is not None
    protocol = job.protocol.build(registry)
    for c in cases:
        out.append(weak_case(c, simulate_weak(protocol, c, job.cell.seed), intensity))
        release(c.image, c.label, c.organ)
    return out


# -- pseudo-label


def pseudo_label(
    job: CellJob,
    weak: Sequence[WeakCase],
    classes: tuple[str, ...],
    registry: Registry,
    device: str,
    progress: Progress = _quiet,
) -> list[PseudoLabel]:
    return list(stream_pseudo_labels(job, weak, classes, registry, device, progress))


def stream_pseudo_labels(
    job: CellJob,
    weak: Sequence[WeakCase],
    classes: tuple[str, ...],
    registry: Registry,
    device: str,
    progress: Progress = _quiet,
) -> Iterator[PseudoLabel]:
    """The pseudo labels of ``weak``, in order, each checked as it comes. A labeler that
    keeps the default ``Labeler.label`` is run case by case (``label_case``), so only
    one pseudo label at a time is in memory; one that overrides ``label`` (it learns
    across cases) labels them all at once."""
    labeler = job.labeler.build(registry)
    segmenter = job.segmenter

    val = Validation(job, registry)
    ctx = LabelContext(
        device=device,
        seed=job.cell.seed,
        classes=classes,
        workdir=job.cell_dir / "work",
        progress=progress,
        validate=val.validator(labeler.multilabel),
        new_segmenter=lambda: segmenter.build(registry),
        val_cases=val.weak_cases,
        val_masks=lambda: val.masks(int(labeler.p.get("val_masks") or 0)),
    )
    check_weak_kind(labeler, weak)  # the one weak-kind check, before labelling
    if type(labeler).label is not Labeler.label:  # learns across cases: all at once
        pseudo = labeler.label(weak, ctx)
        # the contract (cases, grid, class range, finite weights, slices), before any caching
        check_pseudo_labels(pseudo, weak, labeler.name, len(classes))
        yield from pseudo
        return
    for case in weak:  # case by case: one pseudo label in memory at a time
        lab = labeler.label_case(case, ctx)
        check_pseudo_labels([lab], [case], labeler.name, len(classes))
        release(case.image)
        yield lab


def pseudo_quality(
    pseudo: Sequence[PseudoLabel], train: Sequence[Case], registry: Registry
) -> dict[str, float]:
    """Every registered overlap metric (dice, iou, precision, recall, accuracy, vs) of the
    pseudo masks against the training ground truth, on the labelled slices: per class
    (``iou/<class>``, mean over cases) and over classes; plus the pooled ``miou`` and
    ``pooled_dice`` of those slices."""
    from wsbench.metrics import OVERLAP_METRICS
    from wsbench.metrics.pooled import confusion_counts, pooled

    by_id = {c.id: c for c in train}
    registered = registry.classes("metric")
    metrics = {m: registered[m]() for m in OVERLAP_METRICS if m in registered}
    if not metrics:
        return {}
    per_class: dict[str, dict[str, list[float]]] = {m: {} for m in metrics}
    counts = []
    for p in pseudo:
        case = by_id.get(p.case_id)
        if case is None or case.label is None or len(p.slices) == 0:
            continue
        sl = np.asarray(p.slices)
        fg = _foreground(p, sl)
        gt = np.asarray(case.label[sl])
        for m, metric in metrics.items():
            for k, name in enumerate(case.classes, start=1):
                per_class[m].setdefault(name, []).append(
                    float(metric.compute(fg == k, gt == k, case.spacing))
                )
        counts.append(confusion_counts(fg, gt, case.classes))
        release(case.label, p.target)
    out: dict[str, float] = {}
    for m, classes in per_class.items():
        out.update({f"{m}/{k}": float(np.nanmean(v)) for k, v in classes.items()})
        if classes:
            out[m] = float(np.nanmean([out[f"{m}/{k}"] for k in classes]))
    if counts:
        pool = pooled(counts)
        out["miou"], out["pooled_dice"] = pool["miou"], pool["pooled_dice"]
    return out


def _foreground(p: PseudoLabel, sl: np.ndarray) -> np.ndarray:
    """The task-label map of the labelled slices only (argmax of multilabel targets)."""
    if not p.multilabel:
        return np.asarray(p.target[sl])
    target = np.asarray(p.target[:, sl])
    out = np.zeros(target.shape[1:], np.uint8)
    for c in range(target.shape[0]):
        out[target[c] > 0] = c + 1
    return out


# -- train


def train(
    job: CellJob,
    weak: Sequence[WeakCase],
    pseudo: Sequence[PseudoLabel],
    classes: tuple[str, ...],
    registry: Registry,
    device: str,
    progress: Progress = _quiet,
) -> tuple[Any, dict[str, Any]]:
    """Fit the cell's segmenter; save its checkpoint when the segmenter can. Returns the
    trained segmenter and its training log."""
    segmenter = job.segmenter.build(registry)
    multilabel = bool(pseudo[0].multilabel) if pseudo else False
    ctx = train_context(job, classes, device, progress, registry, multilabel)
    log = segmenter.fit(weak, pseudo, ctx) or {}
    if can_checkpoint(segmenter):
        job.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        tmp = job.checkpoint.with_name(f".{job.checkpoint.name}.tmp")
        segmenter.save(tmp)
        tmp.replace(job.checkpoint)
    return segmenter, log


def load_trained(job: CellJob, registry: Registry) -> Any:
    """The cell's segmenter from its saved checkpoint (predictions without retraining)."""
    segmenter = job.segmenter.build(registry)
    segmenter.load(job.checkpoint)
    return segmenter


def can_checkpoint(segmenter: Any) -> bool:
    from wsbench.api import Segmenter

    cls = type(segmenter)
    return cls.save is not Segmenter.save and cls.load is not Segmenter.load


def train_context(
    job: CellJob,
    classes: tuple[str, ...],
    device: str,
    progress: Progress,
    registry: Registry | None = None,
    multilabel: bool = False,
) -> TrainContext:
    """The segmenter's context; with ``registry``, ``validate`` on the validation split."""
    validate = Validation(job, registry).validator(multilabel) if registry is not None else None
    return TrainContext(
        device=device,
        seed=job.cell.seed,
        classes=classes,
        workdir=job.cell_dir / "work",
        progress=progress,
        validate=validate,
    )


# -- validation


VALIDATION_METRICS = ("dice", "iou")  # cheap overlap metrics: validate runs every epoch


class Validation:
    """The validation split of one cell, loaded on first use: weak labels for labelers, a
    budget of masks for labelers that declare one, and overlap scores of a model."""

    def __init__(self, job: CellJob, registry: Registry | None):
        self.job, self.registry = job, registry
        self._cases: list[Case] | None = None
        self._weak: list[WeakCase] | None = None
        self._intensity: Intensity | None = None

    @property
    def size(self) -> int:
        return len(self.job.data.split.get("val", ()))

    def cases(self) -> list[Case]:
        if self._cases is None:
            assert self.registry is not None
            self._cases, _, self._intensity = load_split(
                self.job.data, "val", self.registry, self.job.cache_dir
            )
        return self._cases

    def weak_cases(self) -> list[WeakCase]:
        """The validation cases' weak labels, simulated like the training ones."""
        if self._weak is None:
            cases = self.cases()
            assert self._intensity is not None and self.registry is not None
            self._weak = simulate_weak_labels(self.job, cases, self._intensity, self.registry)
        return self._weak

    def masks(self, budget: int) -> list[tuple[WeakCase, np.ndarray]]:
        """Full label maps of the first ``budget`` validation cases (by case id)."""
        if budget <= 0 or not self.size:
            return []
        weak = self.weak_cases()
        chosen = sorted(zip(self.cases(), weak), key=lambda cw: cw[0].id)[:budget]
        return [(w, np.asarray(c.label)) for c, w in chosen if c.label is not None]

    def validator(self, multilabel: bool) -> Callable[[Any], dict[str, float]] | None:
        if not self.size or self.registry is None:
            return None
        return lambda model: self.score(model, multilabel)

    def score(self, model: Any, multilabel: bool) -> dict[str, float]:
        """Mean overlap metrics of ``model`` over the validation cases (per class too)."""
        from wsbench.metrics import compute_classes

        assert self.registry is not None
        metric_classes = self.registry.classes("metric")
        metrics = [metric_classes[m]() for m in VALIDATION_METRICS if m in metric_classes]
        ctx = TrainContext("cpu", self.job.cell.seed, (), self.job.cell_dir / "work")
        per_case = []
        for case in self.cases():
            if case.label is None:
                continue
            assert self._intensity is not None
            hint = hint_for(self.job, case, self.registry)
            pred = predict(model, case, self._intensity, multilabel, ctx, hint)
            per_case.append(
                compute_classes(pred, np.asarray(case.label), case.spacing, case.classes, metrics)
            )
        out = aggregate(per_case)
        return {k: v for k, v in out.items() if not k.startswith(("missed/", "spurious/"))}


# -- predict and evaluate


def hint_for(job: CellJob, case: Case, registry: Registry) -> WeakLabel | None:
    """A guided segmenter's hint for one test case: the dataset's own weak label of the
    declared kind, or that kind simulated on the test case in its own seed stream (never
    the training weak labels' stream). None for segmenters without ``test_hint``."""
    if job.hint_source is None or job.hint_kind is None:
        return None
    if job.hint_source.startswith(NATIVE):
        return native_weak(case, job.hint_kind)
    assert job.hint_protocol is not None
    protocol = job.hint_protocol.build(registry)
    return simulate_weak(protocol, case, job.cell.seed, TEST_HINT_STREAM)


def predict(
    segmenter: Any,
    case: Case,
    intensity: Intensity,
    multilabel: bool,
    ctx: TrainContext,
    hint: WeakLabel | None = None,
    window: Window | None = None,
) -> np.ndarray:
    """One test case's label map. ``spacing`` goes to segmenters whose ``predict`` takes
    it (coronal and sagittal slicing resamples), ``hint`` to guided segmenters. With an
    organ-ROI ``window`` the segmenter sees the window and the prediction is pasted back
    into the full grid."""
    kwargs: dict[str, Any] = {}
    accepted = _keywords(type(segmenter).predict)
    if "spacing" in accepted:
        kwargs["spacing"] = case.spacing
    if hint is not None:
        kwargs["hint"] = hint
    image = case.image if window is None else crop_array(case.image, window)
    probs = segmenter.predict(image, intensity, ctx, **kwargs)
    release(case.image)
    pred = to_label_map(probs, multilabel)
    return pred if window is None else paste(pred, window)


# -- Fan et al. 2022's protocol and the cascade's organ ROI (dataset parameters)


def _dataset_params(job: CellJob) -> Mapping[str, Any]:
    return job.data.plugin.config.get("params") or {}


def evaluation(job: CellJob) -> str:
    """``volume`` (3D, the default), ``images`` (each 2D test image with target) or
    ``lesions`` (each lesion on those images)."""
    return str(_dataset_params(job).get("evaluate", "volume"))


def roi_windows(job: CellJob, cases: Sequence[Case]) -> dict[str, Window]:
    """Case id -> organ window when the dataset asks for ``roi=organ``, else empty."""
    params = _dataset_params(job)
    if params.get("roi", "none") != "organ" or not cases:
        return {}
    windows = organ_windows(cases, int(params.get("roi_margin", 4)))
    return {c.id: w for c, w in zip(cases, windows)}


def roi_training(
    job: CellJob,
    train: Sequence[Case],
    weak: Sequence[WeakCase],
    pseudo: Sequence[PseudoLabel],
    prov: dict[str, Any],
) -> tuple[Sequence[WeakCase], Sequence[PseudoLabel]]:
    """The segmenter's training input: cut to the organ windows under ``roi=organ`` (the
    labeler has seen whole slices); the windows go into provenance."""
    windows = roi_windows(job, train)
    if not windows:
        return weak, pseudo
    pairs = [crop_training(c, p, windows[c.id]) for c, p in zip(weak, pseudo, strict=True)]
    prov["roi"] = {cid: w.as_dict() for cid, w in windows.items()}
    return [c for c, _ in pairs], [p for _, p in pairs]


def image_scores(
    pred: np.ndarray, case: Case, registry: Registry, mode: str = "images"
) -> list[dict[str, Any]]:
    """``per_case`` entries, one per 2D test image with target (``evaluate=images``) or
    one per lesion on those images (``evaluate=lesions``)."""
    from wsbench.metrics import compute_classes

    metrics = [cls() for cls in registry.classes("metric").values()]
    units = evaluate_lesions if mode == "lesions" else evaluate_images
    return units(pred, case, lambda p, g, s: compute_classes(p, g, s, case.classes, metrics))


@functools.lru_cache(maxsize=64)
def _keywords(fn: Callable[..., Any]) -> frozenset[str]:
    params = inspect.signature(fn).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return frozenset({"spacing", "hint"})
    return frozenset(p.name for p in params)


def to_label_map(probs: np.ndarray, multilabel: bool, threshold: float = 0.5) -> np.ndarray:
    """Softmax (K+1, ...) -> argmax; sigmoid (K, ...) -> most likely class above threshold."""
    if not multilabel:
        return probs.argmax(0).astype(np.uint8)
    best = probs.argmax(0)
    return np.where(probs.max(0) > threshold, best + 1, 0).astype(np.uint8)


def evaluate_case(pred: np.ndarray, case: Case, registry: Registry) -> dict[str, float]:
    """Every registered metric per class (``name/class``) and their class mean (``name``)."""
    from wsbench.metrics import compute_classes

    metrics = [cls() for cls in registry.classes("metric").values()]
    return compute_classes(pred, np.asarray(case.label), case.spacing, case.classes, metrics)


def case_scores(pred: np.ndarray, case: Case, registry: Registry) -> dict[str, Any]:
    """A ``per_case`` entry: case and patient ids, the metrics, and positivity if known."""
    from wsbench.metrics.pooled import CONFUSION, confusion_counts

    out: dict[str, Any] = {"case": case.id, "patient": case.patient}
    out.update(evaluate_case(pred, case, registry))
    release(case.label)
    if "positive" in case.meta:
        out["positive"] = bool(case.meta["positive"])
    # per-class [tp, fp, fn], background included: what pooled metrics (miou) sum
    out[CONFUSION] = confusion_counts(pred, np.asarray(case.label), case.classes)
    return out


def aggregate(per_case: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Means over cases of every numeric metric (NaN excluded); ``@pos`` over positive
    cases; and the dataset-pooled metrics (``miou``, ``pooled_dice``) where the cases carry
    confusion counts (see ``wsbench.metrics.pooled``)."""
    from wsbench.metrics.pooled import pooled_subsets

    out: dict[str, float] = {}
    keys = [k for k, v in (per_case[0].items() if per_case else ()) if isinstance(v, float)]
    for subset, suffix in ((per_case, ""), ([c for c in per_case if c.get("positive")], "@pos")):
        if suffix and not any("positive" in c for c in per_case):
            continue
        for k in keys:
            vals = [c[k] for c in subset if math.isfinite(c.get(k, float("nan")))]
            out[k + suffix] = float(np.mean(vals)) if vals else float("nan")
            if len(vals) < len(subset):  # undefined values (e.g. a distance to an empty mask)
                out[f"{k}{suffix}_n_nan"] = float(len(subset) - len(vals))
    out.update(pooled_subsets(per_case))
    return out


# -- write artefacts


def write_artefacts(
    cell_dir: Path,
    per_case: list[dict[str, Any]],
    metrics: dict[str, float],
    extra: dict[str, Any],
) -> Path:
    """``summary.json`` last: its presence says the cell's artefacts are complete."""
    from wsbench.outputs import write_summary

    return write_summary(cell_dir, per_case, metrics, extra)


def artefacts_missing(job: CellJob, checkpointed: bool) -> list[str]:
    """What of a finished cell's artefacts is gone: ``summary.json``, ``predictions/``
    (one file per test case), ``model.pt`` (for segmenters that save checkpoints)."""
    missing = []
    if checkpointed and not job.checkpoint.exists():
        missing.append("model.pt")
    preds = job.cell_dir / "predictions"
    want = {f"{info.id}.nii.gz" for info in job.data.split["test"]}
    have = {p.name for p in preds.glob("*.nii.gz")} if preds.is_dir() else set()
    if not want <= have:
        missing.append("predictions/")
    if not (job.cell_dir / "summary.json").exists():
        missing.append("summary.json")
    return missing
