"""Picklable descriptions of the work: what a worker needs to rebuild a cell anywhere.

The driver resolves every cell once (plugin parameters after profile and overrides,
plugin versions, dataset fingerprint, split) and hands workers these plain values; a
worker rebuilds the plugins from its own registry. Nothing here holds pixels.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import wsbench
from wsbench.api import CaseInfo
from wsbench.data.splits import split_dataset, split_hash
from wsbench.errors import DataError
from wsbench.grid import NATIVE, Cell, RunSpec, instantiate, segmenter_params
from wsbench.params import stable_hash
from wsbench.plugins import Registry, load_registry


@dataclass(frozen=True)
class PluginRef:
    """A plugin to instantiate: registry kind and name, profile, the user's overrides,
    and its resolved ``config`` (name, version, params) for identity and provenance."""

    kind: str
    name: str
    profile: str
    overrides: Mapping[str, Any]
    config: Mapping[str, Any]
    package: str = "?"

    def build(self, registry: Registry, **kw: Any) -> Any:
        cls = registry.get(self.kind, self.name)
        return cls(profile=self.profile, **kw, **dict(self.overrides))


@dataclass(frozen=True)
class DataRef:
    """A dataset configuration with its fingerprint and patient-level split."""

    plugin: PluginRef
    data_dir: str | None
    target: str
    fingerprint: str
    split: Mapping[str, tuple[CaseInfo, ...]]

    @property
    def split_hash(self) -> str:
        return split_hash({k: list(v) for k, v in self.split.items()})

    @property
    def sizes(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.split.items()}


@dataclass(frozen=True)
class RegistrySpec:
    """How a worker rebuilds the driver's registry: entry points plus the extra plugin
    modules the driver registered by hand (tests, notebooks), importable by name."""

    extra_modules: tuple[str, ...] = ()
    sys_path: tuple[str, ...] = ()

    def build(self) -> Registry:
        for p in self.sys_path:
            if p not in sys.path:
                sys.path.append(p)
        return load_registry(extra=[importlib.import_module(m) for m in self.extra_modules])


@dataclass(frozen=True)
class CellJob:
    """One cell, resolved: enough to run any of its stages in any process."""

    cell: Cell
    id: str
    config_id: str
    identity: Mapping[str, Any]
    data: DataRef
    protocol: PluginRef | None  # None for native weak labels
    labeler: PluginRef
    segmenter: PluginRef
    pseudo_key: str
    uses_segmenter: bool
    out: str
    cache_dir: str | None
    resume_from: str = "start"  # "start" | "train" | "predict": the first stage to run
    # a guided segmenter's test-time hint: its weak kind, its source ("native:<kind>" or
    # a protocol name) and, when simulated, the protocol that draws it
    hint_kind: str | None = None
    hint_source: str | None = None
    hint_protocol: PluginRef | None = None

    @property
    def cell_dir(self) -> Path:
        return Path(self.out) / self.cell.dataset / self.id

    @property
    def checkpoint(self) -> Path:
        return self.cell_dir / "model.pt"

    @property
    def title(self) -> str:
        return self.cell.title

    def with_resume(self, stage: str) -> CellJob:
        from dataclasses import replace

        return replace(self, resume_from=stage)


@dataclass(frozen=True)
class LabelGroup:
    """Cells that share one pseudo-label key: labelled once, then trained each."""

    key: str
    jobs: tuple[CellJob, ...]

    @property
    def labeler(self) -> str:
        return self.jobs[0].cell.labeler

    @property
    def together(self) -> bool:
        """A labeler that trains the cell's segmenter labels and trains in one task."""
        return self.jobs[0].uses_segmenter


@dataclass
class WorkerEnv:
    """What a worker process is: its device, torch threads, and how to build a registry."""

    registry: RegistrySpec
    device: str = "cpu"
    threads: int = 0  # 0: leave torch's default
    name: str = "main"


def registry_spec(registry: Registry) -> RegistrySpec:
    """The extra modules registered on ``registry`` beside its entry points."""
    from importlib.metadata import entry_points

    from wsbench.plugins import GROUP

    eps = {ep.name for ep in entry_points(group=GROUP)}
    mods, paths = [], []
    for name, plugin in registry.pm.list_name_plugin():
        if name in eps or not isinstance(plugin, ModuleType):
            continue
        mods.append(plugin.__name__)
        file = getattr(plugin, "__file__", None)
        if file:
            root = Path(file).parent
            for _ in plugin.__name__.split(".")[1:]:
                root = root.parent
            paths.append(str(root))
    return RegistrySpec(tuple(mods), tuple(dict.fromkeys(paths)))


# ---------------------------------------------------------------------------
# Resolution (driver side)


def resolve_jobs(
    cells: list[Cell], spec: RunSpec, registry: Registry, cache_dir: str | None = None
) -> list[CellJob]:
    """Resolve every cell: configs, fingerprints, split, identity and pseudo-label key."""
    datasets: dict[str, DataRef] = {}
    jobs = []
    for cell in cells:
        ds_over = cell.params_for("dataset", cell.dataset)
        dkey = stable_hash([cell.dataset, cell.target, ds_over])
        if dkey not in datasets:
            datasets[dkey] = resolve_data(cell, spec, registry)
        jobs.append(resolve_cell(cell, datasets[dkey], spec, registry, cache_dir))
    return jobs


