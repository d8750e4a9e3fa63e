"""The 2D-on-3D adapter: train a 2D network on the labelled slices of volumes.

``SliceSegmenter`` does everything a slice-wise segmenter needs (slice dataset, head
choice, loss, training, batched inference, checkpoints); a subclass only declares its
own params and implements ``build_model``. The shared training params live in
``TRAIN_PARAMS`` so the runner can apply ``train.<param>`` overrides to any subclass.

Options that papers switch on, all off by default: ``axis`` (axial, coronal or sagittal
slices, ``isotropic`` in-plane resampling), ``pos_weight`` (positive-weighted
cross-entropy), ``pos_fraction`` (class-balanced batches), seeded ``aug_*``
augmentations; subclasses may override ``compute_loss`` (deep supervision) and
``forward_logits``; ``warm_start`` fine-tunes given weights; ``predict_many`` batches the
slices of many volumes.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from wsbench.api import Intensity, PseudoLabel, Segmenter, TrainContext, WeakCase
from wsbench.data.mapped import release
from wsbench.errors import DataError, PluginError
from wsbench.params import Param, at_least, in_range
from wsbench.segmenters.augment import Augmentation
from wsbench.segmenters.supervision import positive_weighted_loss
from wsbench.training.batches import BalancedBatches, ShuffledBatches
from wsbench.training.device import autocast, select_device
from wsbench.training.losses import LOSS_NAMES, LossFunction
from wsbench.training.trainer import (
    OPTIMIZERS,
    TrainConfig,
    Trainer,
    read_checkpoint,
    save_checkpoint,
    seed_everything,
)

AXES = ("axial", "coronal", "sagittal")
_AXIS_DIM = {"axial": 0, "coronal": 1, "sagittal": 2}

TRAIN_PARAMS: tuple[Param, ...] = (
    Param("epochs", 20, "training epochs", **at_least(1)),
    Param(
        "min_steps",
        0,
        "at least this many optimiser steps: epochs are raised until the budget is reached, "
        "so a small dataset is not starved (0 = epochs only; a train.epochs given alone is "
        "the budget)",
        **at_least(0),
    ),
    Param("batch_size", 8, "slices per batch", **at_least(1)),
    Param("lr", 1e-3, "initial learning rate", **in_range(0, 10, lo_open=True)),
    Param("optimizer", "adam", "optimizer", choices=OPTIMIZERS),
    Param("momentum", 0.9, "SGD momentum", **in_range(0, 1)),
    Param("weight_decay", 0.0, "L2 weight decay", **at_least(0)),
    Param(
        "poly_power", 0.9, "poly LR policy lr*(1-iter/max_iter)^power; 0 = constant", **at_least(0)
    ),
    Param(
        "loss",
        "auto",
        "loss; auto = ce+dice (softmax) or bce+dice (sigmoid heads)",
        choices=("auto", *LOSS_NAMES),
    ),
    Param("amp", True, "bf16 autocast (CUDA only; ignored elsewhere)"),
    Param(
        "image_size",
        0,
        "resize slices to this square size for the network; 0 = native",
        **at_least(0),
    ),
    Param("hflip", False, "random horizontal flip augmentation"),
    Param(
        "sigmoid_prior",
        0.01,
        "starting foreground probability of each class, for sigmoid and softmax heads alike (a "
        "fixed logit offset, like a prior-initialised bias, so small classes are not drowned "
        "at the start); 0.5 = none",
        **in_range(0, 1, lo_open=True, hi_open=True),
    ),
    Param(
        "axis",
        "axial",
        "slicing plane: axial (z), coronal (y) or sagittal (x) slices (003 trains all three)",
        choices=AXES,
    ),
    Param(
        "isotropic",
        "auto",
        "resample slices to square pixels of the finer in-plane spacing (predictions go "
        "back to the native grid); auto = for coronal and sagittal slices only",
        choices=("auto", "on", "off"),
    ),
    Param(
        "pos_weight",
        1.0,
        "weight of foreground pixels in the cross-entropy term (004's positive-weighted "
        "BCE); 1 = unweighted",
        **in_range(0, 1e6, lo_open=True),
    ),
    Param(
        "pos_fraction",
        0.0,
        "share of slices with foreground in every batch (004's balanced sampling); "
        "0 = plain shuffling",
        **in_range(0, 1, hi_open=True),
    ),
    Param("aug_scale", 0.0, "random zoom in [1-s, 1+s]; 0 = off", **in_range(0, 0.9)),
    Param("aug_rotate", 0.0, "random rotation in [-r, r] degrees; 0 = off", **in_range(0, 180)),
    Param("aug_blur", 0.0, "random Gaussian blur, sigma in [0, b] pixels; 0 = off", **at_least(0)),
    Param(
        "aug_brightness",
        0.0,
        "random shift of the normalised intensity in [-d, d]; 0 = off",
        **at_least(0),
    ),
)
TRAIN_PARAM_NAMES: tuple[str, ...] = tuple(p.name for p in TRAIN_PARAMS)


class SliceDataset(Dataset):
    """Stacked 2D slices: ``image`` (N, 1, H, W), ``target`` and ``weight`` (N, [K,] H, W).

    ``__getitems__`` returns a whole batch as one dict, so no per-slice collation runs.
    """

    def __init__(self, image: torch.Tensor, target: torch.Tensor, weight: torch.Tensor):
        self.tensors = {"image": image, "target": target, "weight": weight}

    def __len__(self) -> int:
        return self.tensors["image"].shape[0]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[i] for k, v in self.tensors.items()}

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        rows = torch.as_tensor(indices)
        return {k: v.index_select(0, rows) for k, v in self.tensors.items()}

    read = __getitems__


def _as_is(batch: Any) -> Any:
    return batch


def _resize(t: torch.Tensor, size: int | tuple[int, int], mode: str) -> torch.Tensor:
    """Resize the last two axes of a (N, C, H, W) tensor to ``size`` (an int: square)."""
    size = (size, size) if isinstance(size, int) else tuple(size)
    if mode == "nearest":
        return F.interpolate(t, size=size, mode="nearest")
    return F.interpolate(t, size=size, mode=mode, align_corners=False)


# -- slicing planes


def slice_view(volume: np.ndarray, axis: str) -> np.ndarray:
    """A view of ``(..., Z, Y, X)`` as ``(..., S, A, B)`` with the slicing axis first:
    axial ``(Z, Y, X)``, coronal ``(Y, Z, X)``, sagittal ``(X, Z, Y)``."""
    first = volume.ndim - 3
    return np.moveaxis(volume, first + _AXIS_DIM[axis], first)


def unslice_view(volume: np.ndarray, axis: str) -> np.ndarray:
    """The inverse of ``slice_view``."""
    first = volume.ndim - 3
    return np.moveaxis(volume, first, first + _AXIS_DIM[axis])


def in_plane_spacing(spacing: Sequence[float], axis: str) -> tuple[float, float]:
    """The pixel spacing (rows, columns) of ``axis`` slices of a ``(z, y, x)`` spacing."""
    rows, cols = (float(s) for i, s in enumerate(spacing) if i != _AXIS_DIM[axis])
    return rows, cols


def isotropic_size(shape: tuple[int, int], spacing: tuple[float, float]) -> tuple[int, int]:
    """The (rows, columns) that give square pixels of the finer of the two spacings."""
    fine = min(spacing)
    return max(1, round(shape[0] * spacing[0] / fine)), max(1, round(shape[1] * spacing[1] / fine))


def network_grid(
    shape: tuple[int, int], spacing: tuple[float, float] | None, image_size: int, isotropic: bool
) -> tuple[int, int] | None:
    """The grid slices are resampled to for the network; None = the native grid."""
    if image_size:
        return image_size, image_size
    if isotropic and spacing is not None:
        grid = isotropic_size(shape, spacing)
        return None if grid == tuple(shape) else grid
    return None


class VolumeNormaliser:
    """``intensity.apply`` of one volume, applied to any slices of it.

    Windowing and scaling act voxel by voxel, but z-score (and min-max without a window)
    needs statistics of the whole volume. They are computed once here, in the same order
    and precision as ``Intensity.apply`` (one float32 copy of the volume, freed at once),
    so a slice normalised later holds the same bits as that slice of ``apply``'s result.
    An ``Intensity`` subclass with its own ``apply`` is applied to the whole volume once
    and the result kept.
    """

    def __init__(self, intensity: Intensity, image: np.ndarray):
        self.intensity = intensity
        self.whole: np.ndarray | None = None
        self.shift = self.divisor = None
        self.lo = self.hi = None
        if type(intensity).apply is not Intensity.apply:
            self.whole = intensity.apply(image)
            return
        if intensity.normalise == "zscore":
            x = self._windowed(image)
            self.shift = x.mean()
            x -= self.shift
            self.divisor = x.std() + 1e-6
        elif intensity.normalise == "minmax" and intensity.window is None:
            x = self._windowed(image)
            self.lo, self.hi = x.min(), x.max()
        release(image)

    def _windowed(self, hu: np.ndarray) -> np.ndarray:
        x: np.ndarray = hu.astype(np.float32, copy=True)
        if self.intensity.window is not None:
            np.clip(x, self.intensity.window[0], self.intensity.window[1], out=x)
        return x

    def __call__(self, image: np.ndarray, take: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """The normalised voxels ``take(volume)`` of the volume ``image``."""
        if self.whole is not None:
            return take(self.whole)
        x = self._windowed(take(image))
        mode, window = self.intensity.normalise, self.intensity.window
        if mode == "zscore":
            x -= self.shift
            x /= self.divisor
        elif mode == "minmax":
            lo, hi = window if window is not None else (self.lo, self.hi)
            x = (x - lo) / max(hi - lo, 1e-6)
        return x


@dataclass
class CaseSlices:
    """Where one case's training slices are read from: the (memory-mapped) image, pseudo
    target and weight, and the slices along ``axis`` that train (``slices``)."""

    case_id: str
    image: np.ndarray  # HU (Z, Y, X)
    target: np.ndarray  # ([K,] Z, Y, X)
    weight: np.ndarray
    normalise: VolumeNormaliser
    axis: str
    slices: np.ndarray  # indices along axis
    keep: np.ndarray | None  # off-axial planes: which axial slices are labelled
    grid: tuple[int, int] | None  # the network grid; None = native
    multilabel: bool

    def read(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Slices ``self.slices[rows]``: image (n, 1, H, W) float32, target (n, C, H, W)
        uint8 and weight (n, C, H, W) float32, resized to the network grid."""
        picked = self.slices[rows]
        if self.axis == "axial":
            image = self.normalise(self.image, lambda v: v[picked])
            target, weight = self.target[..., picked, :, :], self.weight[..., picked, :, :]
        else:
            dim = _AXIS_DIM[self.axis]

            def take(v: np.ndarray) -> np.ndarray:
                return slice_view(np.take(v, picked, axis=v.ndim - 3 + dim), self.axis)

            image = self.normalise(self.image, take)
            target = take(self.target)
            weight = np.where(self.keep[:, None, None], np.take(self.weight, picked, -3 + dim), 0)
            weight = slice_view(weight.astype(np.float32), self.axis)
        x = torch.from_numpy(np.ascontiguousarray(image)).unsqueeze(1)
        if self.multilabel:  # (K, n, A, B) -> (n, K, A, B)
            y = torch.from_numpy(np.ascontiguousarray(target.swapaxes(0, 1)))
            w = torch.from_numpy(np.ascontiguousarray(weight.swapaxes(0, 1)))
        else:  # (n, A, B) -> (n, 1, A, B)
            y = torch.from_numpy(np.ascontiguousarray(target)).unsqueeze(1)
            w = torch.from_numpy(np.ascontiguousarray(weight)).unsqueeze(1)
        y, w = y.to(torch.uint8), w.to(torch.float32)
        release(self.image, self.target, self.weight)
        if self.grid is not None:
            x = _resize(x, self.grid, "bilinear")
            y = _resize(y.float(), self.grid, "nearest").to(torch.uint8)
            w = _resize(w, self.grid, "nearest")
        return x, y, w


