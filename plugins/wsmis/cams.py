"""Labelers ``gradcam`` and ``gradcampp`` (Viniavskyi et al. step 1 and its post-processing).

A tag classifier (``classifier.py``) is trained on the weak slices' image-level tags. On
each slice tagged with class k, the Grad-CAM or Grad-CAM++ map of class k is upsampled to
the slice, min-max normalised, thresholded, and the mask is refined by the core DenseCRF
(the paper: "we use thresholding and then refine the pseudo-maps by dense CRF"). Slices without
any tag get an empty mask of full weight.

Values the paper does not state come from the authors' public code (ucuapps/WSMIS, "WSMIS code"
below) or from IRNet's (Ahn, Cho and Kwak 2019, github jiwoon-ahn/irn, "IRNet code"); each
parameter's doc says which.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from wsbench.api import LabelContext, Labeler, PseudoLabel, WeakCase
from wsbench.errors import WeakLabelError
from wsbench.nn.cam import grad_cam_plus_plus_weights, grad_cam_weights, minmax, weighted_map
from wsbench.params import Param, at_least, in_range
from wsbench.refine.densecrf import CrfItem, CrfParams, crf_params, refine_many
from wsbench.training.device import select_device
from wsbench.training.trainer import TrainConfig, Trainer, seed_everything

from .classifier import CLASSIFIER_BACKBONES, TagClassifier
from .paper import CITATION, REPORTED, SEGMENTER_PAPER
from .tagdata import TagBatches, input_size, network_input, tag_slices

# IRNet code's label CRF (imutils.crf_inference_label): hard labels trusted at 0.7, a
# smoothness kernel (sxy 3, compat 3), an appearance kernel (sxy 50, srgb 5, compat 10),
# 10 mean-field iterations. Here the mask is the unary: p = 0.5 + 0.4 (mask - 0.5).
LABEL_CRF = CrfParams(
    gaussian_sxy=3.0,
    gaussian_compat=3.0,
    bilateral_sxy=50.0,
    bilateral_srgb=5.0,
    bilateral_compat=10.0,
    iterations=10,
    confidence=0.4,
)

CLASSIFIER_PARAMS: tuple[Param, ...] = (
    Param(
        "backbone",
        "vgg16",
        "classifier backbone, output stride 8 by dilation, random init (the paper: VGG16 best, "
        "ResNet-50 tested; vgg16-slim is the quick profile's CPU stand-in)",
        choices=CLASSIFIER_BACKBONES,
    ),
    Param(
        "width",
        512,
        "channels of the three extra conv layers (the paper: not stated)",
        **at_least(1),
    ),
    Param(
        "dropblock",
        True,
        "DropBlock on the backbone and extra-layer outputs (Viniavskyi et al. §3)",
    ),
    Param(
        "drop_prob",
        0.2,
        "DropBlock drop probability (WSMIS code: 0.2)",
        **in_range(0, 1, hi_open=True),
    ),
    Param("block_size", 7, "DropBlock block size (WSMIS code: 7)", **at_least(1)),
    Param(
        "image_size",
        512,
        "slices resized to this square size (the paper: 512); 0 = native",
        **at_least(0),
    ),
    Param("epochs", 50, "classifier epochs (WSMIS code: 50)", **at_least(1)),
    Param("batch_size", 16, "classifier batch (WSMIS code: 16)", **at_least(2)),
    Param("lr", 1e-4, "Adam learning rate (WSMIS code: 1e-4)", **in_range(0, 10, lo_open=True)),
    Param("weight_decay", 1e-5, "Adam weight decay (WSMIS code: 1e-5)", **at_least(0)),
    Param(
        "pos_fraction",
        0.5,
        "share of tagged slices per classifier batch (the paper: a constant ratio, not given); "
        "0 = plain shuffling",
        **in_range(0, 1, hi_open=True),
    ),
    Param(
        "threshold",
        0.2,
        "foreground where the min-max normalised map exceeds this (WSMIS code: "
        "background_threshold 0.2)",
        **in_range(0, 1, hi_open=True),
    ),
    *(
        replace(p, doc=f"{p.doc} (the paper: not stated; IRNet code's label CRF: {p.default})")
        for p in crf_params(LABEL_CRF)
    ),
    Param("crf_workers", 1, "worker processes for DenseCRF", **at_least(1)),
)

QUICK: dict[str, Any] = {
    "backbone": "vgg16-slim",
    "width": 64,
    "block_size": 3,  # 7 would cover half of a 12 x 12 map
    "image_size": 0,
    "epochs": 15,
    "batch_size": 16,
    "lr": 1e-3,
    "crf_bilateral_sxy": 10.0,  # 50 px is wider than a quick-size slice
}


@dataclass
class SliceMaps:
    """A trained classifier's normalised maps on the tagged slices of the labelled cases."""

    model: TagClassifier
    maps: dict[tuple[int, int, int], np.ndarray]  # (case, z, class 1..K) -> (Y, X) in [0, 1]
    log: dict[str, Any]


