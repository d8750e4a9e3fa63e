"""Expanding a run specification into grid cells, and saying why pairs are skipped.

Pure planning: nothing here loads pixels or trains. ``plan`` validates every name and
every ``--set`` / ``--sweep`` value up front, so a typo fails before any work starts.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wsbench.api import PLUGIN_KINDS, Dataset, Labeler
from wsbench.errors import IncompatibleError, ParameterError
from wsbench.params import parse_assignment, stable_hash
from wsbench.params import scoped_sets as _scoped  # house: one --set parser for run and data
from wsbench.plugins import Registry

NATIVE = "native"  # --weak native: use the weak labels a dataset ships


@dataclass(frozen=True)
class RunSpec:
    """Everything ``wsbench run`` was asked for. Empty name tuples mean 'every compatible one'."""

    datasets: tuple[str, ...] = ()
    labelers: tuple[str, ...] = ()
    segmenters: tuple[str, ...] = ()
    weak: str | None = None
    seeds: tuple[int, ...] = (0,)
    profile: str = "quick"
    device: str = "auto"
    out: Path = Path("wsbench-out")
    target: str | None = None
    data_dir: Path | None = None
    sets: Mapping[str, str] = field(default_factory=dict)
    sweeps: Mapping[str, Sequence[str]] = field(default_factory=dict)
    resume: bool = True


@dataclass(frozen=True)
class Cell:
    """One labeler x segmenter x dataset x protocol x seed x sweep point."""

    dataset: str
    target: str
    protocol: str  # protocol name, or "native:<kind>"
    labeler: str
    segmenter: str
    seed: int
    sweep: tuple[tuple[str, str], ...]
    overrides: Mapping[str, Mapping[str, Any]]  # "kind:name" -> {param: raw value}
    # where a segmenter's test-time hint comes from: "native:<kind>" or a protocol name
    hint: str | None = None

    def params_for(self, kind: str, name: str) -> dict[str, Any]:
        """The user's overrides for one plugin of this cell (``kind`` as in the registry)."""
        return dict(self.overrides.get(f"{kind}:{name}", {}))

    @property
    def key(self) -> dict[str, Any]:
        key = {
            "dataset": self.dataset,
            "target": self.target,
            "protocol": self.protocol,
            "labeler": self.labeler,
            "segmenter": self.segmenter,
            "seed": self.seed,
            "overrides": {k: dict(v) for k, v in self.overrides.items()},
        }
        if self.hint is not None:  # only guided cells carry it: other ids stay as they were
            key["hint"] = self.hint
        return key

    @property
    def id(self) -> str:
        return f"{self.labeler}__{self.segmenter}__seed{self.seed}__{stable_hash(self.key, 10)}"

    @property
    def title(self) -> str:
        """A display string: dataset, labeler x segmenter, seed and sweep point."""
        sweep = " ".join(f"{k}={v}" for k, v in self.sweep)
        return f"{self.dataset}/{self.labeler} x {self.segmenter} seed {self.seed} {sweep}".strip()


@dataclass
class Plan:
    cells: list[Cell]
    skipped: list[tuple[str, str]]  # (what, why)
    targets: dict[str, str]  # dataset -> target chosen


def parse_sets(pairs: Sequence[str]) -> dict[str, str]:
    return dict(parse_assignment(p, "--set") for p in pairs)


def parse_sweeps(pairs: Sequence[str]) -> dict[str, list[str]]:
    out = {}
    for p in pairs:
        key, values = parse_assignment(p, "--sweep")
        vals = [v.strip() for v in values.split(",") if v.strip()]
        if not vals:
            raise ParameterError(
                f"--sweep {p!r} lists no values; write e.g. --sweep weak.alpha=0,0.5"
            )
        out[key] = vals
    return out


