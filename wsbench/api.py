"""The contract between wsbench and its plugins.

Data flows one way::

    Dataset -> Case -> Protocol -> WeakLabel -> Labeler -> PseudoLabel
            -> Segmenter.fit / predict -> Metric -> results store -> leaderboard

Arrays follow one convention everywhere: volumes are ``(Z, Y, X)`` numpy arrays in
canonical (RAS+) orientation, ``spacing`` is in millimetres along ``(z, y, x)``, and a
2D image is a volume with ``Z == 1``. Task labels are ``uint8`` maps with 0 for
background and ``k`` for ``task.classes[k - 1]``.

A plugin is a class with a name, a version, a citation, declared ``params``, a
``quick`` and a ``paper`` profile, and the numbers its paper reports. The hooks in
``wsbench.hookspecs`` return these classes; wsbench instantiates them per grid cell
with the resolved parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from wsbench import params as _params
from wsbench.errors import PluginError, WeakLabelError
from wsbench.params import Param

__all__ = [
    "Box",
    "BoxLabel",
    "Case",
    "CaseInfo",
    "CoarseLabel",
    "DATASET_PARAMS",
    "Dataset",
    "FullLabel",
    "Intensity",
    "LabelContext",
    "Labeler",
    "Metric",
    "PLUGIN_KINDS",
    "Param",
    "PartialLabel",
    "Plugin",
    "Protocol",
    "PseudoLabel",
    "Recist",
    "RecistLabel",
    "Reported",
    "Segmenter",
    "TagLabel",
    "Task",
    "TrainContext",
    "WeakCase",
    "WeakLabel",
    "WEAK_KINDS",
    "check_weak_kind",
    "register_hook",
]

# ---------------------------------------------------------------------------
# Plugins


REPORTED_SPLITS = ("test", "val", "server")
REPORTED_SUBSETS = ("all", "positive")


@dataclass(frozen=True)
class Reported:
    """A number a paper reports, shown beside the reproduced one on the leaderboard."""

    dataset: str
    target: str
    labeler: str
    segmenter: str
    metric: str
    value: float
    source: str  # e.g. "Fan et al. 2022, Table 2"
    note: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)  # e.g. {"weak.alpha": 0.7}
    split: str = "test"  # where the paper measured it: "test", "val" or "server"
    subset: str = "all"  # which cases: "all" or "positive" (cases with foreground)

    def __post_init__(self) -> None:
        for attr, valid in (("split", REPORTED_SPLITS), ("subset", REPORTED_SUBSETS)):
            if getattr(self, attr) not in valid:
                raise PluginError(
                    f"Reported({self.labeler}/{self.segmenter}, {self.metric}): {attr} "
                    f"{getattr(self, attr)!r} is not one of {', '.join(valid)}"
                )


class Plugin:
    """Base of every plugin class. Subclasses set the class attributes below."""

    kind: ClassVar[str] = "plugin"
    name: ClassVar[str]
    version: ClassVar[str] = "0.1.0"
    citation: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    profiles: ClassVar[Mapping[str, Mapping[str, Any]]] = {"quick": {}, "paper": {}}
    reported: ClassVar[tuple[Reported, ...]] = ()
    # Whether a run that names no labeler (segmenter) includes this one. Expensive variants
    # set False, so the default `wsbench run` stays a quick demo; naming them still works.
    in_default_grid: ClassVar[bool] = True

    def __init__(self, profile: str = "quick", **overrides: Any):
        self.profile = profile
        self.p: dict[str, Any] = _params.resolve(
            self.name, self.params, self.profiles, profile, overrides
        )

    @property
    def config(self) -> dict[str, Any]:
        """Name, version and resolved parameters: what goes into hashes and provenance."""
        return {"name": self.name, "version": self.version, "params": self.p}

    @property
    def config_hash(self) -> str:
        return _params.stable_hash(self.config)

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {
            "name": cls.name,
            "kind": cls.kind,
            "version": cls.version,
            "citation": cls.citation,
            "params": [p.describe() for p in cls.params],
            "profiles": {k: dict(v) for k, v in cls.profiles.items()},
        }


# ---------------------------------------------------------------------------
# Data


@dataclass(frozen=True)
class Task:
    """Which classes a run segments: ``classes[k-1]`` is made of raw label ``values[k-1]``."""

    target: str
    classes: tuple[str, ...]
    values: tuple[tuple[int, ...], ...]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def encode(self, raw: np.ndarray) -> np.ndarray:
        """Raw dataset labels -> task label map (later classes win where they overlap)."""
        out = np.zeros(raw.shape, dtype=np.uint8)
        for k, vals in enumerate(self.values, start=1):
            out[np.isin(raw, vals)] = k
        return out


@dataclass(frozen=True)
class Intensity:
    """HU windowing then normalisation, applied to images before any network sees them."""

    window: tuple[float, float] | None = (-100.0, 200.0)
    normalise: str = "zscore"  # "zscore" | "minmax" | "none"

    def apply(self, hu: np.ndarray) -> np.ndarray:
        x: np.ndarray = hu.astype(np.float32, copy=True)
        if self.window is not None:
            np.clip(x, self.window[0], self.window[1], out=x)
        if self.normalise == "zscore":
            x -= x.mean()
            x /= x.std() + 1e-6
        elif self.normalise == "minmax":
            lo, hi = self.window if self.window is not None else (x.min(), x.max())
            x = (x - lo) / max(hi - lo, 1e-6)
        return x

    def to_uint8(self, hu: np.ndarray) -> np.ndarray:
        """The windowed image as 0..255, for DenseCRF and pictures."""
        lo, hi = self.window if self.window is not None else (float(hu.min()), float(hu.max()))
        return (np.clip((hu - lo) / max(hi - lo, 1e-6), 0, 1) * 255).astype(np.uint8)


@dataclass(frozen=True)
class CaseInfo:
    """A cheap listing entry: enough to split by patient before loading pixels."""

    id: str
    patient: str
    split: str | None = None  # the dataset's own split, where it ships one
    source: str = ""
    stratum: str | None = None  # e.g. "positive"/"negative": splits keep strata proportions


@dataclass
class Case:
    """One loaded volume (or 2D image with Z == 1) with its task labels."""

    id: str
    patient: str
    image: np.ndarray  # float32 HU (or raw intensity), (Z, Y, X)
    label: np.ndarray | None  # uint8 task map (Z, Y, X); None where no ground truth exists
    spacing: tuple[float, float, float]  # mm along (z, y, x)
    affine: np.ndarray  # 4x4 affine of the array as stored on disk (x, y, z voxel order)
    classes: tuple[str, ...]  # task classes, label k -> classes[k-1]
    organ: np.ndarray | None = None  # bool (Z, Y, X): any annotated structure (slice selection)
    native_weak: dict[str, WeakLabel] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)  # e.g. "ornt" to undo reorientation
    source: str = ""  # the file(s) it came from, for error messages

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.image.shape)  # type: ignore[return-value]


# Parameters every dataset shares: HU windowing, normalisation and the split seed.
DATASET_PARAMS: tuple[Param, ...] = (
    Param(
        "window_lo",
        -100.0,
        "lower bound of the HU window (Ouassit et al. 2022: liver window [-100, 200])",
    ),
    Param("window_hi", 200.0, "upper bound of the HU window"),
    Param(
        "normalise",
        "zscore",
        "intensity normalisation after windowing",
        choices=("zscore", "minmax", "none"),
    ),
    Param("split_seed", 0, "seed of the patient-level train/val/test split"),
    Param(
        "val_fraction",
        0.2,
        "fraction of patients in the validation split",
        **_params.in_range(0, 1, hi_open=True),
    ),
    Param(
        "test_fraction",
        0.2,
        "fraction of patients in the test split",
        **_params.in_range(0, 1, lo_open=True, hi_open=True),
    ),
    Param(
        "evaluate",
        "volume",
        "test metrics per 3D volume, per 2D test image holding the target "
        "(images: Fan et al. 2022's protocol), or per lesion on those images (lesions: "
        "each 2D connected component in its own box, as 001 scores DeepLesion)",
        choices=("volume", "images", "lesions"),
    ),
    Param(
        "roi",
        "none",
        "crop every volume in-plane to its organ's bounding box (organ: the liver for "
        "tumour tasks, as a first cascade stage gives it) before labelling and training",
        choices=("none", "organ"),
    ),
    Param("roi_margin", 4, "pixels added around the organ box by roi=organ", **_params.at_least(0)),
)


class Dataset(Plugin):
    """A source of cases.

    Subclasses implement ``list_cases`` and ``load_case``. ``tasks`` maps each
    ``--target`` name to a ``Task``; ``default_target`` names the default one.
    ``native_weak`` lists weak kinds the dataset ships itself (DeepLesion: recist).
    """

    kind = "dataset"
    needs_data_dir: ClassVar[bool] = True
    native_weak: ClassVar[tuple[str, ...]] = ()
    default_target: ClassVar[str] = ""

    def __init__(self, profile: str = "quick", data_dir: Path | None = None, **overrides: Any):
        super().__init__(profile, **overrides)
        self.data_dir = Path(data_dir) if data_dir is not None else None

    def tasks(self) -> dict[str, Task]:
        raise NotImplementedError

    def intensity(self) -> Intensity:
        """Windowing and normalisation from the DATASET_PARAMS this dataset declares."""
        if "window_lo" not in self.p:
            return Intensity()
        return Intensity((self.p["window_lo"], self.p["window_hi"]), self.p["normalise"])

    def list_cases(self) -> list[CaseInfo]:
        raise NotImplementedError

    def load_case(self, info: CaseInfo, task: Task) -> Case:
        raise NotImplementedError

    def fingerprint(self) -> str:
        """A hash of what the cases are: file names, sizes and mtimes, or generator params."""
        return _params.stable_hash([self.config, [c.id for c in self.list_cases()]])


# ---------------------------------------------------------------------------
# Weak labels

WEAK_KINDS = ("full", "box", "recist", "tags", "partial", "coarse")


@dataclass
class WeakLabel:
    """Base of the weak-label kinds. ``slices`` are the slice indices to train on."""

    kind: ClassVar[str] = ""
    slices: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


@dataclass(frozen=True)
class Box:
    """An axis-aligned box on slice ``z``: rows ``y0:y1``, columns ``x0:x1`` (half-open)."""

    z: int
    y0: int
    x0: int
    y1: int
    x1: int
    cls: int = 1  # task class, 1-based

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def width(self) -> int:
        return self.x1 - self.x0


@dataclass
class FullLabel(WeakLabel):
    """The full ground truth (the oracle's 'weak' label)."""

    kind: ClassVar[str] = "full"
    label: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0), np.uint8))