def cam_weights(activations: torch.Tensor, gradients: torch.Tensor, method: str) -> torch.Tensor:
    """Channel weights ``(B, C)``: Grad-CAM, Grad-CAM++, or Grad-CAM++ with every pixel
    weight alpha equal (``uniform``, the claims test's mutant: ReLU gradients summed)."""
    if method == "gradcam":
        return grad_cam_weights(activations, gradients)
    if method == "gradcam++":
        return grad_cam_plus_plus_weights(activations, gradients)
    if method == "uniform":
        return gradients.clamp(min=0).mean(dim=(2, 3))
    raise ValueError(f"unknown CAM method {method!r}")


def explain(
    model: TagClassifier, images: torch.Tensor, classes: torch.Tensor, method: str
) -> torch.Tensor:
    """Normalised maps ``(B, H, W)`` of ``classes[b]`` (0-based logits) at the input size."""
    with torch.enable_grad():
        features = model.feature_map(images)
        scores = model.fc(features.mean(dim=(2, 3)))
        picked = scores.gather(1, classes.view(-1, 1)).sum()
        (gradients,) = torch.autograd.grad(picked, features)
    a, g = features.detach().float(), gradients.float()
    maps = weighted_map(a, cam_weights(a, g, method))
    up = F.interpolate(maps[:, None], size=images.shape[-2:], mode="bilinear", align_corners=False)
    return minmax(up[:, 0])


