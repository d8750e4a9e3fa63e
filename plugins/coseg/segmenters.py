"""Segmenters ``coseg`` and ``fcn32``: networks trained and applied on lesion crops.

Training crops come from the training cases' weak labels: each RECIST mark gives one
lesion crop (``crops.crop_window``) of the image and of the pseudo label, resized to
``crop_size``. Weak labels without RECIST (a full or box label) give one crop per
connected component of the pseudo label on the labelled slices. Test crops come from
the test case's RECIST marks, the hint the runner passes (``test_hint = "recist"``);
everything outside the crops is background. Without a hint (a direct call) every slice
is one crop.

``coseg`` trains on pairs of lesions of the same cluster (``clusters``). At test time a
lesion is paired with ``partners`` training lesions of its cluster (the nearest in the
descriptor) and its probabilities are averaged over the pairs. The partners are
training lesions, kept with the model (at most ``partner_pool`` per cluster).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from wsbench.api import Intensity, PseudoLabel, RecistLabel, Segmenter, TrainContext, WeakCase
from wsbench.errors import DataError, ParameterError, PluginError
from wsbench.nn.backbones import BACKBONES, build_backbone, dilate_stage
from wsbench.params import Param, at_least, in_range
from wsbench.refine.densecrf import CrfParams, crf_params, refine
from wsbench.segmenters.slices import (
    TRAIN_PARAMS,
    budget_epochs,
    check_fit_inputs,
    train_config,
)
from wsbench.training.device import autocast, select_device
from wsbench.training.losses import make_loss
from wsbench.training.trainer import Trainer, seed_everything

from . import paper
from .attention import ATTENTIONS, CHANNEL_ATTENTIONS, SPATIAL_ATTENTIONS, PairAttention
from .clusters import (
    PAPER_LESIONS_PER_CLUSTER,
    Clusters,
    describe,
    draw_partners,
    n_clusters,
    partners_for_test,
)
from .crops import Lesion, crop_window, cut, lesion_from_recist, lesions_from_mask, paste, resize
from .networks import DECODERS, FCN32, CosegNet

# The paper states no DenseCRF values. These won on 3 validation patients' masks of an
# independent phantom draw: `python -m wsbench_plugins.coseg.tune_crf --seed 0 --val-masks 3`
# (288 settings; mean Dice per validation image 0.661, CRF off 0.642; README, Deviations).
# gaussian_sxy is moot at gaussian_compat 0.
COSEG_CRF = CrfParams(
    gaussian_sxy=1.0,
    gaussian_compat=0.0,
    bilateral_sxy=10.0,
    bilateral_srgb=5.0,
    bilateral_compat=0.5,
    margin=0,
)
TUNED_ON_VAL_MASKS = 3  # validation patients' masks behind COSEG_CRF (tune_crf.py)

_TRAIN = (
    "epochs",
    "min_steps",
    "batch_size",
    "lr",
    "optimizer",
    "momentum",
    "weight_decay",
    "poly_power",
    "loss",
    "amp",
    "hflip",
)
CROP_TRAIN_PARAMS = tuple(p for p in TRAIN_PARAMS if p.name in _TRAIN)

# Agarwal et al. 2020, §2.4: batch 20, two epochs of 12,000 iterations, SGD lr 0.01,
# momentum 0.99, weight decay 5e-4, poly 0.9 per iteration, 128 x 128 crops.
PAPER_TRAINING = {
    "epochs": 2,
    "steps_per_epoch": 12000,
    "batch_size": 20,
    "optimizer": "sgd",
    "lr": 0.01,
    "momentum": 0.99,
    "weight_decay": 5e-4,
    "poly_power": 0.9,
    "crop_size": 128,
    "backbone": "resnet101",
    "output_stride": 8,
    "width": 256,
}
QUICK_TRAINING = {
    "epochs": 2,
    "steps_per_epoch": 100,
    "batch_size": 8,
    "optimizer": "sgd",
    "lr": 0.01,
    "momentum": 0.9,
    "weight_decay": 5e-4,
    "crop_size": 64,
    "backbone": "resnet18",
    "output_stride": 16,  # 4x fewer operations than 8 on a CPU
    "width": 32,
}

CROP_PARAMS: tuple[Param, ...] = (
    CROP_TRAIN_PARAMS
    + (
        Param(
            "steps_per_epoch",
            0,
            "optimiser steps per epoch (paper: 12,000); 0 = one pass over the training lesions",
            **at_least(0),
        ),
        Param("crop_size", 128, "lesion crops are resized to this square size", **at_least(16)),
        Param(
            "crop_context",
            0.5,
            "context around the RECIST box on every side, as a fraction of its larger side "
            "(not stated by Agarwal et al. 2020)",
            **in_range(0, 4),
        ),
        Param("backbone", "resnet101", "encoder (a dilated ResNet)", choices=BACKBONES[:3]),
        Param("output_stride", 8, "encoder output stride (DRN: 8)", choices=(8, 16, 32)),
        Param(
            "multi_grid",
            "none",
            "dilation rates of the last stage's blocks, e.g. 2,4,8 (DRN-MG-101); none = the "
            "output stride's own",
            type=str,
        ),
        Param("width", 256, "channels of the decoder / FCN head", **at_least(8)),
        Param(
            "backbone_weights",
            "",
            "local torchvision state dict of the encoder (ImageNet); empty = random init",
            type=str,
        ),
        Param(
            "whole_slices",
            False,
            "without RECIST weak labels, also train on each labelled slice whole (what a "
            "prediction without a RECIST hint sees); off: they drowned the lesion crops and "
            "the oracle cell predicted nothing in 2 of 3 seeds",
        ),
        Param("crf", False, "refine each crop with the DenseCRF (wsbench.refine)"),
    )
    + tuple(
        dataclasses.replace(p, doc=f"{p.doc} (Agarwal et al. 2020: not stated; tune_crf.py)")
        for p in crf_params(COSEG_CRF)
    )
    + (
        Param(
            "val_masks",
            TUNED_ON_VAL_MASKS,
            "full validation masks the crf_* defaults were tuned on (tune_crf.py; recorded in "
            "provenance and on the leaderboard); counted with crf=true only; set 0 when you "
            "set the crf_* values by hand",
            **at_least(0),
        ),
    )
)


def parse_rates(text: str, key: str) -> tuple[int, ...] | None:
    if str(text).strip().lower() in ("none", "", "1"):
        return None
    try:
        rates = tuple(int(v) for v in str(text).split(","))
    except ValueError:
        raise ParameterError(
            f"{key}={text!r} must be none or comma-separated integers, e.g. 2,4,8"
        ) from None
    if min(rates) < 1:
        raise ParameterError(f"{key}={text!r} must be positive integers")
    return rates


@dataclasses.dataclass
class CropSet:
    """Training lesions and their crops: image (N, 1, S, S), target and weight (N, S, S)."""

    lesions: list[Lesion]
    descriptors: np.ndarray
    image: torch.Tensor
    target: torch.Tensor
    weight: torch.Tensor


def case_lesions(
    index: int, case: WeakCase, label: PseudoLabel, whole_slices: bool = False
) -> list[Lesion]:
    """The lesions of a training case: its RECIST marks. Without RECIST (full or box weak
    labels), the connected components of the pseudo label where it has weight, on its
    labelled slices: crops like those a test-time RECIST hint gives; ``whole_slices``
    adds each labelled slice whole (what a prediction without a hint sees)."""
    spacing = case.spacing[1:]
    if isinstance(case.weak, RecistLabel):
        return [lesion_from_recist(index, m, spacing) for m in case.weak.lesions]
    target = np.where(np.asarray(label.weight) > 0, label.foreground(), 0)
    _, h, w = target.shape
    side = float(max(h, w))
    out = []
    for z in np.asarray(label.slices).tolist():
        out += lesions_from_mask(index, int(z), target[z], spacing)
        if whole_slices:
            out.append(Lesion(index, int(z), (0, 0, h, w), side, side, 0))
    return out


def whole_slice(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The square window of a whole slice (padded bottom-right)."""
    side = max(shape[-2:])
    return 0, 0, side, side