def plan(spec: RunSpec, registry: Registry) -> Plan:
    datasets = _names(spec.datasets, registry, "dataset") or _default_datasets(spec, registry)
    skipped: list[tuple[str, str]] = []
    labelers = _names(spec.labelers, registry, "labeler") or _default_grid(
        registry, "labeler", skipped
    )
    segmenters = _names(spec.segmenters, registry, "segmenter") or _default_grid(
        registry, "segmenter", skipped
    )
    protocols = registry.classes("protocol")
    if spec.weak is not None and spec.weak != NATIVE and spec.weak not in protocols:
        registry.get("protocol", spec.weak)  # raises with the valid names
    if not spec.seeds:
        raise ParameterError("--seeds is empty; give at least one seed, e.g. --seeds 0")
    for seed in spec.seeds:
        if not isinstance(seed, int) or not 0 <= seed < 2**63:
            raise ParameterError(
                f"--seeds {seed!r}: a seed must be an integer in 0..{2**63 - 1} "
                "(SQLite's integer); give a smaller one"
            )
    _check_data_dir(spec, [registry.get("dataset", n) for n in datasets])

    scopes = {
        "weak",
        "train",
        *registry.classes("dataset"),
        *registry.classes("labeler"),
        *registry.classes("segmenter"),
        *protocols,
    }
    fixed = _scoped(spec.sets, scopes)
    swept = _scoped({k: "" for k in spec.sweeps}, scopes)
    _check_param_names({**fixed, **{k: v for k, v in swept.items() if k not in fixed}}, registry)
    sweep_points = [
        tuple(zip(spec.sweeps, combo)) for combo in itertools.product(*spec.sweeps.values())
    ] or [()]

    cells: list[Cell] = []
    targets: dict[str, str] = {}
    for ds_name in datasets:
        ds_cls = registry.get("dataset", ds_name)
        dataset = instantiate(
            ds_cls, spec, _declared(ds_cls, fixed.get(ds_name, {})), data_dir=spec.data_dir
        )
        target = choose_target(dataset, spec, registry)
        targets[ds_name] = target
        n_classes = dataset.tasks()[target].num_classes
        for lab_name in labelers:
            lab_cls = registry.get("labeler", lab_name)
            proto, why = choose_protocol(lab_cls, ds_cls, spec, registry, n_classes)
            if proto is None:
                skipped.append((f"{ds_name}/{lab_name}", why))
                continue
            for seg_name in segmenters:
                seg_cls = registry.get("segmenter", seg_name)
                if lab_cls.multilabel and not seg_cls.supports_multilabel:
                    skipped.append(
                        (
                            f"{ds_name}/{lab_name} x {seg_name}",
                            f"{lab_name} yields multi-label targets and {seg_name} "
                            "has no sigmoid head",
                        )
                    )
                    continue
                hint, why = choose_hint(seg_cls, ds_cls, proto, registry)
                if seg_cls.test_hint is not None and dataset.p.get("roi", "none") != "none":
                    hint, why = (
                        None,
                        (
                            f"{seg_name} reads its {seg_cls.test_hint!r} hint on the full grid and "
                            f"{ds_name}.roi={dataset.p['roi']} crops its input; set "
                            f"{ds_name}.roi=none for it"
                        ),
                    )
                if seg_cls.test_hint is not None and hint is None:
                    skipped.append((f"{ds_name}/{lab_name} x {seg_name}", why))
                    continue
                plugins = (
                    ("dataset", ds_cls),
                    ("protocol", protocols.get(proto)),
                    ("labeler", lab_cls),
                    ("segmenter", seg_cls),
                )
                for point in sweep_points:
                    user = _merge(fixed, _scoped(dict(point), scopes))
                    over = _route(user, plugins)
                    for seed in spec.seeds:
                        cells.append(
                            Cell(
                                ds_name,
                                target,
                                proto,
                                lab_name,
                                seg_name,
                                seed,
                                tuple(point),
                                over,
                                hint,
                            )
                        )
    _validate(cells, spec, registry, fixed)
    return Plan(cells=cells, skipped=skipped, targets=targets)


def instantiate(cls: type, spec: RunSpec, overrides: Mapping[str, Any], **kw: Any):
    return cls(profile=spec.profile, **kw, **dict(overrides))


def segmenter_params(cell: Cell, registry: Registry, profile: str) -> dict[str, Any]:
    """The parameters a cell's segmenter is built with, over its own profile: the labeler's
    ``train_profiles[profile]`` (the labeler's paper's training settings, e.g. SMILE's BCE),
    restricted to the params the segmenter declares, then the user's ``--set`` values."""
    hints = registry.get("labeler", cell.labeler).train_profiles.get(profile, {})
    seg_cls = registry.get("segmenter", cell.segmenter)
    return {**_declared(seg_cls, hints), **cell.params_for("segmenter", cell.segmenter)}


