"""Runs a grid: weak labels -> pseudo labels (cached) -> training -> prediction -> metrics.

The runner computes and does not print: it reports progress to a ``Reporter`` (the
CLI passes one that draws rich progress bars) and stores each finished cell in the
results store at once. A failing cell is stored as failed with its error and the
grid goes on; a re-run skips cells that are already finished.
"""

from __future__ import annotations

import math
import platform
import subprocess
import time
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

import wsbench
from wsbench.api import (
    Case,
    Dataset,
    Intensity,
    LabelContext,
    PseudoLabel,
    Task,
    TrainContext,
    WeakCase,
    check_weak_kind,
)
from wsbench.data.check import check_finite
from wsbench.data.splits import split_dataset, split_hash
from wsbench.errors import DataError, WsbenchError
from wsbench.grid import NATIVE, Cell, Plan, RunSpec, instantiate, plan
from wsbench.outputs import write_overlay, write_prediction, write_summary
from wsbench.params import stable_hash
from wsbench.plugins import Registry
from wsbench.pseudo_cache import PseudoLabelCache
from wsbench.store import Store
from wsbench.weak.simulate import native_weak, simulate_weak, weak_case

__all__ = ["Reporter", "RunSpec", "run_grid", "run_plan", "evaluate_case"]


class Reporter:
    """Progress callbacks; the default does nothing. ``task`` returns an update function."""

    def grid_started(self, total: int) -> None: ...

    def cell_started(self, cell: Cell) -> None: ...

    def cell_finished(self, cell: Cell, record: dict[str, Any]) -> None: ...

    def skipped(self, what: str, why: str) -> None: ...

    @contextmanager
    def task(self, description: str, total: int | None = None) -> Iterator[Any]:
        yield lambda what, done, total: None


@dataclass
class PreparedData:
    """A dataset loaded once per grid: its task, split and cases."""

    dataset: Dataset
    task: Task
    intensity: Intensity
    fingerprint: str
    split_hash: str
    train: list[Case]
    test: list[Case]
    sizes: dict[str, int] = field(default_factory=dict)


def run_grid(
    spec: RunSpec, registry: Registry, reporter: Reporter | None = None
) -> list[dict[str, Any]]:
    """Plan and run ``spec``; return one record per cell (finished, failed or resumed)."""
    return run_plan(plan(spec, registry), spec, registry, reporter)


