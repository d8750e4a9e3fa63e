"""The ``reipatch`` segmenter: Ouassit et al. 2022's cascade, self-labelling and planes.

Per plane (``plane=axial|coronal|sagittal``, or ``fused`` for all three):

1. preprocessing (§3.2): the dataset's HU window and z-score, then a median filter;
2. the localisation network (§3.3) on full slices, and its Grad-CAM box prior;
3. the tuning network (§3.4-3.7) on (slice, box prior), with the multi-level loss (§3.6);
4. Algorithm 1 (§3.8): rounds of self-labelled patches (mu >= 0.3), fine-tuning, until the
   validation Dice stops improving; the best round's weights are kept.

``fused`` soft-votes the three planes' probability volumes (Eq. 8); a connected-component
filter then removes foreground components smaller than ``min_component`` voxels (§3.9).
The segmenter trains on any labeler's pseudo masks: under ``--labeler oracle`` it is the
paper's own, fully supervised setting.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import nn

from wsbench.api import Intensity, PseudoLabel, Segmenter, TrainContext, WeakCase
from wsbench.errors import DataError, PluginError
from wsbench.params import Param, at_least, in_range
from wsbench.segmenters.slices import (
    AXES,
    build_slice_dataset,
    check_fit_inputs,
    slice_view,
    unslice_view,
)
from wsbench.segmenters.supervision import deep_supervision_loss
from wsbench.training.batches import ShuffledBatches
from wsbench.training.device import autocast, select_device
from wsbench.training.losses import make_loss
from wsbench.training.trainer import (
    TrainConfig,
    Trainer,
    read_checkpoint,
    save_checkpoint,
    seed_everything,
)

from .localisation import DropoutUNet, LocalisationSegmenter, box_priors
from .network import PATCH_INPUTS, TuningNet
from .paper import CITATION, REPORTED
from .patches import self_labelled_patches
from .preprocess import preprocess_cases, with_median

PLANES = (*AXES, "fused")
FUSIONS = ("soft", "union", "intersection")


def _rates(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in str(text).split(","))


def _valid_rates(text: Any) -> bool:
    try:
        rates = _rates(text)
    except ValueError:
        return False
    return len(rates) >= 1 and all(r >= 1 for r in rates)


RATES_DOC = {"check": _valid_rates, "check_doc": "comma-separated integers >= 1, e.g. 6,12,18"}


class _Batches:
    """Seeded shuffled batches of in-memory tensors, re-drawn every epoch."""

    def __init__(self, tensors: dict[str, torch.Tensor], batch_size: int, gen: torch.Generator):
        self.tensors = tensors
        self.sampler = ShuffledBatches(len(tensors["image"]), batch_size, gen)

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self):
        for rows in self.sampler:
            index = torch.as_tensor(rows)
            yield {k: v.index_select(0, index) for k, v in self.tensors.items()}


def fuse(probs: Sequence[np.ndarray], fusion: str) -> np.ndarray:
    """Combine per-plane softmax volumes (C, Z, Y, X): ``soft`` = their mean (Eq. 8);
    ``union`` / ``intersection`` = hard voting on the argmax masks (the alternatives the
    paper rejects), returned as one-hot probabilities."""
    if fusion == "soft" or len(probs) == 1:
        return np.mean(probs, axis=0).astype(np.float32)
    labels = [p.argmax(0) for p in probs]
    fg = [lab > 0 for lab in labels]
    keep = np.logical_or.reduce(fg) if fusion == "union" else np.logical_and.reduce(fg)
    mean = np.mean(probs, axis=0)
    cls = np.where(keep, mean[1:].argmax(0) + 1, 0)
    out = np.zeros_like(mean, dtype=np.float32)
    for c in range(out.shape[0]):
        out[c] = cls == c
    return out


def remove_small_components(prob: np.ndarray, min_voxels: int) -> np.ndarray:
    """Set foreground components (3D, 26-connected) of the argmax map smaller than
    ``min_voxels`` to background (probability 1 of class 0). 0 = keep all."""
    if min_voxels <= 0:
        return prob
    foreground = prob.argmax(0) > 0
    labels, n = ndimage.label(foreground, structure=np.ones((3, 3, 3), bool))
    if n == 0:
        return prob
    sizes = np.bincount(labels.ravel())
    small = (sizes < min_voxels)[labels] & foreground
    if small.any():
        prob = prob.copy()
        prob[:, small] = 0.0
        prob[0, small] = 1.0
    return prob


class ReipatchSegmenter(Segmenter):
    name = "reipatch"
    version = "0.1.0"
    citation = CITATION
    reported = REPORTED
    in_default_grid = False
    params = (
        Param("plane", "axial", "slicing plane, or fused = soft vote of all three", choices=PLANES),
        Param("fusion", "soft", "how fused combines the planes (the paper: soft)", choices=FUSIONS),
        Param(
            "median_size",
            3,
            "median filter size in pixels (Ouassit et al. 2022 §3.2 gives none); <= 1 = off",
            **at_least(0),
        ),
        Param(
            "image_size",
            96,
            "slices resized to this square for both networks; 0 = native",
            **at_least(0),
        ),
        Param("epochs", 20, "tuning-network epochs of round 0", **at_least(1)),
        Param("min_steps", 0, "round 0 gets at least this many optimiser steps", **at_least(0)),
        Param("finetune_epochs", 5, "fine-tuning epochs of every later round", **at_least(1)),
        Param(
            "rounds", 2, "most self-labelling rounds after round 0 (Table 5: N = 7)", **at_least(0)
        ),
        Param(
            "patience",
            1,
            "rounds without a better validation Dice before stopping; 0 = run every round",
            **at_least(0),
        ),
        Param("mu", 0.3, "area threshold A/C of a self-labelled patch (Eq. 7)", **in_range(0, 1)),
        Param(
            "max_patches",
            0,
            "at most this many self-labelled patches per round, drawn at random (seeded); "
            "0 = all (the paper)",
            **at_least(0),
        ),
        Param(
            "self_label",
            True,
            "add self-labelled patches in rounds >= 1 (false: the "
            "rounds fine-tune on the pseudo labels alone)",
        ),
        Param("batch_size", 4, "slices per batch", **at_least(2)),
        Param("lr", 1e-4, "Adam learning rate", **in_range(0, 10, lo_open=True)),
        Param("poly_power", 0.0, "poly LR power; 0 = constant", **at_least(0)),
        Param("amp", True, "bf16 autocast (CUDA only)"),
        Param("width", 64, "tuning network: channels of the first level", **in_range(1, 512)),
        Param("depth", 4, "tuning network: number of 2x poolings", **in_range(1, 6)),
        Param("first_rates", "1,2,4,8", "dilation rates of the first encoder layer", **RATES_DOC),
        Param(
            "aspp_rates",
            "6,12,18",
            "ASPP rates (§3.5; Fig. 10's caption says 4,8,12,16)",
            **RATES_DOC,
        ),
        Param("aspp_channels", 64, "ASPP output channels", **at_least(1)),
        Param(
            "patch_inputs",
            "pyramid",
            "multi-level patch inputs: pyramid (image at 1/2, "
            "1/4, 1/8), tiles (non-overlapping tiles as channels) or none",
            choices=PATCH_INPUTS,
        ),
        Param("convbox", True, "multiply ConvBox(box prior) into every skip connection"),
        Param("dropout", 0.2, "dropout of both networks (Table 2)", **in_range(0, 1, hi_open=True)),
        Param(
            "loss_levels",
            0,
            "multi-level loss: 0 = every level (Eq. 6, N = depth + 1); "
            "1 = one BCE + Dice loss on the top output only",
            **in_range(0, 1),
        ),
        Param("loc_epochs", 20, "localisation network epochs", **at_least(1)),
        Param("loc_min_steps", 0, "localisation network: at least this many steps", **at_least(0)),
        Param(
            "loc_width", 64, "localisation network: channels of the first level", **in_range(1, 512)
        ),
        Param("loc_depth", 4, "localisation network: number of 2x poolings", **in_range(1, 6)),
        Param("cam_threshold", 0.3, "Grad-CAM threshold of the ROI (box prior)", **in_range(0, 1)),
        Param(
            "crf_iterations", 5, "DenseCRF iterations on the Grad-CAM; 0 = no CRF", **at_least(0)
        ),
        Param("box_margin", 2, "pixels added around each ROI box", **at_least(0)),
        Param(
            "min_component",
            50,
            "post-processing: foreground components below this many "
            "voxels are removed (§3.9 gives no size); 0 = off",
            **at_least(0),
        ),
    )
    profiles: ClassVar[dict[str, dict[str, Any]]] = {
        # CPU-sized: widths 8, 96 px, 2 rounds; step floors so tiny phantoms are not starved
        "quick": {
            "image_size": 96,
            "epochs": 4,
            "min_steps": 100,
            "finetune_epochs": 1,
            "rounds": 2,
            "lr": 3e-3,
            "width": 8,
            "depth": 3,
            "first_rates": "1,2,4",
            "aspp_channels": 32,
            "loc_epochs": 4,
            "loc_min_steps": 80,
            "loc_width": 8,
            "loc_depth": 3,
            "crf_iterations": 0,
            "max_patches": 64,
            "min_component": 20,
        },
        # Table 2: Adam, lr 1e-4, dropout 0.2, 100 epochs, early stopping 50, batch 4,
        # 512 x 512; Table 5 runs N = 0..7. Widths: 64 doubling over 4 levels (40.1 M
        # parameters against the paper's 38.06 M; the paper gives no widths).
        "paper": {
            "image_size": 512,
            "epochs": 100,
            "finetune_epochs": 10,
            "rounds": 7,
            "lr": 1e-4,
            "loc_epochs": 100,
        },
    }

    def __init__(self, profile: str = "quick", **overrides: Any):
        super().__init__(profile, **overrides)
        self._given = set(overrides)  # an explicit epochs budget is not lifted by min_steps
        self.planes: dict[str, nn.ModuleDict] = {}  # axis -> {"loc": ..., "tune": ...}
        self.out_channels = 0
        self._active: tuple[str, ...] | None = None  # planes used by predict (validation)

    # -- networks

    def _axes(self) -> tuple[str, ...]:
        plane = self.p["plane"]
        return AXES if plane == "fused" else (plane,)

    def build_tuning(self, out_channels: int) -> TuningNet:
        p = self.p
        return TuningNet(
            out_channels,
            width=p["width"],
            depth=p["depth"],
            first_rates=_rates(p["first_rates"]),
            aspp_rates=_rates(p["aspp_rates"]),
            aspp_channels=p["aspp_channels"],
            patch_inputs=p["patch_inputs"],
            convbox=p["convbox"],
            dropout=p["dropout"],
        )

    def build_localiser(self, out_channels: int) -> DropoutUNet:
        p = self.p
        return DropoutUNet(1, out_channels, p["loc_width"], p["loc_depth"], p["dropout"])

    def step_floor(self, epochs: str, steps: str) -> int:
        """The step floor ``steps`` unless the user gave ``epochs`` alone (as SliceSegmenter)."""
        if epochs in self._given and steps not in self._given:
            return 0
        return int(self.p[steps])

    def localisation_segmenter(self, axis: str) -> LocalisationSegmenter:
        p = self.p
        return LocalisationSegmenter(
            profile="quick",
            axis=axis,
            isotropic="off",
            image_size=p["image_size"],
            epochs=p["loc_epochs"],
            min_steps=self.step_floor("loc_epochs", "loc_min_steps"),
            batch_size=p["batch_size"],
            lr=p["lr"],
            optimizer="adam",
            poly_power=p["poly_power"],
            loss="ce+dice",
            sigmoid_prior=0.5,  # no class prior: Grad-CAM reads the raw logits
            amp=p["amp"],
            width=p["loc_width"],
            depth=p["loc_depth"],
            dropout=p["dropout"],
        )

    # -- loss

    def loss(self, outputs: list[torch.Tensor], target: torch.Tensor, weight: torch.Tensor):
        """Eq. 6: level i = 1 (bottleneck) .. N (top) of N = depth + 1 side outputs,
        l = sum_{i=2..N} (N - i) BCE_i + i Dice_i; ``loss_levels=1``: BCE + Dice of the top
        output alone (Table 4's "without")."""
        bce, dice = make_loss("ce", False), make_loss("dice", False)
        if self.p["loss_levels"] == 1:
            top = outputs[-1].float()
            return bce(top, target, weight) + dice(top, target, weight)
        n = len(outputs)
        return deep_supervision_loss(
            [o.float() for o in outputs[1:]], target, weight, list(range(2, n + 1)), n, bce, dice
        )

    # -- training

    def train_config(self, seed: int, epochs: int) -> TrainConfig:
        p = self.p
        return TrainConfig(
            epochs=epochs,
            batch_size=p["batch_size"],
            lr=p["lr"],
            optimizer="adam",
            poly_power=p["poly_power"],
            amp=p["amp"],
            seed=seed,
        )

    def _train(self, net: TuningNet, tensors: dict[str, torch.Tensor], cfg: TrainConfig, ctx):
        gen = seed_everything(cfg.seed)
        batches = _Batches(tensors, cfg.batch_size, gen)

        def loss_fn(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            return self.loss(model(batch["image"]), batch["target"], batch["weight"].float())

        return Trainer().fit(net, batches, loss_fn, cfg, select_device(ctx.device), ctx.progress)

    def _validate(self, ctx: TrainContext, axis: str) -> float | None:
        if ctx.validate is None:
            return None
        self._active = (axis,)
        try:
            return float(ctx.validate(self)["dice"])
        finally:
            self._active = None

    def fit(
        self, cases: Sequence[WeakCase], labels: Sequence[PseudoLabel], ctx: TrainContext
    ) -> dict[str, Any]:
        check_fit_inputs(self.name, cases, labels, supports_multilabel=False)
        cases = preprocess_cases(list(cases), self.p["median_size"])
        self.out_channels = len(ctx.classes or cases[0].classes) + 1
        log: dict[str, Any] = {"loss": [], "rounds": {}, "planes": {}}
        self.planes = {}
        for index, axis in enumerate(self._axes()):
            plane_log = self._fit_plane(index, axis, cases, labels, ctx)
            log["loss"].extend(plane_log["loss"])
            log["rounds"][axis] = plane_log["rounds"]
            log["planes"][axis] = {k: plane_log[k] for k in ("best_round", "slices")}
        log["epochs"] = len(log["loss"])
        return log

    def _fit_plane(self, index, axis, cases, labels, ctx) -> dict[str, Any]:
        p = self.p
        seed = ctx.seed + 1000 * index
        localiser = self.localisation_segmenter(axis)
        localiser.fit(cases, labels, TrainContext(ctx.device, seed, ctx.classes, ctx.workdir))
        loc_net = localiser._trained_model().cpu()
        data = build_slice_dataset(cases, labels, p["image_size"], axis, False)
        batch = data.read(range(len(data)))
        priors = box_priors(
            loc_net, batch["image"], p["cam_threshold"], p["crf_iterations"], p["box_margin"]
        )
        full = {
            "image": torch.cat([batch["image"], priors], 1),
            "target": batch["target"],
            "weight": batch["weight"].float(),
        }
        labelled = (full["weight"] > 0).flatten(1).any(1)
        torch.manual_seed(seed)
        net = self.build_tuning(self.out_channels)
        self.planes[axis] = nn.ModuleDict({"loc": loc_net, "tune": net})
        steps = max(1, len(ShuffledBatches(len(labelled), p["batch_size"], torch.Generator())))
        epochs = max(p["epochs"], -(-self.step_floor("epochs", "min_steps") // steps))
        train_log = self._train(net, full, self.train_config(seed, epochs), ctx)
        losses = list(train_log["loss"])
        dice = self._validate(ctx, axis)
        rounds = [{"round": 0, "val_dice": dice, "patches": 0, "slices": len(labelled)}]
        best, best_state, stale = dice, copy.deepcopy(net.state_dict()), 0
        for r in range(1, p["rounds"] + 1):
            tensors, n_patches = full, 0
            if p["self_label"]:
                pred = self._predict_slices(net, full["image"], ctx)
                patches = self_labelled_patches(full["image"], pred, p["mu"], keep=labelled)
                if p["max_patches"] and len(patches) > p["max_patches"]:
                    gen = torch.Generator().manual_seed(seed + r)
                    patches = patches.subset(
                        torch.randperm(len(patches), generator=gen)[: p["max_patches"]]
                    )
                n_patches = len(patches)
                if n_patches:
                    tensors = {
                        "image": torch.cat([full["image"], patches.inputs]),
                        "target": torch.cat([full["target"], patches.target]),
                        "weight": torch.cat([full["weight"], torch.ones(patches.target.shape)]),
                    }
            cfg = self.train_config(seed + r, p["finetune_epochs"])
            losses.extend(self._train(net, tensors, cfg, ctx)["loss"])
            dice = self._validate(ctx, axis)
            rounds.append(
                {
                    "round": r,
                    "val_dice": dice,
                    "patches": n_patches,
                    "slices": len(tensors["image"]),
                }
            )
            if dice is None or best is None or dice > best:
                best, best_state, stale = dice, copy.deepcopy(net.state_dict()), 0
            else:
                stale += 1
                if p["patience"] and stale >= p["patience"]:
                    break
        net.load_state_dict(best_state)
        best_round = next(
            (row["round"] for row in reversed(rounds) if row["val_dice"] == best),
            rounds[-1]["round"],
        )
        return {"loss": losses, "rounds": rounds, "best_round": best_round, "slices": len(labelled)}

    # -- inference

    def _predict_slices(self, net: TuningNet, inputs: torch.Tensor, ctx) -> torch.Tensor:
        """Argmax labels (N, H, W) of the top output for (N, 2, H, W) inputs."""
        return self._probabilities(net, inputs, ctx).argmax(1).to(torch.uint8)

    def _probabilities(self, net: TuningNet, inputs: torch.Tensor, ctx) -> torch.Tensor:
        device = select_device(ctx.device)
        was_training = net.training
        net.to(device).eval()
        out = []
        step = max(1, 2 * self.p["batch_size"])
        try:
            with torch.inference_mode(), autocast(device, self.p["amp"]):
                for start in range(0, inputs.shape[0], step):
                    chunk = inputs[start : start + step].to(device)
                    out.append(net(chunk)[-1].float().softmax(1).cpu())
        finally:
            net.train(was_training)
        return torch.cat(out)

    def _predict_plane(self, axis: str, volume: np.ndarray, ctx) -> np.ndarray:
        """Softmax volume (C, Z, Y, X) of one plane's cascade; ``volume`` is normalised."""
        parts = self.planes[axis]
        x = torch.from_numpy(np.ascontiguousarray(slice_view(volume, axis)))[:, None]
        native = tuple(x.shape[-2:])
        size = self.p["image_size"]
        if size:
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        p = self.p
        prior = box_priors(
            parts["loc"], x, p["cam_threshold"], p["crf_iterations"], p["box_margin"]
        )
        prob = self._probabilities(parts["tune"], torch.cat([x, prior], 1), ctx)
        if size:
            prob = F.interpolate(prob, size=native, mode="bilinear", align_corners=False)
        out = prob.permute(1, 0, 2, 3).numpy()  # (C, S, A, B)
        return np.ascontiguousarray(unslice_view(out, axis))

    def predict(
        self,
        image: np.ndarray,
        intensity: Intensity,
        ctx: TrainContext,
        spacing: Sequence[float] | None = None,
    ) -> np.ndarray:
        """Softmax probabilities (K+1, Z, Y, X): per plane, fused, small components removed."""
        if not self.planes:
            raise PluginError(f"segmenter {self.name!r} has no trained model; call fit or load")
        volume = with_median(intensity, self.p["median_size"]).apply(image)
        axes = self._active or tuple(self.planes)
        probs = [self._predict_plane(axis, volume, ctx) for axis in axes]
        fused = fuse(probs, self.p["fusion"])
        return remove_small_components(fused, self.p["min_component"]).astype(np.float32)

    def predict_planes(
        self, image: np.ndarray, intensity: Intensity, ctx: TrainContext
    ) -> dict[str, np.ndarray]:
        """Each trained plane's own probability volume (before fusion and post-processing)."""
        volume = with_median(intensity, self.p["median_size"]).apply(image)
        return {axis: self._predict_plane(axis, volume, ctx) for axis in self.planes}

    # -- checkpoints

    def save(self, path: Path) -> None:
        if not self.planes:
            raise PluginError(f"segmenter {self.name!r} has no trained model; call fit first")
        extra = {
            "segmenter": self.name,
            "version": self.version,
            "params": dict(self.p),
            "out_channels": self.out_channels,
            "planes": list(self.planes),
        }
        save_checkpoint(path, nn.ModuleDict(self.planes), extra)

    def load(self, path: Path) -> None:
        payload = read_checkpoint(path)
        extra = payload.get("extra", {})
        if extra.get("segmenter") != self.name:
            raise DataError(
                f"checkpoint {path} holds segmenter {extra.get('segmenter')!r}, not {self.name!r}; "
                "load it with the segmenter that saved it"
            )
        out_channels = int(extra["out_channels"])
        planes = {
            axis: nn.ModuleDict(
                {"loc": self.build_localiser(out_channels), "tune": self.build_tuning(out_channels)}
            )
            for axis in extra["planes"]
        }
        try:
            nn.ModuleDict(planes).load_state_dict(payload["state_dict"])
        except RuntimeError as exc:
            raise DataError(
                f"checkpoint {path} does not fit {self.name} with params {self.p} "
                f"({str(exc).splitlines()[0]}); saved with params {extra.get('params')}"
            ) from None
        self.planes, self.out_channels = planes, out_channels