def choose_target(dataset: Dataset, spec: RunSpec, registry: Registry) -> str:
    tasks = dataset.tasks()
    if spec.target is not None:
        if spec.target not in tasks:
            raise ParameterError(
                f"--target {spec.target!r} is not a target of dataset {dataset.name!r}; "
                f"its targets are: {', '.join(tasks)}"
            )
        return spec.target
    target = dataset.default_target or next(iter(tasks))
    need = _min_classes(spec, registry)
    if tasks[target].num_classes < need:  # e.g. --weak partial on a tumour-only default
        for name, task in tasks.items():
            if task.num_classes >= need:
                return name
    return target


def choose_protocol(
    lab_cls: type[Labeler], ds_cls: type[Dataset], spec: RunSpec, registry: Registry, n_classes: int
) -> tuple[str | None, str]:
    """The protocol a labeler runs under in this grid, or None and the reason it cannot."""
    protocols = registry.classes("protocol")
    consumes = lab_cls.consumes
    if "full" in consumes:  # the oracle reads ground truth whatever --weak says
        return "full", ""
    if spec.weak == NATIVE or (spec.weak is None and set(consumes) & set(ds_cls.native_weak)):
        native = [k for k in consumes if k in ds_cls.native_weak]
        if native:
            return f"{NATIVE}:{native[0]}", ""
        return None, (
            f"{lab_cls.name} consumes {'/'.join(consumes)} and {ds_cls.name} ships "
            f"only {'/'.join(ds_cls.native_weak) or 'no'} weak labels"
        )
    if spec.weak is not None:
        kind = protocols[spec.weak].produces
        if kind not in consumes:
            return None, (
                f"{lab_cls.name} consumes {'/'.join(consumes)}, not the {kind!r} "
                f"labels of --weak {spec.weak}"
            )
        name = spec.weak
    else:
        name = next((n for n, p in protocols.items() if p.produces in consumes), None)
        if name is None:
            return None, f"no installed protocol produces {'/'.join(consumes)}"
    need = getattr(protocols[name], "min_classes", 1)
    if n_classes < need:
        return None, (
            f"protocol {name} needs a target with at least {need} classes; choose one with --target"
        )
    return name, ""


def choose_hint(
    seg_cls: type, ds_cls: type[Dataset], protocol: str, registry: Registry
) -> tuple[str | None, str]:
    """Where a guided segmenter's test-time hint comes from, or None and why nothing can
    feed it. The dataset's own weak label of that kind first (DeepLesion ships RECIST);
    else the cell's protocol when it produces that kind; else the first installed protocol
    that does. Segmenters without ``test_hint`` get (None, "")."""
    kind = getattr(seg_cls, "test_hint", None)
    if kind is None:
        return None, ""
    if kind in ds_cls.native_weak:
        return f"{NATIVE}:{kind}", ""
    protocols = registry.classes("protocol")
    if protocol in protocols and protocols[protocol].produces == kind:
        return protocol, ""
    name = next((n for n, p in protocols.items() if p.produces == kind), None)
    if name is None:
        return None, (
            f"{seg_cls.name} needs a {kind!r} hint at test time; {ds_cls.name} ships "
            f"{'/'.join(ds_cls.native_weak) or 'no'} weak labels and no installed protocol "
            f"produces {kind!r}"
        )
    return name, ""


def _min_classes(spec: RunSpec, registry: Registry) -> int:
    protocols = registry.classes("protocol")
    if spec.weak in protocols:
        return getattr(protocols[spec.weak], "min_classes", 1)
    return 1


def _default_grid(registry: Registry, kind: str, skipped: list[tuple[str, str]]) -> list[str]:
    """Every installed plugin of ``kind`` that joins a run which names none of that kind."""
    chosen = []
    for name, cls in registry.classes(kind).items():
        if cls.in_default_grid:
            chosen.append(name)
        else:
            skipped.append((name, f"not in the default grid; name it with --{kind} {name}"))
    return chosen


def _default_datasets(spec: RunSpec, registry: Registry) -> list[str]:
    classes = registry.classes("dataset")
    if spec.data_dir is None:
        return [n for n, c in classes.items() if not c.needs_data_dir]
    raise ParameterError(
        "--data-dir needs --dataset to say which format it holds; "
        f"valid datasets are: {', '.join(classes)}"
    )


def _check_data_dir(spec: RunSpec, classes: Sequence[type[Dataset]]) -> None:
    """A dataset that reads files needs --data-dir; --data-dir that no dataset reads is a
    mistake too (it would be silently ignored). Checked before the output folder exists."""
    for cls in classes:
        if cls.needs_data_dir and spec.data_dir is None:
            raise ParameterError(
                f"dataset {cls.name} needs --data-dir: the folder holding its files; "
                f"add --data-dir DIR (or try the built-in phantom: --dataset synthetic)"
            )
    if spec.data_dir is not None and not any(c.needs_data_dir for c in classes):
        names = ", ".join(c.name for c in classes)
        raise ParameterError(
            f"--data-dir {spec.data_dir}: dataset {names} reads no folder (it makes its own "
            "data); drop --data-dir, or name the dataset that lives there with --dataset"
        )