def resolve_data(cell: Cell, spec: RunSpec, registry: Registry) -> DataRef:
    ref = _ref(registry, "dataset", cell.dataset, spec, cell, data_dir=spec.data_dir)
    dataset = ref.build(registry, data_dir=spec.data_dir)
    splits = split_dataset(dataset)
    if not splits["train"] or not splits["test"]:
        n = sum(len(v) for v in splits.values())
        raise DataError(
            f"dataset {dataset.name!r} has {n} case(s), too few for a train and a test "
            "split; add cases or use a larger phantom (--set synthetic.n_patients=8)"
        )
    return DataRef(
        plugin=ref,
        data_dir=str(spec.data_dir) if spec.data_dir is not None else None,
        target=cell.target,
        fingerprint=dataset.fingerprint(),
        split={k: tuple(v) for k, v in splits.items()},
    )


def resolve_cell(
    cell: Cell, data: DataRef, spec: RunSpec, registry: Registry, cache_dir: str | None
) -> CellJob:
    labeler = _ref(registry, "labeler", cell.labeler, spec, cell)
    segmenter = _ref(registry, "segmenter", cell.segmenter, spec, cell)
    if cell.protocol.startswith(NATIVE):
        protocol = None
        proto_cfg: dict[str, Any] = {
            "name": cell.protocol,
            "version": data.plugin.config["version"],
            "params": {},
        }
    else:
        protocol = _ref(registry, "protocol", cell.protocol, spec, cell)
        proto_cfg = {**protocol.config, "hash": stable_hash(dict(protocol.config))}
    uses_segmenter = bool(registry.get("labeler", cell.labeler).uses_segmenter)
    dataset = {
        "config": dict(data.plugin.config),
        "target": cell.target,
        "fingerprint": data.fingerprint,
        "split_hash": data.split_hash,
    }
    identity = {
        "wsbench": wsbench.__version__,
        "profile": spec.profile,
        "dataset": dataset,
        "protocol": proto_cfg,
        "labeler": dict(labeler.config),
        "segmenter": dict(segmenter.config),
        "seed": cell.seed,
    }
    hint_kind = registry.get("segmenter", cell.segmenter).test_hint
    hint_protocol = None
    if cell.hint is not None:  # guided cells only: other cells keep their ids
        if cell.hint.startswith(NATIVE):
            hint_cfg: dict[str, Any] = {"source": cell.hint}
        else:
            hint_protocol = (
                protocol
                if protocol is not None and protocol.name == cell.hint
                else _ref(registry, "protocol", cell.hint, spec, cell)
            )
            hint_cfg = {"source": cell.hint, **hint_protocol.config}
        identity["test_hint"] = {"kind": hint_kind, **hint_cfg}
    configuration = {  # what the user asked for, without versions or data state
        "profile": spec.profile,
        "dataset": [cell.dataset, cell.target, data.plugin.config["params"]],
        "protocol": [cell.protocol, proto_cfg["params"]],
        "labeler": [cell.labeler, labeler.config["params"]],
        "segmenter": [cell.segmenter, segmenter.config["params"]],
        "seed": cell.seed,
    }
    pseudo_key = stable_hash(
        {
            "dataset": data.fingerprint,
            "dataset_config": dict(data.plugin.config),
            "split": data.split_hash,
            "target": cell.target,
            "protocol": proto_cfg,
            "seed": cell.seed,
            "labeler": dict(labeler.config),
            "segmenter": dict(segmenter.config) if uses_segmenter else None,
        },
        24,
    )
    return CellJob(
        cell=cell,
        id=f"{cell.labeler}__{cell.segmenter}__seed{cell.seed}__{stable_hash(identity, 10)}",
        config_id=stable_hash(configuration, 16),
        identity=identity,
        data=data,
        protocol=protocol,
        labeler=labeler,
        segmenter=segmenter,
        pseudo_key=pseudo_key,
        uses_segmenter=uses_segmenter,
        out=str(spec.out),
        cache_dir=cache_dir,
        hint_kind=hint_kind if cell.hint is not None else None,
        hint_source=cell.hint,
        hint_protocol=hint_protocol,
    )


def group_jobs(jobs: list[CellJob]) -> list[LabelGroup]:
    """Cells sharing a pseudo-label key, in plan order; ``uses_segmenter`` cells alone."""
    groups: dict[str, list[CellJob]] = {}
    for job in jobs:
        key = job.pseudo_key if not job.uses_segmenter else f"{job.pseudo_key}/{job.id}"
        groups.setdefault(key, []).append(job)
    return [LabelGroup(jobs[0].pseudo_key, tuple(jobs)) for jobs in groups.values()]


def _ref(
    registry: Registry, kind: str, name: str, spec: RunSpec, cell: Cell, **kw: Any
) -> PluginRef:
    over = (  # a segmenter also takes its labeler's train_profiles (e.g. SMILE's BCE)
        segmenter_params(cell, registry, spec.profile)
        if kind == "segmenter"
        else cell.params_for(kind, name)
    )
    obj = instantiate(registry.get(kind, name), spec, over, **kw)
    return PluginRef(
        kind=kind,
        name=name,
        profile=spec.profile,
        overrides=over,
        config=obj.config,
        package=registry.source(kind, name),
    )


__all__ = [
    "CellJob",
    "DataRef",
    "LabelGroup",
    "PluginRef",
    "RegistrySpec",
    "WorkerEnv",
    "group_jobs",
    "registry_spec",
    "resolve_jobs",
]
