"""What runs in a worker: label a group, or run one cell from its first needed stage.

Both functions take picklable values and return picklable values (``LabelResult``,
``CellRecord``); events go to ``sink``. They catch every error of the work they do:
a failing cell comes back as a failed record, never as an exception.
"""

from __future__ import annotations

import platform
import subprocess
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import wsbench
from wsbench.errors import WsbenchError
from wsbench.execution import stages
from wsbench.execution.events import Event, Sink, no_events
from wsbench.execution.jobs import CellJob, LabelGroup, RegistrySpec, WorkerEnv
from wsbench.execution.record import CellRecord
from wsbench.plugins import Registry
from wsbench.pseudo_cache import DamagedCacheEntry, PseudoLabelCache


@dataclass
class LabelResult:
    """A group's pseudo labels: where they are (the cache key), their quality, and how
    long labelling took (0 on a cache hit). ``error`` fails every cell of the group."""

    key: str
    hit: bool = False
    label_s: float = 0.0
    quality: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    traceback: str = ""
    notes: list[str] = field(default_factory=list)
    ready: bool = False  # the entry exists and was verified (False: the group skipped labelling)


_REGISTRIES: dict[RegistrySpec, Registry] = {}


def worker_registry(env: WorkerEnv) -> Registry:
    """This process's registry, built once from entry points (and the driver's extras)."""
    if env.registry not in _REGISTRIES:
        _REGISTRIES[env.registry] = env.registry.build()
    return _REGISTRIES[env.registry]


def set_threads(threads: int) -> None:
    if threads > 0:
        import torch

        torch.set_num_threads(threads)


# -- label groups


def run_label(
    group: LabelGroup, env: WorkerEnv, registry: Registry | None = None, sink: Sink = no_events
) -> LabelResult:
    """Label a group once (or find its labels in the cache)."""
    job = group.jobs[0]
    result = LabelResult(key=group.key)
    if all(j.resume_from == "predict" for j in group.jobs):
        return result  # every cell only lacks predictions: no labels needed
    registry = registry or worker_registry(env)
    try:
        result = ensure_pseudo(job, env, registry, sink)[0]
    except Exception as exc:
        result.error = one_line(exc)
        result.traceback = traceback.format_exc(limit=6)
    return result


def ensure_pseudo(
    job: CellJob,
    env: WorkerEnv,
    registry: Registry,
    sink: Sink,
    verify: bool = True,
    quality: bool = True,
):
    """The cell's pseudo labels from the verified cache, else labelled now and stored.
    Returns (LabelResult, pseudo labels, training cases, weak cases, task)."""
    cache = PseudoLabelCache(Path(job.out) / "cache" / "pseudo")
    result = LabelResult(key=job.pseudo_key)

    def emit(kind: str, stage: str, message: str = "", done: int = 0, total: int = 0) -> None:
        sink(Event(kind, job.id, job.title, stage, env.name, done, total, message))

    emit("stage", "load")
    train, task, intensity = stages.load_split(job.data, "train", registry, job.cache_dir)
    pseudo = None
    try:
        pseudo = cache.get(job.pseudo_key, verify=verify)
    except DamagedCacheEntry as exc:
        note = f"{exc}; deleted it, labelling again"
        result.notes.append(note)
        emit("warning", "label", note)
        cache.discard(job.pseudo_key)
    weak = stages.simulate_weak_labels(job, train, intensity, registry)
    if pseudo is None:
        emit("stage", "label")
        t0 = time.perf_counter()
        labels = stages.stream_pseudo_labels(  # each written to the cache as it comes
            job,
            weak,
            task.classes,
            registry,
            env.device,
            lambda what, done, total: emit("progress", "label", what, done, total),
        )
        cache.put(job.pseudo_key, labels, {"cell": job.id, "labeler": dict(job.labeler.config)})
        result.label_s = round(time.perf_counter() - t0, 3)  # labelling and writing
        del labels
        pseudo = cache.get(job.pseudo_key, verify=False)  # memory-mapped from now on
        assert pseudo is not None
    else:
        result.hit = True
    result.ready = True
    if quality:
        result.quality = stages.pseudo_quality(pseudo, train, registry)
    return result, pseudo, train, weak, task


# -- cells