def run_plan(
    the_plan: Plan, spec: RunSpec, registry: Registry, reporter: Reporter | None = None
) -> list[dict[str, Any]]:
    reporter = reporter or Reporter()
    out = Path(spec.out)
    out.mkdir(parents=True, exist_ok=True)
    for what, why in the_plan.skipped:
        reporter.skipped(what, why)
    device = _device(spec.device)
    cache = PseudoLabelCache(out / "cache" / "pseudo")
    prepared: dict[str, PreparedData] = {}
    records: list[dict[str, Any]] = []
    reporter.grid_started(len(the_plan.cells))
    with Store(out / "results.sqlite") as store:
        for cell in the_plan.cells:
            done = store.get(cell.id) if spec.resume else None
            if done is not None and done["status"] == "done":
                done["resumed"] = True
                records.append(done)
                reporter.cell_finished(cell, done)
                continue
            reporter.cell_started(cell)
            started = time.perf_counter()
            try:
                key = stable_hash(
                    [cell.dataset, cell.target, dict(cell.params_for("dataset", cell.dataset))]
                )
                if key not in prepared:
                    with reporter.task(f"loading {cell.dataset}"):
                        prepared[key] = prepare(cell, spec, registry)
                record = run_cell(cell, prepared[key], spec, registry, cache, device, reporter)
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:  # isolate: store the failure and go on
                record = _base_record(cell, spec, registry, device)
                record.update(
                    status="failed",
                    error=_one_line(exc),
                    provenance={**record["provenance"], "traceback": traceback.format_exc(limit=6)},
                )
            record["wall_s"] = round(time.perf_counter() - started, 3)
            record["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
            store.put(record)
            registry.cell_finished(cell, record)
            reporter.cell_finished(cell, record)
            records.append(record)
    return records


def prepare(cell: Cell, spec: RunSpec, registry: Registry) -> PreparedData:
    """Load a dataset's cases once: patient-level split, task-encoded labels."""
    dataset = instantiate(
        registry.get("dataset", cell.dataset),
        spec,
        cell.params_for("dataset", cell.dataset),
        data_dir=spec.data_dir,
    )
    task = dataset.tasks()[cell.target]
    infos = dataset.list_cases()
    splits = split_dataset(dataset)
    if not splits["train"] or not splits["test"]:
        raise DataError(
            f"dataset {dataset.name!r} has {len(infos)} case(s), too few for a train and a test "
            "split; add cases or use a larger phantom (--set synthetic.n_patients=8)"
        )
    train = [dataset.load_case(i, task) for i in splits["train"]]
    test = [dataset.load_case(i, task) for i in splits["test"]]
    for case in (*train, *test):
        check_finite(case)  # NaN or infinite voxels: the cell fails naming file and count
    return PreparedData(
        dataset=dataset,
        task=task,
        intensity=dataset.intensity(),
        fingerprint=dataset.fingerprint(),
        split_hash=split_hash(splits),
        train=train,
        test=test,
        sizes={k: len(v) for k, v in splits.items()},
    )


def run_cell(
    cell: Cell,
    data: PreparedData,
    spec: RunSpec,
    registry: Registry,
    cache: PseudoLabelCache,
    device: str,
    reporter: Reporter,
) -> dict[str, Any]:
    record = _base_record(cell, spec, registry, device)
    prov = record["provenance"]
    cell_dir = Path(spec.out) / cell.dataset / cell.id
    labeler = instantiate(
        registry.get("labeler", cell.labeler), spec, cell.params_for("labeler", cell.labeler)
    )
    seg_cls = registry.get("segmenter", cell.segmenter)
    seg_over = cell.params_for("segmenter", cell.segmenter)

    def new_segmenter():
        return instantiate(seg_cls, spec, seg_over)

    segmenter = new_segmenter()
    weak_cases, proto_cfg = weak_labels(cell, data, spec, registry)
    prov.update(
        protocol=proto_cfg,
        labeler=labeler.config,
        segmenter=segmenter.config,
        dataset={
            **data.dataset.config,
            "fingerprint": data.fingerprint,
            "split_hash": data.split_hash,
            "split_sizes": data.sizes,
        },
    )

    cache_key = cache.key(
        {
            "dataset": data.fingerprint,
            "split": data.split_hash,
            "target": cell.target,
            "protocol": proto_cfg,
            "seed": cell.seed,
            "labeler": labeler.config,
            "segmenter": segmenter.config if labeler.uses_segmenter else None,
        }
    )
    workdir = cell_dir / "work"
    check_weak_kind(labeler, weak_cases)  # house: the one weak-kind check, before labelling
    pseudo = cache.get(cache_key)
    prov["pseudo_cache"] = {"key": cache_key, "hit": pseudo is not None}
    if pseudo is None:
        with reporter.task(f"labelling with {cell.labeler}", len(weak_cases)) as progress:
            ctx = LabelContext(
                device=device,
                seed=cell.seed,
                classes=data.task.classes,
                workdir=workdir,
                progress=progress,
                new_segmenter=new_segmenter,
            )
            t0 = time.perf_counter()
            pseudo = labeler.label(weak_cases, ctx)
            prov["pseudo_cache"]["label_s"] = round(time.perf_counter() - t0, 3)
        _check_pseudo(pseudo, weak_cases, labeler.name)
        cache.put(cache_key, pseudo, {"cell": cell.id, "labeler": labeler.config})
    record["pseudo"] = pseudo_quality(pseudo, data.train, registry)

    with reporter.task(f"training {cell.segmenter}") as progress:
        ctx = TrainContext(
            device=device,
            seed=cell.seed,
            classes=data.task.classes,
            workdir=workdir,
            progress=progress,
        )
        log = segmenter.fit(weak_cases, pseudo, ctx)
    prov["train_log"] = {k: v for k, v in (log or {}).items() if k in ("loss", "epochs", "seconds")}

    per_case, pseudo_by_id = [], {p.case_id: p for p in pseudo}
    with reporter.task("predicting", len(data.test)) as progress:
        for i, case in enumerate(data.test):
            probs = segmenter.predict(case.image, data.intensity, ctx)
            pred = to_label_map(probs, multilabel=pseudo[0].multilabel)
            write_prediction(cell_dir, case, pred)
            if i < 2:
                write_overlay(cell_dir, case, data.intensity, pred)
            if case.label is not None:
                per_case.append(
                    {
                        "case": case.id,
                        "patient": case.patient,
                        **evaluate_case(pred, case, registry),
                        **(
                            {"positive": bool(case.meta["positive"])}
                            if "positive" in case.meta
                            else {}
                        ),
                    }
                )
            progress("predicting", i + 1, len(data.test))
    train_case = data.train[0]
    if train_case.id in pseudo_by_id:
        write_overlay(
            cell_dir / "train",
            train_case,
            data.intensity,
            pseudo=pseudo_by_id[train_case.id].foreground(),  # house: drawn as "pseudo label"
            max_slices=2,
        )
    record["metrics"] = aggregate(per_case)
    record["per_case"] = per_case
    record["status"] = "done"
    write_summary(
        cell_dir,
        per_case,
        record["metrics"],
        {"cell": cell.key, "pseudo": record["pseudo"], "provenance": prov},
    )
    return record


def weak_labels(
    cell: Cell, data: PreparedData, spec: RunSpec, registry: Registry
) -> tuple[list[WeakCase], dict[str, Any]]:
    """The weak label of every training case: simulated (seeded) or shipped natively."""
    if cell.protocol.startswith(NATIVE):
        kind = cell.protocol.split(":", 1)[1]
        cfg = {"name": cell.protocol, "version": data.dataset.version, "params": {}}
        return [weak_case(c, native_weak(c, kind), data.intensity) for c in data.train], cfg
    protocol = instantiate(
        registry.get("protocol", cell.protocol), spec, cell.params_for("protocol", cell.protocol)
    )
    cfg = {**protocol.config, "hash": protocol.config_hash}
    cases = [
        weak_case(c, simulate_weak(protocol, c, cell.seed), data.intensity) for c in data.train
    ]
    return cases, cfg


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
    return compute_classes(pred, case.label, case.spacing, case.classes, metrics)


def aggregate(per_case: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Means over cases of every numeric metric (NaN excluded); ``@pos`` over positive cases."""
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
    return out


def pseudo_quality(
    pseudo: Sequence[PseudoLabel], train: Sequence[Case], registry: Registry
) -> dict[str, float]:
    """Dice of pseudo masks against the training ground truth, on the labelled slices."""
    by_id = {c.id: c for c in train}
    dice_cls = registry.classes("metric").get("dice")
    if dice_cls is None:
        return {}
    dice = dice_cls()
    per_class: dict[str, list[float]] = {}
    for p in pseudo:
        case = by_id.get(p.case_id)
        if case is None or case.label is None or len(p.slices) == 0:
            continue
        fg, gt = p.foreground()[p.slices], case.label[p.slices]
        for k, name in enumerate(case.classes, start=1):
            per_class.setdefault(name, []).append(
                float(dice.compute(fg == k, gt == k, case.spacing))
            )
    out = {f"dice/{k}": float(np.nanmean(v)) for k, v in per_class.items()}
    if per_class:
        out["dice"] = float(np.nanmean([out[f"dice/{k}"] for k in per_class]))
    return out


def _check_pseudo(pseudo: Sequence[PseudoLabel], cases: Sequence[WeakCase], name: str) -> None:
    if len(pseudo) != len(cases):
        raise WsbenchError(
            f"labeler {name!r} returned {len(pseudo)} pseudo labels for "
            f"{len(cases)} training cases; return one per case"
        )
    for p, c in zip(pseudo, cases):
        spatial = p.target.shape[1:] if p.multilabel else p.target.shape
        if tuple(spatial) != tuple(c.image.shape) or p.weight.shape != p.target.shape:
            raise WsbenchError(
                f"labeler {name!r}: pseudo label of case {c.id} has shape {p.target.shape} and "
                f"weight {p.weight.shape}, but the image is {c.image.shape}; "
                "return full-volume maps"
            )


def _base_record(cell: Cell, spec: RunSpec, registry: Registry, device: str) -> dict[str, Any]:
    versions = {}
    for kind, name in (
        ("dataset", cell.dataset),
        ("labeler", cell.labeler),
        ("segmenter", cell.segmenter),
        ("protocol", cell.protocol),
    ):
        try:
            cls = registry.get(kind, name)
            versions[kind] = {
                "name": name,
                "version": cls.version,
                "package": registry.source(kind, name),
            }
        except WsbenchError:
            versions[kind] = {"name": name, "version": None}
    return {
        "id": cell.id,
        "dataset": cell.dataset,
        "target": cell.target,
        "protocol": cell.protocol,
        "labeler": cell.labeler,
        "segmenter": cell.segmenter,
        "seed": cell.seed,
        "sweep": dict(cell.sweep),
        "status": "running",
        "error": None,
        "metrics": {},
        "per_case": [],
        "pseudo": {},
        "provenance": {
            "wsbench": wsbench.__version__,
            "plugins": versions,
            "profile": spec.profile,
            "overrides": {k: dict(v) for k, v in cell.overrides.items()},
            "seed": cell.seed,
            "device": device,
            "git_sha": git_sha(),
            "python": platform.python_version(),
            "torch": _torch_version(),
        },
    }


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text if isinstance(exc, WsbenchError) else f"{type(exc).__name__}: {text}"


def _device(requested: str) -> str:
    from wsbench.training.device import select_device

    return str(select_device(requested))


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
            sha = subprocess.run(
                ["git", "rev-parse", "HEAD"],
                cwd=Path(wsbench.__file__).parent,
                capture_output=True,
                text=True,
                timeout=5,
                check=True,
            ).stdout.strip()
            dirty = subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=Path(wsbench.__file__).parent,
                capture_output=True,
                text=True,
                timeout=5,
            ).stdout.strip()
            _GIT_SHA.append(sha + ("-dirty" if dirty else ""))
        except (OSError, subprocess.SubprocessError):
            _GIT_SHA.append(None)
    return _GIT_SHA[0]