class LazySliceDataset(Dataset):
    """The training slices of many cases, read batch by batch from their (memory-mapped)
    images and pseudo labels: memory does not grow with the dataset.

    A batch is ``image`` (B, 1, H, W) float32, ``target`` (B, [K,] H, W) uint8 and
    ``weight`` (B, [K,] H, W) float16; slices smaller than (H, W) are padded
    bottom-right with weight 0. ``__getitems__`` reads a whole batch at once.
    """

    def __init__(self, cases: list[CaseSlices], size: tuple[int, int], multilabel: bool):
        self.cases, self.size, self.multilabel = cases, size, multilabel
        self.channels = cases[0].target.shape[0] if multilabel else 1
        self.rows = np.concatenate(
            [
                np.stack([np.full(len(c.slices), i), np.arange(len(c.slices))], 1)
                for i, c in enumerate(cases)
            ]
        )

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[0] for k, v in self.read([i]).items()}

    def read(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        rows = self.rows[np.asarray(indices, dtype=np.int64)]
        n, (height, width) = len(rows), self.size
        image = torch.zeros(n, 1, height, width)
        target = torch.zeros(n, self.channels, height, width, dtype=torch.uint8)
        weight = torch.zeros(n, self.channels, height, width, dtype=torch.float16)
        for case in dict.fromkeys(rows[:, 0].tolist()):
            at = np.flatnonzero(rows[:, 0] == case)
            x, y, w = self.cases[case].read(rows[at, 1])
            at_t = torch.from_numpy(at)
            image[at_t, :, : x.shape[-2], : x.shape[-1]] = x
            target[at_t, :, : y.shape[-2], : y.shape[-1]] = y
            weight[at_t, :, : w.shape[-2], : w.shape[-1]] = w.to(torch.float16)
        if not self.multilabel:
            target, weight = target[:, 0], weight[:, 0]
        return {"image": image, "target": target, "weight": weight}

    __getitems__ = read


def _case_slices(case: WeakCase, lab: PseudoLabel, axis: str, image_size: int, isotropic: bool):
    """Where the training slices of one case along ``axis`` are; None when it has none.

    Along the axial axis these are the labelled slices ``lab.slices``. Along another axis
    every slice crosses all axial slices, so voxels outside ``lab.slices`` get weight 0
    and the slices that keep any weight are used.
    """
    sl = np.asarray(lab.slices, dtype=np.int64)
    if sl.size == 0:
        return None
    if sl.min() < 0 or sl.max() >= case.image.shape[0]:
        raise DataError(
            f"case {case.id!r}: slice index out of range 0..{case.image.shape[0] - 1} in "
            f"pseudo-label slices {sl.tolist()}"
        )
    keep = None
    if axis != "axial":
        keep = np.zeros(case.image.shape[0], bool)
        keep[sl] = True
        dim = _AXIS_DIM[axis]
        used = np.zeros(case.image.shape[dim], bool)
        for z in np.flatnonzero(keep):  # one axial slice of the weight at a time
            weighted = np.asarray(lab.weight[..., z, :, :]) > 0
            if lab.multilabel:
                weighted = weighted.any(0)
            used |= weighted.any(1) if dim == 1 else weighted.any(0)
        release(lab.weight)
        sl = np.flatnonzero(used)
        if sl.size == 0:
            return None
    plane = slice_view(case.image, axis).shape[1:]
    grid = network_grid(plane, in_plane_spacing(case.spacing, axis), image_size, isotropic)
    return CaseSlices(
        case_id=case.id,
        image=case.image,
        target=lab.target,
        weight=lab.weight,
        normalise=VolumeNormaliser(case.intensity, case.image),
        axis=axis,
        slices=sl,
        keep=keep,
        grid=grid,
        multilabel=bool(lab.multilabel),
    )


def build_slice_dataset(
    cases: Sequence[WeakCase],
    labels: Sequence[PseudoLabel],
    image_size: int = 0,
    axis: str = "axial",
    isotropic: bool = False,
) -> LazySliceDataset:
    """The training slices of every case along ``axis``: ``intensity.apply`` per volume,
    then ``label.slices`` (see ``_case_slices``); resized (bilinear image, nearest target
    and weight) to ``image_size`` squares, or with ``isotropic`` to square pixels.
    Slices of different sizes are padded bottom-right with weight 0. Slices are read
    per batch from the cases' arrays (memory-mapped when they come from the caches)."""
    by_id = {lab.case_id: lab for lab in labels}
    parts = []
    for case in cases:
        lab = by_id.get(case.id)
        if lab is None:
            raise DataError(
                f"case {case.id!r} has no pseudo label; the labeler must label every case"
            )
        spatial = lab.target.shape[-3:]
        if spatial != case.image.shape or lab.weight.shape != lab.target.shape:
            raise DataError(
                f"case {case.id!r}: image {case.image.shape}, pseudo target {lab.target.shape} "
                f"and weight {lab.weight.shape} do not match; the labeler must keep the image grid"
            )
        part = _case_slices(case, lab, axis, image_size, isotropic)
        if part is not None:
            parts.append(part)
    if not parts:
        raise DataError(_why_no_slices(cases))
    sizes = [p.grid or slice_view(p.image, axis).shape[1:] for p in parts]
    size = (max(s[0] for s in sizes), max(s[1] for s in sizes))
    return LazySliceDataset(parts, size, bool(labels[0].multilabel))


def positive_slices(data: SliceDataset | LazySliceDataset, chunk: int = 64) -> torch.Tensor:
    """Per slice: does it hold any foreground pixel with a non-zero weight?"""
    if isinstance(data, SliceDataset):
        target, weight = data.tensors["target"], data.tensors["weight"]
        return ((target > 0) & (weight > 0)).flatten(1).any(1)
    out = []
    for start in range(0, len(data), chunk):
        batch = data.read(range(start, min(start + chunk, len(data))))
        out.append(((batch["target"] > 0) & (batch["weight"] > 0)).flatten(1).any(1))
    return torch.cat(out)


def _why_no_slices(cases: Sequence[WeakCase]) -> str:
    """The one-line reason a training set has no labelled slice."""
    weak = sum(len(c.slices) for c in cases)
    classes = "/".join(cases[0].classes) if cases else "target"
    if weak == 0:
        return (
            f"no training slices: the weak labels of all {len(cases)} training case(s) mark "
            f"no slice, because their ground truth holds no {classes} voxel (or the protocol "
            "dropped every one); check the masks with `wsbench data check` or choose another "
            "--target"
        )
    return (
        f"no training slices: the weak labels mark {weak} slice(s) in {len(cases)} training "
        "case(s) but every pseudo label has empty `slices`; the labeler must return the "
        "slices it labelled"
    )


class SliceSegmenter(Segmenter):
    """A 2D network trained on slices and applied slice by slice to volumes.

    Subclasses set ``name``, ``params = TRAIN_PARAMS + (own params)``, ``profiles``, and
    implement ``build_model``; override ``initialise`` to load pretrained weights and
    ``compute_loss`` for another loss (deep supervision). ``warm_start`` makes the next
    ``fit`` fine-tune given weights instead of a fresh network.
    """

    params = TRAIN_PARAMS
    supports_multilabel = True  # house: sigmoid heads for multilabel targets (SMILE)

    def __init__(self, profile: str = "quick", **overrides: Any):
        super().__init__(profile, **overrides)
        self._given = set(overrides)  # an explicit epochs budget is not lifted by min_steps
        self.model: nn.Module | None = None
        self.multilabel = False
        self.out_channels = 0
        self.logit_offset = torch.zeros(())
        self.loss: LossFunction | None = None
        self.train_spacing: tuple[float, float, float] | None = None
        self._warm_state: dict[str, torch.Tensor] | None = None
        self._warm_source = ""

    # -- what a subclass provides

    def build_model(self, in_channels: int, out_channels: int) -> nn.Module:
        """A fresh network mapping (B, in_channels, H, W) to logits (B, out_channels, H, W)."""
        raise NotImplementedError

    def initialise(self, model: nn.Module) -> None:
        """Called once before training a fresh model (e.g. to load pretrained weights)."""

    def compute_loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The training loss of one (augmented) batch: ``image`` (B, 1, H, W), ``target``
        and float ``weight`` (B, [K,] H, W). The default applies ``self.loss`` (the ``loss``
        parameter, positive-weighted by ``pos_weight``) to the model's logits; override it
        for side outputs (see ``wsbench.segmenters.supervision.deep_supervision_loss``)."""
        if self.loss is None:
            raise PluginError(f"{self.name}: compute_loss runs inside fit, after the loss is set")
        logits = self.with_prior(model(batch["image"]))
        return self.loss(logits, batch["target"], batch["weight"])

    def with_prior(self, logits: torch.Tensor) -> torch.Tensor:
        """``logits`` as float, plus the class-prior offset (``sigmoid_prior``)."""
        return logits.float() + self.logit_offset.to(logits.device)

    def forward_logits(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """The logits used for prediction; override when the model returns side outputs."""
        return model(x)

    # -- training

    def train_config(self, seed: int) -> TrainConfig:
        return train_config(self.p, seed)

    def min_steps(self) -> int:
        """The step budget that lifts epochs: the profile's ``min_steps`` unless the user set
        ``epochs`` alone (then the epochs are the budget, as asked); a user's ``min_steps``
        always applies."""
        if "epochs" in self._given and "min_steps" not in self._given:
            return 0
        return int(self.p["min_steps"])

    def loss_name(self, multilabel: bool) -> str:
        name = self.p["loss"]
        if name == "auto":
            return "bce+dice" if multilabel else "ce+dice"
        return name

    def augmentation(self) -> Augmentation:
        p = self.p
        return Augmentation(p["aug_scale"], p["aug_rotate"], p["aug_blur"], p["aug_brightness"])

    @property
    def isotropic(self) -> bool:
        mode = self.p["isotropic"]
        return mode == "on" or (mode == "auto" and self.p["axis"] != "axial")

    def warm_start(self, source: Segmenter | Path | str) -> None:
        """Make the next ``fit`` start from ``source``'s weights (a trained segmenter with the
        same network, or a checkpoint it saved) instead of a fresh network: fine-tuning, as
        in self-training rounds. ``initialise`` is then skipped."""
        if isinstance(source, SliceSegmenter):
            state = source._trained_model().state_dict()
            self._warm_state = {k: v.detach().cpu().clone() for k, v in state.items()}
            self._warm_source = f"segmenter {source.name!r}"
        elif isinstance(source, (str, Path)):
            self._warm_state = read_checkpoint(Path(source))["state_dict"]
            self._warm_source = f"checkpoint {source}"
        else:
            raise PluginError(
                f"{self.name}: cannot warm-start from {type(source).__name__}; give a trained "
                "slice segmenter or a checkpoint path"
            )

    def _start_model(self, out_channels: int) -> nn.Module:
        model = self.build_model(1, out_channels)
        if self._warm_state is None:
            self.initialise(model)
            return model
        try:
            model.load_state_dict(self._warm_state)
        except RuntimeError as exc:
            raise DataError(
                f"{self.name}: cannot warm-start from {self._warm_source} "
                f"({str(exc).splitlines()[0]}); the networks differ in params or classes"
            ) from None
        return model

    def batch_sampler(
        self, data: SliceDataset | LazySliceDataset, batch_size: int, generator: torch.Generator
    ):
        """Plain seeded shuffling, or class-balanced batches when ``pos_fraction > 0``."""
        if self.p["pos_fraction"] > 0:
            return BalancedBatches(
                positive_slices(data), batch_size, self.p["pos_fraction"], generator
            )
        return ShuffledBatches(len(data), batch_size, generator)

    def fit(
        self, cases: Sequence[WeakCase], labels: Sequence[PseudoLabel], ctx: TrainContext
    ) -> dict[str, Any]:
        multilabel = check_fit_inputs(self.name, cases, labels, self.supports_multilabel)
        num_classes = len(ctx.classes or cases[0].classes)
        self.loss = positive_weighted_loss(
            self.loss_name(multilabel), multilabel, self.p["pos_weight"]
        )
        axis = self.p["axis"]
        data = build_slice_dataset(cases, labels, self.p["image_size"], axis, self.isotropic)
        if multilabel and data.channels != num_classes:
            raise DataError(
                f"{self.name}: multilabel targets have {data.channels} channels "
                f"but the task has {num_classes} classes ({', '.join(ctx.classes)})"
            )
        device = select_device(ctx.device)
        cfg = self.train_config(ctx.seed)
        generator = seed_everything(cfg.seed)
        self.multilabel = multilabel
        self.out_channels = num_classes if multilabel else num_classes + 1
        self.logit_offset = prior_offsets(self.p["sigmoid_prior"], num_classes, multilabel)
        self.train_spacing = tuple(float(v) for v in np.median([c.spacing for c in cases], 0))
        model = self._start_model(self.out_channels)
        self.model = model
        loader = DataLoader(
            data,
            batch_sampler=self.batch_sampler(data, cfg.batch_size, generator),
            collate_fn=_as_is,
        )
        per_epoch = len(loader.batch_sampler)
        cfg = dataclasses.replace(
            cfg, epochs=budget_epochs(cfg.epochs, self.min_steps(), per_epoch)
        )
        hflip = self.p["hflip"]
        augment = self.augmentation()
        augment_rng = torch.Generator().manual_seed(cfg.seed + 1) if augment.active else None

        def loss_fn(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            x, y, w = batch["image"], batch["target"], batch["weight"].float()
            if hflip:
                x, y, w = _random_hflip(x, y, w)
            batch = {"image": x, "target": y, "weight": w}
            if augment_rng is not None:
                batch = augment(batch, augment_rng)
            return self.compute_loss(model, batch)

        log = Trainer().fit(model, loader, loss_fn, cfg, device, ctx.progress)
        log["slices"] = len(data)
        if self._warm_state is not None:
            log["warm_start"] = self._warm_source
        log["steps"] = cfg.epochs * per_epoch
        return log

    # -- inference

    def predict(
        self,
        image: np.ndarray,
        intensity: Intensity,
        ctx: TrainContext,
        spacing: Sequence[float] | None = None,
    ) -> np.ndarray:
        """Probabilities ``(C, Z, Y, X)``. ``spacing`` (mm, z y x) sets the isotropic
        resampling of coronal and sagittal slices; without it the training cases' median
        spacing is assumed."""
        return self.predict_many([image], intensity, ctx, [spacing])[0]

    def predict_many(
        self,
        images: Sequence[np.ndarray],
        intensity: Intensity,
        ctx: TrainContext,
        spacings: Sequence[Sequence[float] | None] | None = None,
    ) -> list[np.ndarray]:
        """``predict`` for several volumes, their slices batched together (2D datasets such
        as chest X-rays have one slice per case). Slices are grouped by grid."""
        model = self._trained_model()
        device = select_device(ctx.device)
        model.to(device).eval()
        axis, size, iso = self.p["axis"], self.p["image_size"], self.isotropic
        spacings = list(spacings) if spacings is not None else [None] * len(images)
        volumes, outs, groups = [], [], {}
        for v, image in enumerate(images):
            x = slice_view(intensity.apply(image), axis)  # (S, A, B)
            volumes.append(x)
            outs.append(np.empty((self.out_channels, *x.shape), np.float32))
            spacing = spacings[v] if spacings[v] is not None else self.train_spacing
            plane = in_plane_spacing(spacing, axis) if spacing is not None else None
            grid = network_grid(tuple(x.shape[1:]), plane, size, iso)
            key = (tuple(x.shape[1:]), grid)
            groups.setdefault(key, []).extend((v, s) for s in range(x.shape[0]))
        step = max(1, 2 * self.p["batch_size"])
        with torch.inference_mode(), autocast(device, self.p["amp"]):
            for (native, grid), members in groups.items():
                for start in range(0, len(members), step):
                    part = members[start : start + step]
                    chunk = torch.from_numpy(
                        np.stack([volumes[v][s] for v, s in part])[:, None]
                    ).to(device)
                    if grid is not None:
                        chunk = _resize(chunk, grid, "bilinear")
                    logits = self.with_prior(self.forward_logits(model, chunk))
                    if grid is not None:
                        logits = F.interpolate(
                            logits, size=native, mode="bilinear", align_corners=False
                        )
                    prob = logits.sigmoid() if self.multilabel else logits.softmax(1)
                    prob = prob.cpu().numpy()
                    for row, (v, s) in enumerate(part):
                        outs[v][:, s] = prob[row]
        return [np.ascontiguousarray(unslice_view(out, axis)) for out in outs]

    def _trained_model(self) -> nn.Module:
        if self.model is None:
            raise PluginError(
                f"segmenter {self.name!r} has no trained model; call fit or load first"
            )
        return self.model

    # -- checkpoints

    def save(self, path: Path) -> None:
        extra = {
            "segmenter": self.name,
            "version": self.version,
            "params": dict(self.p),
            "multilabel": self.multilabel,
            "out_channels": self.out_channels,
            "logit_offset": self.logit_offset.tolist(),
            "train_spacing": list(self.train_spacing) if self.train_spacing else None,
        }
        save_checkpoint(path, self._trained_model(), extra)

    def load(self, path: Path) -> None:
        payload = read_checkpoint(path)
        extra = payload.get("extra", {})
        if extra.get("segmenter") != self.name:
            raise DataError(
                f"checkpoint {path} holds segmenter {extra.get('segmenter')!r}, not {self.name!r}; "
                "load it with the segmenter that saved it"
            )
        model = self.build_model(1, int(extra["out_channels"]))
        try:
            model.load_state_dict(payload["state_dict"])
        except RuntimeError as exc:
            raise DataError(
                f"checkpoint {path} does not fit {self.name} with params {self.p} "
                f"({str(exc).splitlines()[0]}); saved with params {extra.get('params')}"
            ) from None
        self.model, self.multilabel = model, bool(extra["multilabel"])
        self.out_channels = int(extra["out_channels"])
        self.logit_offset = torch.tensor(extra.get("logit_offset", 0.0), dtype=torch.float32)
        spacing = extra.get("train_spacing")
        self.train_spacing = tuple(float(v) for v in spacing) if spacing else None


def train_config(p: Mapping[str, Any], seed: int) -> TrainConfig:
    """The trainer's settings from a segmenter's ``TRAIN_PARAMS`` values."""
    return TrainConfig(
        epochs=p["epochs"],
        batch_size=p["batch_size"],
        lr=p["lr"],
        optimizer=p["optimizer"],
        momentum=p["momentum"],
        weight_decay=p["weight_decay"],
        poly_power=p["poly_power"],
        amp=p["amp"],
        seed=seed,
    )


def check_fit_inputs(
    name: str,
    cases: Sequence[WeakCase],
    labels: Sequence[PseudoLabel],
    supports_multilabel: bool,
) -> bool:
    """Bad input to a segmenter's ``fit`` as one clear error: one pseudo label per case, one
    kind of target, multilabel only where the segmenter has sigmoid heads. Returns whether
    the targets are multilabel."""
    if not labels or len(cases) != len(labels):
        raise DataError(
            f"{name}: got {len(cases)} cases and {len(labels)} pseudo labels; "
            "fit needs one pseudo label per case"
        )
    kinds = {bool(lab.multilabel) for lab in labels}
    if len(kinds) > 1:
        raise DataError(f"{name}: pseudo labels mix multiclass and multilabel targets")
    multilabel = kinds.pop()
    if multilabel and not supports_multilabel:
        raise DataError(  # house: bad input to fit, not a plugin combination
            f"segmenter {name!r} got multilabel pseudo labels but trains softmax "
            "outputs only; use a segmenter with supports_multilabel = True"
        )
    return multilabel


def prior_offsets(prior: float, num_classes: int, multilabel: bool) -> torch.Tensor:
    """Logit offsets, shape (channels, 1, 1), that make an untrained network (zero logits)
    predict foreground probability ``prior`` for every class.

    Sigmoid heads: logit(prior) on each of the K channels. Softmax: log(prior) on each
    foreground channel and log(1 - K * prior) on the background channel. 0.5 means no offset.
    """
    if prior == 0.5:
        return torch.zeros(())
    if multilabel:
        return torch.full((num_classes, 1, 1), math.log(prior / (1 - prior)))
    background = 1.0 - num_classes * prior
    if background <= 0:
        raise DataError(
            f"sigmoid_prior={prior} leaves no probability for background with {num_classes} "
            f"softmax classes; set it below {1 / num_classes:g} (or 0.5 for no prior)"
        )
    priors = [background] + [prior] * num_classes
    return torch.tensor([math.log(v) for v in priors], dtype=torch.float32)[:, None, None]


def budget_epochs(epochs: int, min_steps: int, steps_per_epoch: int) -> int:
    """Epochs that give at least ``min_steps`` optimiser steps (and at least ``epochs``)."""
    return max(epochs, math.ceil(min_steps / max(1, steps_per_epoch)))


def _random_hflip(*tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Flip each sample of the batch left-right with probability 1/2 (same flip for all)."""
    flip = torch.rand(tensors[0].shape[0], device=tensors[0].device) < 0.5
    return tuple(torch.where(flip.view(-1, *([1] * (t.dim() - 1))), t.flip(-1), t) for t in tensors)