class CropSegmenter(Segmenter):
    """Shared machinery: crops, training loop, crop-wise prediction, CRF, checkpoints."""

    test_hint = "recist"
    in_default_grid = False  # paper plugins are named on the command line
    reported = paper.REPORTED
    citation = paper.CITATION
    version = "0.2.0"  # CRF defaults chosen on validation masks (tune_crf.py, val_masks=3)
    params = CROP_PARAMS
    profiles: ClassVar[dict[str, dict[str, Any]]] = {
        "quick": QUICK_TRAINING,
        "paper": PAPER_TRAINING,
    }

    def __init__(self, profile: str = "quick", **overrides: Any):
        super().__init__(profile, **overrides)
        self._given = set(overrides)
        if not self.p["crf"]:  # the budget was spent on the CRF defaults only
            self.p["val_masks"] = 0
        self.model: nn.Module | None = None
        self.out_channels = 0
        parse_rates(self.p["multi_grid"], f"{self.name}.multi_grid")

    # -- what a subclass provides

    def build_network(self, out_channels: int) -> nn.Module:
        raise NotImplementedError

    def batch_loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def crop_probs(
        self, model: nn.Module, x: torch.Tensor, descriptors: np.ndarray
    ) -> torch.Tensor:
        """Class probabilities (N, C, S, S) of crops ``x`` (N, 1, S, S)."""
        raise NotImplementedError

    def prepare(self, crops: CropSet, seed: int) -> None:
        """Called once before training (coseg clusters the lesions here)."""

    # -- shared pieces

    def encoder(self) -> nn.Module:
        p = self.p
        net = build_backbone(p["backbone"], p["output_stride"], in_channels=1)
        rates = parse_rates(p["multi_grid"], f"{self.name}.multi_grid")
        if rates is not None:
            layer = net.net.layer4
            dilate_stage(layer, [rates[i % len(rates)] for i in range(len(layer))])
        if p["backbone_weights"]:
            net.load_weights(p["backbone_weights"], f"{self.name}.backbone_weights")
        return net

    def crops_of(self, cases: Sequence[WeakCase], labels: Sequence[PseudoLabel]) -> CropSet:
        size, context = self.p["crop_size"], self.p["crop_context"]
        lesions, descriptors, images, targets, weights = [], [], [], [], []
        for i, (case, label) in enumerate(zip(cases, labels)):
            normalised = case.intensity.apply(case.image)
            fill = float(normalised.min())
            target = label.foreground()
            for lesion in case_lesions(i, case, label, self.p["whole_slices"]):
                window = (
                    whole_slice(normalised.shape)
                    if lesion.cls == 0
                    else crop_window(lesion.box, context)
                )
                z = lesion.z
                lesions.append(lesion)
                descriptors.append(describe(lesion, case.image[z]))
                images.append(cut(normalised[z], window, fill))
                targets.append(cut(target[z], window, 0))
                weights.append(cut(np.asarray(label.weight[z], np.float32), window, 0.0))
        if not lesions:
            raise DataError(
                f"{self.name}: the training cases hold no lesion (no RECIST mark and no "
                "foreground in the pseudo labels); check the weak labels"
            )
        image = torch.stack([resize(im[None], size, "bilinear")[0] for im in images])[:, None]
        target = torch.stack(
            [resize(t[None].astype(np.float32), size, "nearest")[0] for t in targets]
        )
        weight = torch.stack([resize(w[None], size, "nearest")[0] for w in weights])
        return CropSet(lesions, np.stack(descriptors), image, target.to(torch.uint8), weight)

    def fit(
        self, cases: Sequence[WeakCase], labels: Sequence[PseudoLabel], ctx: TrainContext
    ) -> dict[str, Any]:
        check_fit_inputs(self.name, cases, labels, supports_multilabel=False)
        p = self.p
        self.out_channels = len(ctx.classes or cases[0].classes) + 1
        crops = self.crops_of(cases, labels)
        generator = seed_everything(ctx.seed)
        self.prepare(crops, ctx.seed)
        self.model = model = self.build_network(self.out_channels)
        self.loss = make_loss("ce+dice" if p["loss"] == "auto" else p["loss"], False)
        n = len(crops.lesions)
        per_epoch = p["steps_per_epoch"] or math.ceil(n / p["batch_size"])
        epochs = p["epochs"]
        if not ("epochs" in self._given and "min_steps" not in self._given):
            epochs = budget_epochs(epochs, p["min_steps"], per_epoch)
        cfg = dataclasses.replace(train_config(p, ctx.seed), epochs=epochs)
        loader = LesionBatches(crops, per_epoch, p["batch_size"], generator, self.pair_with)
        hflip = p["hflip"]
        flip_rng = torch.Generator().manual_seed(ctx.seed + 1)

        def loss_fn(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            if hflip:
                batch = flip_batch(batch, flip_rng)
            return self.batch_loss(model, batch)

        log = Trainer().fit(model, loader, loss_fn, cfg, select_device(ctx.device), ctx.progress)
        log["lesions"] = n
        log["steps"] = epochs * per_epoch
        return log

    def pair_with(self, index: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
        """Partner lesions of a batch (coseg); None for single-image networks."""
        return None

    # -- inference

    def predict(
        self,
        image: np.ndarray,
        intensity: Intensity,
        ctx: TrainContext,
        spacing: Sequence[float] | None = None,
        hint: RecistLabel | None = None,
    ) -> np.ndarray:
        """Probabilities (K+1, Z, Y, X): the crops of the hint's RECIST marks, background
        elsewhere; without a hint every slice is one crop."""
        model = self._trained_model()
        device = select_device(ctx.device)
        model.to(device).eval()
        p = self.p
        spacing_yx = tuple(spacing[1:]) if spacing is not None else (1.0, 1.0)
        normalised = intensity.apply(image)
        fill = float(normalised.min())
        prob = np.zeros((self.out_channels, *image.shape), np.float32)
        prob[0] = 1.0
        lesions, windows = self.test_crops(image.shape, spacing_yx, hint)
        if not lesions:
            return prob
        descriptors = np.stack([describe(le, image[le.z]) for le in lesions])
        x = torch.stack(
            [
                resize(cut(normalised[le.z], win, fill)[None], p["crop_size"], "bilinear")[0]
                for le, win in zip(lesions, windows)
            ]
        )[:, None]
        with torch.inference_mode(), autocast(device, p["amp"]):
            crop_prob = self.crop_probs(model, x.to(device), descriptors).float().cpu().numpy()
        crf = CrfParams.from_plugin(p) if p["crf"] else None
        for le, win, cp in zip(lesions, windows, crop_prob):
            paste(prob, cp, le.z, win)
        if crf is not None:
            self._refine(prob, image, intensity, lesions, windows, crf)
        return prob

    def test_crops(
        self, shape: tuple[int, ...], spacing_yx: Sequence[float], hint: RecistLabel | None
    ) -> tuple[list[Lesion], list[tuple[int, int, int, int]]]:
        """The lesions of a test image and their crop windows: one per RECIST mark of the
        hint, or every slice whole without a hint."""
        if hint is not None and not isinstance(hint, RecistLabel):
            raise DataError(
                f"{self.name}: the test-time hint is a {type(hint).__name__}, not RECIST marks; "
                "run it with a recist weak label (--weak recist, or DeepLesion's --weak native)"
            )
        if hint is not None:
            lesions = [lesion_from_recist(0, m, tuple(spacing_yx)) for m in hint.lesions]
            return lesions, [crop_window(le.box, self.p["crop_context"]) for le in lesions]
        z, h, w = shape
        lesions = [Lesion(0, s, (0, 0, h, w), max(h, w), max(h, w), 0) for s in range(z)]
        return lesions, [whole_slice(shape) for _ in range(z)]

    def refine_prediction(
        self,
        prob: np.ndarray,
        image: np.ndarray,
        intensity: Intensity,
        spacing: Sequence[float],
        hint: RecistLabel | None,
        crf: CrfParams,
    ) -> np.ndarray:
        """A copy of ``predict``'s CRF-free probabilities refined with ``crf`` (what
        ``crf=true`` gives; tune_crf.py scores settings without predicting again)."""
        out = prob.copy()
        lesions, windows = self.test_crops(image.shape, tuple(spacing[1:]), hint)
        self._refine(out, image, intensity, lesions, windows, crf)
        return out

    def _refine(self, prob, image, intensity, lesions, windows, crf) -> None:
        """DenseCRF on each crop's window (clipped to the slice), through the core refine."""
        _, _, h, w = prob.shape
        for le, (y0, x0, y1, x1) in zip(lesions, windows):
            box = (max(0, y0), max(0, x0), min(h, y1), min(w, x1))
            if box[2] <= box[0] or box[3] <= box[1]:
                continue
            fg_old = 1.0 - prob[0, le.z]
            fg = refine(intensity.to_uint8(image[le.z]), fg_old, crf, crop=box)
            scale = np.where(fg_old > 1e-6, fg / np.maximum(fg_old, 1e-6), 0.0)
            prob[1:, le.z] *= scale[None]
            if prob.shape[0] == 2:
                prob[1, le.z] = fg
            prob[0, le.z] = 1.0 - prob[1:, le.z].sum(0)

    def _trained_model(self) -> nn.Module:
        if self.model is None:
            raise PluginError(
                f"segmenter {self.name!r} has no trained model; call fit or load first"
            )
        return self.model

    # -- checkpoints

    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra(self, extra: dict[str, Any]) -> None:
        pass

    def save(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu() for k, v in self._trained_model().state_dict().items()}
        torch.save(
            {
                "segmenter": self.name,
                "params": {k: v for k, v in self.p.items()},
                "out_channels": self.out_channels,
                "state_dict": state,
                "extra": self.extra_state(),
            },
            path,
        )

    def load(self, path: Path) -> None:
        path = Path(path)
        if not path.is_file():
            raise DataError(f"checkpoint {path} does not exist; train first or check the path")
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(payload, dict) or payload.get("segmenter") != self.name:
            raise DataError(
                f"checkpoint {path} was not saved by segmenter {self.name!r}; load it with "
                "the segmenter that saved it"
            )
        self.out_channels = int(payload["out_channels"])
        self.load_extra(payload["extra"])
        model = self.build_network(self.out_channels)
        try:
            model.load_state_dict(payload["state_dict"])
        except RuntimeError as exc:
            raise DataError(
                f"checkpoint {path} does not fit {self.name} with params {self.p} "
                f"({str(exc).splitlines()[0]}); saved with params {payload.get('params')}"
            ) from None
        self.model = model


def flip_batch(batch: dict[str, torch.Tensor], rng: torch.Generator) -> dict[str, torch.Tensor]:
    """Flip each sample (and its partner with it) left-right with probability 1/2."""
    n = batch["image"].shape[0]
    flip = torch.rand(n, generator=rng) < 0.5
    out = {}
    for key, t in batch.items():
        view = flip.view(-1, *([1] * (t.dim() - 1)))
        out[key] = torch.where(view, t.flip(-1), t)
    return out


class LesionBatches:
    """``steps`` seeded batches of lesion crops per epoch (and their partners' crops)."""

    def __init__(self, crops: CropSet, steps: int, batch_size: int, generator, pair_with):
        self.crops, self.steps, self.batch_size = crops, steps, batch_size
        self.rng = np.random.default_rng(int(torch.randint(2**31, (1,), generator=generator)))
        self.pair_with = pair_with

    def __len__(self) -> int:
        return self.steps

    def __iter__(self):
        n = len(self.crops.lesions)
        order = np.empty(0, np.int64)
        for _ in range(self.steps):
            while len(order) < self.batch_size:
                order = np.concatenate([order, self.rng.permutation(n)])
            index, order = order[: self.batch_size], order[self.batch_size :]
            c = self.crops
            rows = torch.from_numpy(index)
            batch = {"image": c.image[rows], "target": c.target[rows], "weight": c.weight[rows]}
            partners = self.pair_with(index, self.rng)
            if partners is not None:
                prow = torch.from_numpy(partners)
                batch.update(
                    image_b=c.image[prow], target_b=c.target[prow], weight_b=c.weight[prow]
                )
            yield batch


class Fcn32Segmenter(CropSegmenter):
    name = "fcn32"
    citation = (
        "Long J, Shelhamer E, Darrell T. Fully Convolutional Networks for Semantic "
        "Segmentation. CVPR 2015; on a dilated ResNet-101 as the baseline of " + paper.CITATION
    )

    def build_network(self, out_channels: int) -> nn.Module:
        return FCN32(self.encoder(), out_channels, self.p["width"])

    def batch_loss(self, model, batch):
        return self.loss(model(batch["image"]).float(), batch["target"], batch["weight"])

    def crop_probs(self, model, x, descriptors):
        return model(x).float().softmax(1)


COSEG_PARAMS: tuple[Param, ...] = CROP_PARAMS + (
    Param(
        "attention",
        "csa",
        "bottleneck attention: csa = CA x SA, danet = DANet's position + channel modules "
        "(Table 3), none = no attention",
        choices=ATTENTIONS,
    ),
    Param("ca", "se", "channel attention of csa (Table 3)", choices=CHANNEL_ATTENTIONS),
    Param("sa", "msa", "spatial attention of csa (Table 3)", choices=SPATIAL_ATTENTIONS),
    Param(
        "shared",
        True,
        "the pair shares the channel attention (the product of both images' vectors); "
        "false = each image its own",
    ),
    Param("decoder", "d1", "d1 = Chen et al. 2018's decoder, d2 = DeepLabV3+", choices=DECODERS),
    Param(
        "lesions_per_cluster",
        PAPER_LESIONS_PER_CLUSTER,
        "k = ceil(training lesions / this), at most max_clusters (paper: 32,735 lesions in "
        "200 clusters)",
        **at_least(1),
    ),
    Param("max_clusters", 200, "upper bound on k (paper: 200)", **at_least(1)),
    Param(
        "partners",
        3,
        "training lesions of its cluster each test lesion is paired with; its mask is the "
        "mean over the pairs (not stated by Agarwal et al. 2020)",
        **at_least(1),
    ),
    Param(
        "pairing",
        "cluster",
        "partners: cluster = a lesion of the same cluster (the paper), self = the image "
        "itself (no co-segmentation; a mutant)",
        choices=("cluster", "self"),
    ),
    Param(
        "partner_pool", 16, "training crops kept per cluster for test-time pairing", **at_least(1)
    ),
)


class CosegSegmenter(CropSegmenter):
    name = "coseg"
    params = COSEG_PARAMS
    profiles: ClassVar[dict[str, dict[str, Any]]] = {
        "quick": {**QUICK_TRAINING, "batch_size": 4, "lesions_per_cluster": 32, "max_clusters": 4},
        # a batch of 10 pairs is the paper's 20 images
        "paper": {**PAPER_TRAINING, "batch_size": 10},
    }

    def __init__(self, profile: str = "quick", **overrides: Any):
        super().__init__(profile, **overrides)
        self.clusters: Clusters | None = None
        self.pool: dict[str, torch.Tensor] = {}

    def build_network(self, out_channels: int) -> nn.Module:
        p = self.p
        backbone = self.encoder()
        rates = (12, 24, 36) if p["output_stride"] == 8 else (6, 12, 18)
        attention = PairAttention(
            backbone.channels["c4"],
            p["attention"],
            p["ca"],
            p["sa"],
            p["shared"],
            rates,
            p["width"],
        )
        return CosegNet(backbone, out_channels, attention, p["decoder"], p["width"], rates)

    def prepare(self, crops: CropSet, seed: int) -> None:
        p = self.p
        k = n_clusters(len(crops.lesions), p["lesions_per_cluster"], p["max_clusters"])
        self.clusters = Clusters.fit(crops.descriptors, k, seed)
        self._members = self.clusters.members()
        keep = np.concatenate([m[: p["partner_pool"]] for m in self._members])
        self.pool = {
            "index": torch.from_numpy(keep),
            "image": crops.image[torch.from_numpy(keep)].clone(),
            "descriptors": torch.from_numpy(crops.descriptors[keep]),
            "labels": torch.from_numpy(self.clusters.labels[keep]),
        }

    def pair_with(self, index: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.p["pairing"] == "self":
            return index.copy()
        return draw_partners(index, self.clusters.labels, self._members, rng)

    def batch_loss(self, model, batch):
        la, lb = model(batch["image"], batch["image_b"])
        return 0.5 * (
            self.loss(la.float(), batch["target"], batch["weight"])
            + self.loss(lb.float(), batch["target_b"], batch["weight_b"])
        )

    def crop_probs(self, model, x, descriptors):
        n_partners = self.p["partners"]
        out = []
        pool_clusters = Clusters(
            self.clusters.mean,
            self.clusters.scale,
            self.clusters.centroids,
            self.pool["labels"].numpy(),
        )
        pool_desc = self.pool["descriptors"].numpy()
        for i in range(x.shape[0]):
            if self.p["pairing"] == "self":
                partners = x[i : i + 1]
            else:
                chosen = partners_for_test(descriptors[i], pool_clusters, pool_desc, n_partners)
                if len(chosen) == 0:  # an empty cluster in the pool: pair with itself
                    partners = x[i : i + 1]
                else:
                    partners = self.pool["image"][torch.from_numpy(chosen)].to(x.device)
            a = x[i : i + 1].expand(partners.shape[0], -1, -1, -1)
            logits, _ = model(a, partners)
            out.append(logits.float().softmax(1).mean(0))
        return torch.stack(out)

    def extra_state(self) -> dict[str, Any]:
        c = self.clusters
        return {
            "mean": torch.from_numpy(c.mean),
            "scale": torch.from_numpy(c.scale),
            "centroids": torch.from_numpy(c.centroids),
            "labels": torch.from_numpy(c.labels),
            **{f"pool_{k}": v for k, v in self.pool.items()},
        }

    def load_extra(self, extra: dict[str, Any]) -> None:
        self.clusters = Clusters(
            extra["mean"].numpy(),
            extra["scale"].numpy(),
            extra["centroids"].numpy(),
            extra["labels"].numpy(),
        )
        self.pool = {k[5:]: v for k, v in extra.items() if k.startswith("pool_")}