@dataclass
class BoxLabel(WeakLabel):
    kind: ClassVar[str] = "box"
    boxes: list[Box] = field(default_factory=list)


@dataclass(frozen=True)
class Recist:
    """RECIST diameters on slice ``z``; endpoints are (y, x) pixel coordinates."""

    z: int
    long_axis: tuple[tuple[float, float], tuple[float, float]]
    short_axis: tuple[tuple[float, float], tuple[float, float]]
    cls: int = 1


@dataclass
class RecistLabel(WeakLabel):
    kind: ClassVar[str] = "recist"
    lesions: list[Recist] = field(default_factory=list)


@dataclass
class TagLabel(WeakLabel):
    """Image-level findings: ``present[z, k-1]`` says class k is on slice z."""

    kind: ClassVar[str] = "tags"
    present: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), bool))


@dataclass
class PartialLabel(WeakLabel):
    """A label map with some classes missing: ``annotated[k-1]`` is False for dropped class k,
    whose voxels are background in ``label`` (as in the SMILE setting)."""

    kind: ClassVar[str] = "partial"
    label: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0), np.uint8))
    annotated: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))


@dataclass
class CoarseLabel(WeakLabel):
    """A coarse region of interest per class (loose boxes), e.g. from a localiser."""

    kind: ClassVar[str] = "coarse"
    regions: list[Box] = field(default_factory=list)