def run_cell(
    job: CellJob,
    label: LabelResult | None,
    env: WorkerEnv,
    registry: Registry | None = None,
    sink: Sink = no_events,
) -> CellRecord:
    """Train (unless a checkpoint is enough), predict, evaluate and write one cell."""
    started = time.perf_counter()
    record = base_record(job, env)
    try:
        if label is not None and label.error is not None:
            raise _GroupFailed(label.error, label.traceback)
        registry = registry or worker_registry(env)
        _run_stages(job, label, env, registry, sink, record)
        record.status = "done"
    except Exception as exc:  # isolate: the record carries the failure
        record.status = "failed"
        record.error = one_line(exc)
        tb = exc.tb if isinstance(exc, _GroupFailed) else traceback.format_exc(limit=6)
        record.provenance["traceback"] = tb
    record.wall_s = round(time.perf_counter() - started, 3)
    record.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
    return record


def _run_stages(
    job: CellJob,
    label: LabelResult | None,
    env: WorkerEnv,
    registry: Registry,
    sink: Sink,
    record: CellRecord,
) -> None:
    def emit(kind: str, stage: str, message: str = "", done: int = 0, total: int = 0) -> None:
        sink(Event(kind, job.id, job.title, stage, env.name, done, total, message))

    prov = record.provenance
    labeler_cls = registry.get("labeler", job.cell.labeler)
    if job.resume_from == "predict" and job.checkpoint.exists():
        emit("stage", "load checkpoint")
        segmenter = stages.load_trained(job, registry)
        prov["restored_from"] = str(job.checkpoint)
        multilabel = bool(labeler_cls.multilabel)
    else:
        # the label group verified the entry; a damaged or missing one is relabelled here
        grouped = label is not None and label.ready
        result, pseudo, train, weak, task = ensure_pseudo(
            job, env, registry, sink, verify=not grouped, quality=not grouped
        )
        if grouped and not result.notes:  # labelled by the group (unless relabelled here)
            result.label_s, result.hit, result.quality = label.label_s, label.hit, label.quality
            result.notes = label.notes
        record.pseudo = result.quality
        prov["pseudo_cache"] = {"key": job.pseudo_key, "hit": result.hit, "label_s": result.label_s}
        if result.notes:
            prov["pseudo_cache"]["notes"] = result.notes
        emit("stage", "train")
        fit_weak, fit_pseudo = stages.roi_training(job, train, weak, pseudo, prov)
        segmenter, log = stages.train(
            job,
            fit_weak,
            fit_pseudo,
            task.classes,
            registry,
            env.device,
            lambda what, done, total: emit("progress", "train", what, done, total),
        )
        prov["train_log"] = {
            k: v for k, v in log.items() if k in ("loss", "epochs", "steps", "seconds", "rounds")
        }
        multilabel = bool(pseudo[0].multilabel) if pseudo else bool(labeler_cls.multilabel)
        _train_overlay(job, train, weak, pseudo)
        del pseudo, train, weak, fit_weak, fit_pseudo
    if stages.can_checkpoint(segmenter):
        prov["checkpoint"] = str(job.checkpoint)

    emit("stage", "predict")
    test, task, intensity = stages.load_split(job.data, "test", registry, job.cache_dir)
    ctx = stages.train_context(job, task.classes, env.device, lambda *a: None)
    per_case = []
    from wsbench.outputs import write_overlay, write_prediction

    if job.hint_source is not None:  # a guided segmenter: marked on the leaderboard
        prov["guided"] = {"kind": job.hint_kind, "source": job.hint_source}
    windows = stages.roi_windows(job, test)
    mode = prov["evaluation"] = stages.evaluation(job)
    per_image = mode in ("images", "lesions")
    for i, case in enumerate(test):
        hint = stages.hint_for(job, case, registry)
        window = windows.get(case.id)
        pred = stages.predict(segmenter, case, intensity, multilabel, ctx, hint, window)
        write_prediction(job.cell_dir, case, pred)
        if i < 2:
            write_overlay(job.cell_dir, case, intensity, pred)
        if case.label is not None and per_image:
            per_case += stages.image_scores(pred, case, registry, mode)
        elif case.label is not None:
            per_case.append(stages.case_scores(pred, case, registry))
        emit("progress", "predict", "predict", i + 1, len(test))
    record.metrics = stages.aggregate(per_case)
    record.per_case = per_case
    emit("stage", "write")
    stages.write_artefacts(
        job.cell_dir,
        per_case,
        record.metrics,
        {"cell": job.cell.key, "id": job.id, "pseudo": record.pseudo, "provenance": prov},
    )