class TagCamLabeler(Labeler):
    """Tag classifier -> Grad-CAM(++) maps on tagged slices -> threshold -> DenseCRF."""

    consumes = ("tags",)
    in_default_grid = False  # trains a classifier per cell: named runs only
    citation = CITATION
    reported = REPORTED
    method: ClassVar[str] = "gradcam++"
    params = CLASSIFIER_PARAMS
    profiles: ClassVar[dict[str, dict[str, Any]]] = {"quick": QUICK, "paper": {}}
    train_profiles: ClassVar[dict[str, dict[str, Any]]] = {"paper": SEGMENTER_PAPER}

    @property
    def cam_method(self) -> str:
        return self.method

    # -- step 1: the classifier and its maps

    def train_classifier(
        self, images: torch.Tensor, tags: torch.Tensor, ctx: LabelContext
    ) -> tuple[TagClassifier, dict[str, Any]]:
        p = self.p
        seed_everything(ctx.seed)
        model = TagClassifier(
            p["backbone"],
            tags.shape[1],
            p["width"],
            p["dropblock"],
            p["drop_prob"],
            p["block_size"],
        )
        cfg = TrainConfig(
            epochs=p["epochs"],
            batch_size=p["batch_size"],
            lr=p["lr"],
            optimizer="adam",
            weight_decay=p["weight_decay"],
            poly_power=0.0,
            seed=ctx.seed,
        )
        loader = TagBatches(images, tags, p["batch_size"], p["pos_fraction"], ctx.seed)

        def loss_fn(net: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            return F.binary_cross_entropy_with_logits(net(batch["image"]).float(), batch["tags"])

        device = select_device(ctx.device)
        log = Trainer().fit(model, loader, loss_fn, cfg, device, ctx.progress)
        return model.eval(), log

    def slice_maps(self, cases: Sequence[WeakCase], ctx: LabelContext) -> SliceMaps:
        """Train on every weak slice's tags; explain each tagged class on its slices."""
        slices = tag_slices(cases)
        if not slices:
            raise WeakLabelError(
                f"labeler {self.name!r}: none of the {len(cases)} training cases has a weak "
                "slice; check --weak tags and weak.slices"
            )
        tags = torch.from_numpy(np.stack([s.present for s in slices]).astype(np.float32))
        if not tags.any():
            raise WeakLabelError(
                f"labeler {self.name!r}: no training slice is tagged positive; the classifier "
                "needs positives (check the dataset's tags or the target)"
            )
        size = input_size(cases, self.p["image_size"])
        normed = {i: c.intensity.apply(c.image) for i, c in enumerate(cases)}
        images = torch.stack([network_input(normed[s.case][s.z], size) for s in slices])
        model, log = self.train_classifier(images, tags, ctx)
        device = next(model.parameters()).device
        wanted = [(j, k) for j, s in enumerate(slices) for k in np.flatnonzero(s.present)]
        maps: dict[tuple[int, int, int], np.ndarray] = {}
        for start in range(0, len(wanted), self.p["batch_size"]):
            chunk = wanted[start : start + self.p["batch_size"]]
            batch = images[[j for j, _ in chunk]].to(device)
            classes = torch.tensor([int(k) for _, k in chunk], device=device)
            out = explain(model, batch, classes, self.cam_method).cpu()
            for (j, k), fmap in zip(chunk, out, strict=True):
                s = slices[j]
                native = cases[s.case].image.shape[1:]
                resized = F.interpolate(
                    fmap[None, None], size=native, mode="bilinear", align_corners=False
                )
                maps[(s.case, s.z, int(k) + 1)] = resized[0, 0].clamp(0, 1).numpy()
        return SliceMaps(model, maps, log)

    # -- post-processing: threshold + DenseCRF

    def crf_masks(
        self,
        cases: Sequence[WeakCase],
        maps: dict[tuple[int, int, int], np.ndarray],
        threshold: float,
    ) -> dict[tuple[int, int, int], np.ndarray]:
        """``map > threshold``, refined by DenseCRF with the mask as unary: bool masks."""
        keys = sorted(maps)
        greys: dict[int, np.ndarray] = {}
        items = []
        for i, z, _ in keys:
            if i not in greys:
                greys[i] = cases[i].intensity.to_uint8(cases[i].image)
            items.append(CrfItem(greys[i][z], (maps[(i, z, _)] > threshold).astype(np.float32)))
        refined = refine_many(items, CrfParams.from_plugin(self.p), workers=self.p["crf_workers"])
        return {key: prob > 0.5 for key, prob in zip(keys, refined, strict=True)}

    def label(self, cases: Sequence[WeakCase], ctx: LabelContext) -> list[PseudoLabel]:
        found = self.slice_maps(cases, ctx)
        masks = self.crf_masks(cases, found.maps, self.p["threshold"])
        return assemble(cases, masks)


def assemble(
    cases: Sequence[WeakCase], masks: dict[tuple[int, int, int], np.ndarray]
) -> list[PseudoLabel]:
    """Pseudo labels: each (case, slice, class) mask painted in (later classes win); every
    other weak slice (no tag) is background with full weight."""
    out = []
    for i, case in enumerate(cases):
        target = np.zeros(case.image.shape, np.uint8)
        for (j, z, k), mask in sorted(masks.items()):
            if j == i:
                target[z][mask] = k
        weight = np.ones(case.image.shape, np.float32)
        out.append(PseudoLabel(case.id, target, weight, np.asarray(case.slices).copy()))
    return out


class GradCamLabeler(TagCamLabeler):
    """Grad-CAM (Selvaraju et al. 2017) maps of the tag classifier."""

    name = "gradcam"
    version = "0.1.0"
    method = "gradcam"


class GradCamPPLabeler(TagCamLabeler):
    """Grad-CAM++ (Chattopadhay et al. 2018) maps of the tag classifier: the paper's choice."""

    name = "gradcampp"
    version = "0.1.0"
    params = (
        *CLASSIFIER_PARAMS,
        Param(
            "pixel_weights",
            "alpha",
            "Grad-CAM++'s per-pixel gradient weights alpha, or uniform (every alpha equal: "
            "the claims test's mutant, Grad-CAM++ without its weighting)",
            choices=("alpha", "uniform"),
        ),
    )

    @property
    def cam_method(self) -> str:
        return "gradcam++" if self.p["pixel_weights"] == "alpha" else "uniform"