class Protocol(Plugin):
    """Simulates one weak-label kind from full masks. Seeded, versioned and hashed."""

    kind = "protocol"
    produces: ClassVar[str] = ""

    def simulate(self, case: Case, rng: np.random.Generator) -> WeakLabel:
        raise NotImplementedError


# ---------------------------------------------------------------------------
# Labelers and segmenters


@dataclass
class WeakCase:
    """What a labeler and a segmenter see of a training case: no ground truth."""

    id: str
    patient: str
    image: np.ndarray  # HU, (Z, Y, X)
    spacing: tuple[float, float, float]
    weak: WeakLabel
    classes: tuple[str, ...]
    intensity: Intensity = field(default_factory=Intensity)
    # metadata that is not ground truth and that the dataset chooses to expose (e.g.
    # DeepLesion's lesion type and diameters); never derived from pixel labels
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def slices(self) -> np.ndarray:
        return self.weak.slices


@dataclass
class PseudoLabel:
    """A labeler's training target for one case.

    ``multilabel=False``: ``target`` is uint8 ``(Z, Y, X)`` with values 0..K and
    ``weight`` float32 ``(Z, Y, X)``. ``multilabel=True``: ``target`` is uint8
    ``(K, Z, Y, X)`` in {0, 1} and ``weight`` float32 ``(K, Z, Y, X)`` (SMILE's w_k).
    A weight of 0 means ignore. Only ``slices`` are trained on.
    """

    case_id: str
    target: np.ndarray
    weight: np.ndarray
    slices: np.ndarray
    multilabel: bool = False

    def foreground(self) -> np.ndarray:
        """A task-label map for quality measurement (argmax of multilabel targets)."""
        if not self.multilabel:
            return self.target
        k = self.target.shape[0]
        out = np.zeros(self.target.shape[1:], np.uint8)
        for c in range(k):
            out[self.target[c] > 0] = c + 1
        return out


