"""The 2D-on-3D adapter: train a 2D network on the labelled slices of volumes.

``SliceSegmenter`` does everything a slice-wise segmenter needs (slice dataset, head
choice, loss, training, batched inference, checkpoints); a subclass only declares its
own params and implements ``build_model``. The shared training params live in
``TRAIN_PARAMS`` so the runner can apply ``train.<param>`` overrides to any subclass.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler

from wsbench.api import Intensity, PseudoLabel, Segmenter, TrainContext, WeakCase
from wsbench.errors import DataError, PluginError
from wsbench.params import Param, at_least, in_range
from wsbench.training.device import autocast, select_device
from wsbench.training.losses import LOSS_NAMES, make_loss
from wsbench.training.trainer import (
    OPTIMIZERS,
    TrainConfig,
    Trainer,
    read_checkpoint,
    save_checkpoint,
    seed_everything,
)

TRAIN_PARAMS: tuple[Param, ...] = (
    Param("epochs", 20, "training epochs", **at_least(1)),
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
        "starting foreground probability of sigmoid heads (a fixed logit offset, like a "
        "prior-initialised bias, so small classes are not drowned at p = 0.5); 0.5 = none",
        **in_range(0, 1, lo_open=True, hi_open=True),
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


class ShuffledBatches(Sampler[list[int]]):
    """Seeded shuffled batches; a last batch of one sample joins the one before it
    (batch norm cannot train on a single sample)."""

    def __init__(self, n: int, batch_size: int, generator: torch.Generator):
        self.n, self.batch_size, self.generator = n, batch_size, generator

    def __len__(self) -> int:
        count = math.ceil(self.n / self.batch_size)
        return count - 1 if count > 1 and self.n % self.batch_size == 1 else count

    def __iter__(self) -> Iterator[list[int]]:
        order = torch.randperm(self.n, generator=self.generator).tolist()
        batches = [order[i : i + self.batch_size] for i in range(0, self.n, self.batch_size)]
        if len(batches) > 1 and len(batches[-1]) == 1:
            batches[-2].extend(batches.pop())
        return iter(batches)


def _as_is(batch: Any) -> Any:
    return batch


def _resize(t: torch.Tensor, size: int, mode: str) -> torch.Tensor:
    """Resize the last two axes of a (N, C, H, W) tensor to (size, size)."""
    if mode == "nearest":
        return F.interpolate(t, size=(size, size), mode="nearest")
    return F.interpolate(t, size=(size, size), mode=mode, align_corners=False)


def build_slice_dataset(
    cases: Sequence[WeakCase], labels: Sequence[PseudoLabel], image_size: int = 0
) -> SliceDataset:
    """The labelled slices of every case: ``intensity.apply`` per volume, then
    ``label.slices``; optionally resized (bilinear image, nearest target and weight).
    Slices of different sizes are padded bottom-right with weight 0."""
    by_id = {lab.case_id: lab for lab in labels}
    images, targets, weights = [], [], []
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
        sl = np.asarray(lab.slices, dtype=np.int64)
        if sl.size == 0:
            continue
        if sl.min() < 0 or sl.max() >= case.image.shape[0]:
            raise DataError(
                f"case {case.id!r}: slice index out of range 0..{case.image.shape[0] - 1} in "
                f"pseudo-label slices {sl.tolist()}"
            )
        x = torch.from_numpy(case.intensity.apply(case.image)[sl]).unsqueeze(1)
        if lab.multilabel:  # (K, Z, Y, X) -> (n, K, Y, X)
            y = torch.from_numpy(np.ascontiguousarray(lab.target[:, sl].swapaxes(0, 1)))
            w = torch.from_numpy(np.ascontiguousarray(lab.weight[:, sl].swapaxes(0, 1)))
        else:  # (Z, Y, X) -> (n, 1, Y, X) while resizing
            y = torch.from_numpy(lab.target[sl]).unsqueeze(1)
            w = torch.from_numpy(lab.weight[sl]).unsqueeze(1)
        y, w = y.to(torch.uint8), w.to(torch.float32)
        if image_size:
            x = _resize(x, image_size, "bilinear")
            y = _resize(y.float(), image_size, "nearest").to(torch.uint8)
            w = _resize(w, image_size, "nearest")
        images.append(x)
        targets.append(y)
        weights.append(w)
    if not images:
        raise DataError("no training slices: every pseudo label has empty `slices`")
    height = max(t.shape[-2] for t in images)
    width = max(t.shape[-1] for t in images)

    def stack(parts: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(
            [F.pad(t, (0, width - t.shape[-1], 0, height - t.shape[-2])) for t in parts]
        )

    image, target, weight = stack(images), stack(targets), stack(weights)
    if not labels[0].multilabel:
        target, weight = target[:, 0], weight[:, 0]
    # weights are mostly 0/1; half precision halves the memory of big (paper) datasets
    return SliceDataset(image.contiguous(), target.contiguous(), weight.to(torch.float16))


class SliceSegmenter(Segmenter):
    """A 2D network trained on slices and applied slice by slice to volumes.

    Subclasses set ``name``, ``params = TRAIN_PARAMS + (own params)``, ``profiles``, and
    implement ``build_model``; override ``initialise`` to load pretrained weights.
    """

    params = TRAIN_PARAMS
    supports_multilabel = True  # house: sigmoid heads for multilabel targets (SMILE)

    def __init__(self, profile: str = "quick", **overrides: Any):
        super().__init__(profile, **overrides)
        self.model: nn.Module | None = None
        self.multilabel = False
        self.out_channels = 0
        self.logit_offset = 0.0

    # -- what a subclass provides

    def build_model(self, in_channels: int, out_channels: int) -> nn.Module:
        """A fresh network mapping (B, in_channels, H, W) to logits (B, out_channels, H, W)."""
        raise NotImplementedError

    def initialise(self, model: nn.Module) -> None:
        """Called once before training a fresh model (e.g. to load pretrained weights)."""

    # -- training

    def train_config(self, seed: int) -> TrainConfig:
        p = self.p
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

    def loss_name(self, multilabel: bool) -> str:
        name = self.p["loss"]
        if name == "auto":
            return "bce+dice" if multilabel else "ce+dice"
        return name

    def fit(
        self, cases: Sequence[WeakCase], labels: Sequence[PseudoLabel], ctx: TrainContext
    ) -> dict[str, Any]:
        if not labels or len(cases) != len(labels):
            raise DataError(
                f"{self.name}: got {len(cases)} cases and {len(labels)} pseudo labels; "
                "fit needs one pseudo label per case"
            )
        kinds = {bool(lab.multilabel) for lab in labels}
        if len(kinds) > 1:
            raise DataError(f"{self.name}: pseudo labels mix multiclass and multilabel targets")
        multilabel = kinds.pop()
        if multilabel and not self.supports_multilabel:
            raise DataError(  # house: bad input to fit, not a plugin combination
                f"segmenter {self.name!r} got multilabel pseudo labels but trains softmax "
                "outputs only; use a segmenter with supports_multilabel = True"
            )
        num_classes = len(ctx.classes or cases[0].classes)
        loss = make_loss(self.loss_name(multilabel), multilabel)
        data = build_slice_dataset(cases, labels, self.p["image_size"])
        if multilabel and data.tensors["target"].shape[1] != num_classes:
            raise DataError(
                f"{self.name}: multilabel targets have {data.tensors['target'].shape[1]} channels "
                f"but the task has {num_classes} classes ({', '.join(ctx.classes)})"
            )
        device = select_device(ctx.device)
        cfg = self.train_config(ctx.seed)
        generator = seed_everything(cfg.seed)
        self.multilabel = multilabel
        self.out_channels = num_classes if multilabel else num_classes + 1
        prior = self.p["sigmoid_prior"]
        self.logit_offset = math.log(prior / (1 - prior)) if multilabel else 0.0
        offset = self.logit_offset
        model = self.build_model(1, self.out_channels)
        self.initialise(model)
        self.model = model
        loader = DataLoader(
            data,
            batch_sampler=ShuffledBatches(len(data), cfg.batch_size, generator),
            collate_fn=_as_is,
        )
        hflip = self.p["hflip"]

        def loss_fn(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            x, y, w = batch["image"], batch["target"], batch["weight"].float()
            if hflip:
                x, y, w = _random_hflip(x, y, w)
            return loss(model(x).float() + offset, y, w)

        log = Trainer().fit(model, loader, loss_fn, cfg, device, ctx.progress)
        log["slices"] = len(data)
        return log

    # -- inference

    def predict(self, image: np.ndarray, intensity: Intensity, ctx: TrainContext) -> np.ndarray:
        model = self._trained_model()
        device = select_device(ctx.device)
        model.to(device).eval()
        x = torch.from_numpy(intensity.apply(image)).unsqueeze(1)  # (Z, 1, Y, X)
        z, _, height, width = x.shape
        size = self.p["image_size"]
        out = np.empty((self.out_channels, z, height, width), np.float32)
        step = max(1, 2 * self.p["batch_size"])
        with torch.inference_mode(), autocast(device, self.p["amp"]):
            for start in range(0, z, step):
                chunk = x[start : start + step].to(device)
                if size:
                    chunk = _resize(chunk, size, "bilinear")
                logits = model(chunk).float() + self.logit_offset
                if size:
                    logits = F.interpolate(
                        logits, size=(height, width), mode="bilinear", align_corners=False
                    )
                prob = logits.sigmoid() if self.multilabel else logits.softmax(1)
                out[:, start : start + step] = prob.transpose(0, 1).cpu().numpy()
        return out

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
            "logit_offset": self.logit_offset,
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
        self.logit_offset = float(extra.get("logit_offset", 0.0))


def _random_hflip(*tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Flip each sample of the batch left-right with probability 1/2 (same flip for all)."""
    flip = torch.rand(tensors[0].shape[0], device=tensors[0].device) < 0.5
    return tuple(torch.where(flip.view(-1, *([1] * (t.dim() - 1))), t.flip(-1), t) for t in tensors)