def _train_overlay(job: CellJob, train: list, weak: list, pseudo: list) -> None:
    """A training case's pseudo label beside its ground truth, for the gallery."""
    from wsbench.outputs import write_overlay

    by_id = {p.case_id: p for p in pseudo}
    if train and weak and train[0].id in by_id:
        write_overlay(
            job.cell_dir / "train",
            train[0],
            weak[0].intensity,
            pseudo=by_id[train[0].id].foreground(),  # drawn as "pseudo label"
            max_slices=2,
        )


class _GroupFailed(WsbenchError):
    def __init__(self, message: str, tb: str):
        super().__init__(message)
        self.tb = tb


def base_record(job: CellJob, env: WorkerEnv) -> CellRecord:
    cell = job.cell
    versions = {
        ref.kind: {"name": ref.name, "version": ref.config.get("version"), "package": ref.package}
        for ref in (job.data.plugin, job.protocol, job.labeler, job.segmenter)
        if ref is not None
    }
    identity = job.identity
    # full validation masks spent on tuning, as the labeler and the segmenter declare them
    budgets = {
        ref.kind: int((ref.config.get("params") or {}).get("val_masks") or 0)
        for ref in (job.labeler, job.segmenter)
        if ref is not None
    }
    budget = sum(budgets.values())
    return CellRecord(
        id=job.id,
        config_id=job.config_id,
        dataset=cell.dataset,
        target=cell.target,
        protocol=cell.protocol,
        labeler=cell.labeler,
        segmenter=cell.segmenter,
        seed=cell.seed,
        sweep=dict(cell.sweep),
        provenance={
            "wsbench": wsbench.__version__,
            "plugins": versions,
            "profile": identity["profile"],
            "overrides": {k: dict(v) for k, v in cell.overrides.items()},
            "seed": cell.seed,
            "device": env.device,
            "worker": env.name,
            "git_sha": git_sha(),
            "python": platform.python_version(),
            "torch": _torch_version(),
            "identity": identity,
            "protocol": identity["protocol"],
            "labeler": identity["labeler"],
            "segmenter": identity["segmenter"],
            "dataset": {
                **identity["dataset"]["config"],
                "fingerprint": job.data.fingerprint,
                "split_hash": job.data.split_hash,
                "split_sizes": job.data.sizes,
            },
            # the declared budgets (#11), added: an upper bound where both used the same masks
            **(
                {"val_masks": budget, "val_masks_by": {k: n for k, n in budgets.items() if n}}
                if budget > 0
                else {}
            ),
        },
    )


def failed_record(job: CellJob, env: WorkerEnv, error: str, wall_s: float = 0.0) -> CellRecord:
    """A failure the driver records for a cell whose worker could not report (it died)."""
    record = base_record(job, env)
    record.status, record.error, record.wall_s = "failed", error, round(wall_s, 3)
    record.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
    return record


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text if isinstance(exc, WsbenchError) else f"{type(exc).__name__}: {text}"


def _torch_version() -> str | None:
    try:
        import torch

        return torch.__version__
    except ImportError:  # pragma: no cover - torch is a dependency
        return None


_GIT_SHA: list[str | None] = []


def git_sha() -> str | None:
    """The commit of the wsbench source tree, when it is a git checkout."""
    if not _GIT_SHA:
        try:
            where = Path(wsbench.__file__).parent
            sha = subprocess.run(
                ["git", "rev-parse", "HEAD"],
                cwd=where,
                capture_output=True,
                text=True,
                timeout=5,
                check=True,
            ).stdout.strip()
            dirty = subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=where,
                capture_output=True,
                text=True,
                timeout=5,
            ).stdout.strip()
            _GIT_SHA.append(sha + ("-dirty" if dirty else ""))
        except (OSError, subprocess.SubprocessError):
            _GIT_SHA.append(None)
    return _GIT_SHA[0]