@dataclass
class TrainContext:
    """What a segmenter gets to train: device, seed, a progress callback, a scratch dir.

    ``validate(model) -> metrics``: overlap metrics (``dice``, ``iou``, per class as
    ``dice/<class>``) of ``model.predict`` on the validation split, for early stopping and
    round selection. It never hands over the validation labels. None when the split has no
    validation cases (``--set <dataset>.val_fraction=0.2`` gives it some). The cases are
    loaded on the first call only."""

    device: str
    seed: int
    classes: tuple[str, ...]
    workdir: Path
    progress: Callable[[str, int, int], None] = lambda what, done, total: None
    validate: Callable[[Segmenter], dict[str, float]] | None = None


@dataclass
class LabelContext(TrainContext):
    """A labeler's context. ``new_segmenter`` builds a fresh, untrained copy of the cell's
    segmenter (same name and parameters), for self-training loops such as SMILEr.

    ``val_cases()``: the validation cases as ``WeakCase`` (weak labels of the cell's kind,
    no ground truth), loaded on the first call. ``val_masks()``: the full task-label maps
    of at most ``val_masks`` validation cases (``(WeakCase, label)`` pairs, in case-id
    order), where the labeler declares a ``val_masks`` parameter: the mask budget it
    tunes on, recorded in provenance and shown on the leaderboard ("tuned on N val
    masks"). Labelers that declare none get an empty list."""

    new_segmenter: Callable[[], Segmenter] | None = None
    val_cases: Callable[[], list[WeakCase]] = list
    val_masks: Callable[[], list[tuple[WeakCase, np.ndarray]]] = list