def _names(names: Sequence[str], registry: Registry, kind: str) -> list[str]:
    for n in names:
        registry.get(kind, n)
    return list(dict.fromkeys(names))


def _merge(a: Mapping[str, Mapping[str, Any]], b: Mapping[str, Mapping[str, Any]]):
    out = {k: dict(v) for k, v in a.items()}
    for k, v in b.items():
        out.setdefault(k, {}).update(v)
    return out


def _declared(cls: type | None, params: Mapping[str, Any]) -> dict[str, Any]:
    names = {p.name for p in cls.params} if cls is not None else set()
    return {k: v for k, v in params.items() if k in names}


def _check_param_names(user: Mapping[str, Mapping[str, Any]], registry: Registry) -> None:
    """Every ``<plugin>.<param>`` key names a parameter some plugin of that name declares."""
    for scope, params in user.items():
        if scope in ("weak", "train"):
            continue
        declared = {
            p.name
            for kind in _KINDS
            for cls in [registry.classes(kind).get(scope)]
            if cls is not None
            for p in cls.params
        }
        for key in params:
            if key not in declared:
                raise ParameterError(
                    f"{scope} has no parameter {key!r}; its parameters are: "
                    f"{', '.join(sorted(declared)) or '(none)'}"
                )


# The kinds a cell instantiates with --set parameters (metrics take none): from the one list.
_KINDS = tuple(kind for kind in PLUGIN_KINDS if kind != "metric")


def _route(
    user: Mapping[str, Mapping[str, Any]], plugins: Sequence[tuple[str, type | None]]
) -> dict[str, dict[str, Any]]:
    """This cell's overrides, keyed ``kind:name``: each ``<plugin>.<param>`` goes to the plugin
    of that name that declares it (a labeler and a protocol may share a name), ``weak.*`` to
    the protocol and ``train.*`` to the segmenter. Keys for plugins outside the cell are
    dropped, so unrelated ``--set`` values do not change the cell's id."""
    out: dict[str, dict[str, Any]] = {}
    for kind, cls in plugins:
        if cls is None:  # native weak labels: no protocol object
            continue
        mine = _declared(cls, user.get(cls.name, {}))
        generic = {"protocol": "weak", "segmenter": "train"}.get(kind)
        if generic and user.get(generic) and cls.name != "full":
            by_name = {p.name: p for p in cls.params}
            for key, value in user[generic].items():
                if key not in by_name:
                    raise ParameterError(
                        f"{generic}.{key} is not a parameter of {kind} {cls.name!r}; "
                        f"its parameters are: {', '.join(sorted(by_name))}"
                    )
                by_name[key].parse(value, generic)  # report errors under the typed key
                mine[key] = value
        if mine:
            out[f"{kind}:{cls.name}"] = mine
    return dict(sorted(out.items()))


def _validate(
    cells: list[Cell], spec: RunSpec, registry: Registry, fixed: Mapping[str, Mapping[str, Any]]
) -> None:
    """Instantiate every plugin of every cell once, so bad values fail before any work."""
    seen: set[str] = set()
    for scope, over in fixed.items():  # --set keys of plugins outside the grid are checked too
        for kind in ("protocol", "labeler", "segmenter"):
            cls = registry.classes(kind).get(scope)
            if cls is not None:
                instantiate(cls, spec, _declared(cls, over))
    for cell in cells:
        for kind, name in (
            ("protocol", cell.protocol),
            ("labeler", cell.labeler),
            ("segmenter", cell.segmenter),
        ):
            if kind == "protocol" and name.startswith(NATIVE):
                continue
            over = (
                segmenter_params(cell, registry, spec.profile)
                if kind == "segmenter"
                else cell.params_for(kind, name)
            )
            tag = stable_hash([kind, name, over])
            if tag in seen:
                continue
            seen.add(tag)
            instantiate(registry.get(kind, name), spec, over)


__all__ = [
    "Cell",
    "IncompatibleError",
    "Plan",
    "RunSpec",
    "parse_sets",
    "parse_sweeps",
    "plan",
    "segmenter_params",
]