class Labeler(Plugin):
    """Turns weak labels into pseudo labels and ignore/weight maps."""

    kind = "labeler"
    consumes: ClassVar[tuple[str, ...]] = ()  # weak kinds; ("full",) for the oracle
    multilabel: ClassVar[bool] = False  # yields per-class sigmoid targets
    uses_segmenter: ClassVar[bool] = False  # trains the cell's segmenter (cache key includes it)
    baseline: ClassVar[bool] = False  # shown on every leaderboard (box-fill, oracle)
    # Per profile, the training settings the labeler's paper gives the segmenter, e.g.
    # {"paper": {"loss": "bce"}}: they replace the segmenter profile's values for the
    # params the segmenter declares; the user's --set still wins (``segmenter_params``).
    train_profiles: ClassVar[Mapping[str, Mapping[str, Any]]] = {}

    def label(self, cases: Sequence[WeakCase], ctx: LabelContext) -> list[PseudoLabel]:
        """Pseudo labels for ``cases``, in order. The default labels each case on its own with
        ``label_case``; labelers that learn across cases (CAM, ACoL, SMILEr) override this."""
        return [self.label_case(case, ctx) for case in cases]

    def label_case(self, case: WeakCase, ctx: LabelContext) -> PseudoLabel:
        """The pseudo label of one case (used by the default ``label``)."""
        raise NotImplementedError(f"labeler {self.name!r} implements neither label nor label_case")


def check_weak_kind(labeler: Labeler | type[Labeler], cases: Sequence[WeakCase]) -> None:
    """WeakLabelError naming the first case whose weak label ``labeler`` does not consume.

    The runner calls this once before ``Labeler.label``, so labelers may assume the kind.
    """
    for case in cases:
        if case.weak.kind not in labeler.consumes:
            wanted = "/".join(labeler.consumes)
            raise WeakLabelError(
                f"case {case.id!r}: labeler {labeler.name!r} needs a {wanted} weak label, got "
                f"{case.weak.kind!r} ({type(case.weak).__name__}); run it with --weak "
                f"{labeler.consumes[0]}"
            )


def check_pseudo_labels(
    labels: Any, cases: Sequence[WeakCase], labeler: str, n_classes: int
) -> None:
    """PluginError, one line naming the labeler, the case and the fault, unless ``labels``
    keep the ``PseudoLabel`` contract for ``cases``: one per case, the image grid, values
    0..``n_classes`` (multilabel: K = ``n_classes`` maps of 0/1), finite non-negative
    weights of the target's shape, and slice indices inside the volume.

    The runner calls this before caching, so a bad labeler fails its cell and leaves
    nothing behind for the next run to trust."""
    from wsbench.errors import PluginError

    def fault(where: str, what: str) -> PluginError:
        return PluginError(
            f"labeler {labeler!r} broke the pseudo-label contract: {where}{what}; fix the "
            "labeler (wsbench.testing.labelers checks it)"
        )

    if not isinstance(labels, (list, tuple)) or len(labels) != len(cases):
        got = len(labels) if isinstance(labels, (list, tuple)) else type(labels).__name__
        raise fault("", f"returned {got} pseudo labels for {len(cases)} training cases")
    by_id = {getattr(lab, "case_id", None): lab for lab in labels}
    for case in cases:
        lab = by_id.get(case.id)
        where = f"case {case.id!r}: "
        if not isinstance(lab, PseudoLabel):
            raise fault(where, "no PseudoLabel with this case_id")
        target, weight = np.asarray(lab.target), np.asarray(lab.weight)
        grid = tuple(case.image.shape)
        want = (n_classes, *grid) if lab.multilabel else grid
        if target.shape != want or weight.shape != target.shape:
            raise fault(
                where,
                f"target {target.shape} and weight {weight.shape}, expected {want} for "
                f"image {grid}",
            )
        top = 1 if lab.multilabel else n_classes
        if target.size and (
            not np.issubdtype(target.dtype, np.integer)
            and not np.array_equal(target, np.rint(target))
            or target.min() < 0
            or target.max() > top
        ):
            bad = target[(target < 0) | (target > top) | (target != np.rint(target))]
            value = (bad.flat[0] if bad.size else target.flat[0]).item()
            raise fault(
                where,
                f"target value {value!r} outside 0..{top} "
                f"({'multilabel 0/1 maps' if lab.multilabel else f'{n_classes} class(es)'})",
            )
        if weight.size and not np.all(np.isfinite(weight)):
            raise fault(
                where, f"{int(np.count_nonzero(~np.isfinite(weight)))} NaN or infinite weights"
            )
        if weight.size and weight.min() < 0:
            raise fault(where, f"negative weight {float(weight.min())}")
        slices = np.asarray(lab.slices)
        if slices.ndim != 1 or (slices.size and not np.issubdtype(slices.dtype, np.integer)):
            raise fault(
                where, f"slices must be a 1D integer array, got {slices.dtype} {slices.shape}"
            )
        outside = slices[(slices < 0) | (slices >= grid[0])] if slices.size else slices
        if outside.size:
            raise fault(
                where,
                f"slice index {int(outside[0])} outside 0..{grid[0] - 1}",
            )


class Segmenter(Plugin):
    """Trains on (image, pseudo mask, weight map) and predicts class probabilities.

    ``supports_multilabel``: ``fit`` trains per-class sigmoid outputs on multilabel pseudo
    labels (SMILE). Off by default, so the grid never plans a multilabel labeler against a
    segmenter that cannot train on its targets."""

    kind = "segmenter"
    supports_multilabel: ClassVar[bool] = False
    # a weak kind the segmenter needs at predict time too (001: "recist"); None = none.
    # The runner then calls ``predict(..., hint=weak_label)`` with the test case's own
    # weak label of that kind (native, or simulated in a seed stream of its own), and
    # the leaderboard marks the row "guided".
    test_hint: ClassVar[str | None] = None

    def fit(
        self, cases: Sequence[WeakCase], labels: Sequence[PseudoLabel], ctx: TrainContext
    ) -> dict[str, Any]:
        """Train; return a log (at least ``{"loss": [per-epoch mean loss]}``)."""
        raise NotImplementedError

    def predict(
        self,
        image: np.ndarray,
        intensity: Intensity,
        ctx: TrainContext,
        spacing: Sequence[float] | None = None,
    ) -> np.ndarray:
        """HU volume (Z, Y, X) -> probabilities: (K+1, Z, Y, X) softmax or (K, Z, Y, X) sigmoid.
        ``spacing`` (mm along z, y, x) is for segmenters that resample (coronal slices);
        the runner passes it where ``predict`` declares it. A segmenter with ``test_hint``
        also declares ``hint: WeakLabel`` and gets the test case's weak label there."""
        raise NotImplementedError

    def save(self, path: Path) -> None:
        raise NotImplementedError

    def load(self, path: Path) -> None:
        raise NotImplementedError


class Metric(Plugin):
    """A per-case score of a binary prediction against a binary ground truth."""

    kind = "metric"
    higher_is_better: ClassVar[bool] = True
    unit: ClassVar[str] = ""

    def compute(self, pred: np.ndarray, gt: np.ndarray, spacing: Sequence[float]) -> float:
        raise NotImplementedError


# ---------------------------------------------------------------------------
# The plugin kinds, in registry order: kind -> base class. Each kind has one hook,
# ``wsbench_register_<kind>s`` (see ``wsbench.hookspecs``).

PLUGIN_KINDS: dict[str, type[Plugin]] = {
    "dataset": Dataset,
    "protocol": Protocol,
    "labeler": Labeler,
    "segmenter": Segmenter,
    "metric": Metric,
}


def register_hook(kind: str) -> str:
    """The hook that returns the plugin classes of ``kind``."""
    return f"wsbench_register_{kind}s"
