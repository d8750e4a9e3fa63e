"""Labeler ``irn``: IRNet (Ahn, Cho and Kwak 2019) on the Grad-CAM++ labels (step 2).

1. The ``gradcampp`` step: tag classifier, Grad-CAM++ maps on the tagged slices.
2. IR labels per tagged slice: confident foreground where the DenseCRF-refined
   ``map > conf_fg``, confident background outside the refined ``map > conf_bg``, the rest
   ignored.
3. IRNet: a ResNet whose five levels (stem, stages 1-4; output stride 16) feed a boundary
   branch and a displacement-field branch on the stride-4 grid. Trained on the tagged
   slices with the inter-pixel affinity loss over pairs within ``train_radius`` (same
   label: high affinity; different labels: low) and the displacement loss (same-class
   pairs point to one centroid, background pairs do not move).
4. The random walk ``D^-1 A^beta`` (``affinity.py``) propagates the maps over the
   boundary-aware affinities within ``radius``; each class's result is scaled by its
   maximum and a constant background score ``bg_score`` decides the pseudo mask.

Untagged slices get empty masks of full weight, as with the CAM labelers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from wsbench.api import LabelContext, PseudoLabel, WeakCase
from wsbench.nn.backbones import build_backbone
from wsbench.params import Param, at_least, in_range
from wsbench.training.trainer import TrainConfig, Trainer, seed_everything

from .affinity import (
    RW_SOLVERS,
    half_disc,
    pair_displacement,
    pair_labels,
    path_affinity,
    random_walk,
)
from .cams import CLASSIFIER_PARAMS, QUICK, GradCamPPLabeler, assemble
from .slim import SlimVGG
from .tagdata import network_input

IGNORE = 255


def _branch(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.GroupNorm(4, cout), nn.ReLU())


class IRNet(nn.Module):
    """``forward(x (B, 1, H, W)) -> (boundary logits (B, 1, h, w), displacement (B, 2, h, w))``
    on the stride-4 grid ``h, w`` of the first ResNet stage."""

    def __init__(self, backbone: str = "resnet50", edge_width: int = 32, dp_width: int = 64):
        super().__init__()
        if backbone == "vgg16-slim":  # five blocks at strides 1, 2, 4, 8, 8
            self.backbone: nn.Module = SlimVGG(in_channels=1)
            levels = list(self.backbone.channels)
            self.grid_level = 2
        else:  # stem and four stages at strides 2, 4, 8, 16, 16
            self.backbone = build_backbone(backbone, output_stride=16, in_channels=1)
            levels = [64, *(self.backbone.channels[f"c{i}"] for i in range(1, 5))]
            self.grid_level = 1
        self.edge = nn.ModuleList(_branch(c, edge_width) for c in levels)
        self.edge_out = nn.Conv2d(5 * edge_width, 1, 1)
        self.dp = nn.ModuleList(_branch(c, dp_width) for c in levels)
        self.dp_out = nn.Sequential(
            _branch(5 * dp_width, 2 * dp_width), nn.Conv2d(2 * dp_width, 2, 1)
        )

    def levels(self, x: torch.Tensor) -> list[torch.Tensor]:
        if isinstance(self.backbone, SlimVGG):
            return self.backbone(x)
        n = self.backbone.net
        stem = n.relu(n.bn1(n.conv1(x)))  # stride 2
        out = [stem]
        x = n.maxpool(stem)
        for layer in (n.layer1, n.layer2, n.layer3, n.layer4):
            x = layer(x)
            out.append(x)
        return out

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.levels(x)
        grid = feats[self.grid_level].shape[-2:]  # stride 4

        def merge(branches: nn.ModuleList) -> torch.Tensor:
            return torch.cat(
                [
                    F.interpolate(b(f), size=grid, mode="bilinear", align_corners=False)
                    for b, f in zip(branches, feats, strict=True)
                ],
                dim=1,
            )

        return self.edge_out(merge(self.edge)), self.dp_out(merge(self.dp))


def irn_loss(
    net: IRNet, images: torch.Tensor, labels: torch.Tensor, offsets: list[tuple[int, int]]
) -> torch.Tensor:
    """IRNet's training loss: affinity terms (background pairs, foreground pairs, negative
    pairs) and displacement terms (foreground pairs share a centroid, background pairs do
    not move), each a mean over its pairs, weighted as in the IRNet code."""
    edge, disp = net(images)
    grid = edge.shape[-2:]
    lab = F.interpolate(labels[:, None].float(), size=grid, mode="nearest")[:, 0].long()
    aff = path_affinity(torch.sigmoid(edge[:, 0].float()), offsets)
    sets = pair_labels(lab, offsets, IGNORE)

    def mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return (values * mask).sum() / mask.sum().clamp(min=1)

    bg_pos = mean(-torch.log(aff + 1e-5), sets["bg_pos"])
    fg_pos = mean(-torch.log(aff + 1e-5), sets["fg_pos"])
    neg = mean(-torch.log(1 + 1e-5 - aff), sets["neg"])
    diff = pair_displacement(disp.float(), offsets)  # (B, P, 2, h, w): D(i) - D(j)
    # same centroid: x_i + D(i) = x_j + D(j), so D(i) - D(j) = (dy, dx)
    want = torch.tensor(offsets, dtype=diff.dtype, device=diff.device).view(1, -1, 2, 1, 1)
    dp_fg = mean((diff - want).abs().sum(2), sets["fg_pos"])
    dp_bg = mean(diff.abs().sum(2), sets["bg_pos"])
    return (bg_pos / 2 + fg_pos / 2) / 2 + neg / 2 + (dp_fg + dp_bg) / 2


IRN_PARAMS: tuple[Param, ...] = (
    Param(
        "irn_backbone",
        "resnet50",
        "IRNet backbone, random init (the paper: ResNet-50; vgg16-slim: the quick profile's CPU "
        "stand-in)",
        choices=("resnet50", "resnet101", "vgg16-slim"),
    ),
    Param("irn_epochs", 10, "IRNet epochs (WSMIS code: 10)", **at_least(1)),
    Param("irn_batch_size", 24, "IRNet batch (WSMIS code: 24)", **at_least(2)),
    Param(
        "irn_lr",
        0.1,
        "IRNet SGD learning rate, poly (WSMIS code: 0.1)",
        **in_range(0, 10, lo_open=True),
    ),
    Param("irn_weight_decay", 1e-4, "IRNet weight decay (WSMIS code: 1e-4)", **at_least(0)),
    Param(
        "irn_image_size",
        512,
        "IRNet input size (WSMIS code: 512 crops); 0 = native",
        **at_least(0),
    ),
    Param(
        "conf_fg",
        0.30,
        "confident foreground: refined map > this (IRNet code: 0.30)",
        **in_range(0, 1),
    ),
    Param(
        "conf_bg",
        0.05,
        "confident background: outside refined map > this (IRNet code: 0.05)",
        **in_range(0, 1),
    ),
    Param(
        "train_radius",
        10,
        "pair radius of the IRNet loss, grid cells (IRNet code: 10)",
        **at_least(1),
    ),
    Param("radius", 5, "pair radius of the random walk, grid cells (IRNet code: 5)", **at_least(1)),
    Param("beta", 10.0, "affinity exponent beta of A^beta (IRNet code: 10)", **at_least(0)),
    Param(
        "exp_times", 8, "the walk applies T 2^exp_times times (IRNet code: 8)", **in_range(0, 16)
    ),
    Param(
        "bg_score",
        0.25,
        "background score against the max-scaled walk scores (IRNet and WSMIS code: 0.25)",
        **in_range(0, 1),
    ),
    Param(
        "boundary",
        True,
        "use the predicted boundary map; false zeroes it (every affinity 1: the claims "
        "test's mutant, a random walk blind to boundaries)",
    ),
    Param(
        "rw_solver",
        "auto",
        "dense (matrix squaring; GPU work at 512 px) or sparse (sparse products; the CPU "
        "path); auto = dense up to 4096 grid cells on a CPU",
        choices=RW_SOLVERS,
    ),
)

IRN_QUICK: dict[str, Any] = {
    **QUICK,
    "irn_backbone": "vgg16-slim",
    "irn_epochs": 12,
    "irn_batch_size": 8,
    "irn_lr": 0.01,
    "irn_image_size": 0,
    "train_radius": 5,
    "radius": 5,
}


class IrnLabeler(GradCamPPLabeler):
    """Grad-CAM++ labels -> IR labels -> IRNet -> random walk (the paper's steps 1-2)."""

    name = "irn"
    version = "0.1.0"
    params = (*CLASSIFIER_PARAMS, *IRN_PARAMS)
    profiles: ClassVar[dict[str, dict[str, Any]]] = {"quick": IRN_QUICK, "paper": {}}

    @property
    def cam_method(self) -> str:
        return "gradcam++"

    def ir_labels(
        self, cases: Sequence[WeakCase], maps: dict[tuple[int, int, int], np.ndarray]
    ) -> dict[tuple[int, int], np.ndarray]:
        """(case, slice) -> uint8 IR label: 0 confident background, k confident class k,
        ``IGNORE`` elsewhere."""
        fg = self.crf_masks(cases, maps, self.p["conf_fg"])
        loose = self.crf_masks(cases, maps, self.p["conf_bg"])
        out: dict[tuple[int, int], np.ndarray] = {}
        for (i, z, k), mask in sorted(fg.items()):
            lab = out.setdefault((i, z), np.zeros(mask.shape, np.uint8))
            lab[loose[(i, z, k)] & (lab == 0)] = IGNORE
            lab[mask] = k
        return out

    def train_irn(
        self, images: torch.Tensor, labels: torch.Tensor, ctx: LabelContext
    ) -> tuple[IRNet, dict[str, Any]]:
        p = self.p
        seed_everything(ctx.seed)
        model = IRNet(p["irn_backbone"])
        offsets = half_disc(p["train_radius"])
        cfg = TrainConfig(
            epochs=p["irn_epochs"],
            batch_size=p["irn_batch_size"],
            lr=p["irn_lr"],
            optimizer="sgd",
            weight_decay=p["irn_weight_decay"],
            poly_power=0.9,
            seed=ctx.seed,
        )
        generator = torch.Generator().manual_seed(ctx.seed)
        loader = _Batches(images, labels, p["irn_batch_size"], generator)

        def loss_fn(net: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            return irn_loss(net, batch["image"], batch["label"], offsets)  # type: ignore[arg-type]

        from wsbench.training.device import select_device

        log = Trainer().fit(model, loader, loss_fn, cfg, select_device(ctx.device), ctx.progress)
        return model.eval(), log

    @torch.no_grad()
    def boundary(self, model: IRNet, image: torch.Tensor) -> torch.Tensor:
        """The boundary map ``(h, w)`` of one network input ``(1, H, W)``, averaged with its
        mirror image (IRNet code), zeroed when ``boundary`` is off."""
        device = next(model.parameters()).device
        x = torch.stack([image, image.flip(-1)]).to(device)
        edge = torch.sigmoid(model(x)[0][:, 0].float())
        out = (edge[0] + edge[1].flip(-1)) / 2
        return out if self.p["boundary"] else torch.zeros_like(out)

    def walk(
        self, boundary: torch.Tensor, maps: dict[int, np.ndarray], shape: tuple[int, int]
    ) -> np.ndarray:
        """Random walk of the class maps ``{k: (Y, X)}`` -> uint8 label map ``(Y, X)``."""
        p = self.p
        classes = sorted(maps)
        grid = tuple(boundary.shape)
        stack = torch.from_numpy(np.stack([maps[k] for k in classes]).astype(np.float32))
        small = F.interpolate(stack[None], size=grid, mode="bilinear", align_corners=False)[0]
        rw = random_walk(
            small.to(boundary.device),
            boundary,
            p["radius"],
            p["beta"],
            p["exp_times"],
            p["rw_solver"],
        )
        up = F.interpolate(rw[None].cpu(), size=shape, mode="bilinear", align_corners=False)[0]
        up = up / up.flatten(1).max(1).values.clamp(min=1e-8).view(-1, 1, 1)
        scores = torch.cat([torch.full((1, *shape), p["bg_score"]), up])
        winner = scores.argmax(0).numpy()
        out = np.zeros(shape, np.uint8)
        for index, k in enumerate(classes, start=1):
            out[winner == index] = k
        return out

    def fit_irn(
        self,
        cases: Sequence[WeakCase],
        maps: dict[tuple[int, int, int], np.ndarray],
        ctx: LabelContext,
    ) -> IRNet:
        """IR labels of the tagged slices' maps, then IRNet trained on them."""
        ir = self.ir_labels(cases, maps)
        keys = sorted(ir)
        size = self._irn_size(cases)
        normed = {i: cases[i].intensity.apply(cases[i].image) for i, _ in keys}
        images = torch.stack([network_input(normed[i][z], size) for i, z in keys])
        labels = torch.stack(
            [
                F.interpolate(
                    torch.from_numpy(ir[key].astype(np.float32))[None, None],
                    size=size,
                    mode="nearest",
                )[0, 0].long()
                for key in keys
            ]
        )
        model, _ = self.train_irn(images, labels, ctx)
        return model

    def walk_masks(
        self,
        model: IRNet,
        cases: Sequence[WeakCase],
        maps: dict[tuple[int, int, int], np.ndarray],
    ) -> dict[tuple[int, int, int], np.ndarray]:
        """The random walk's mask of every (case, slice, class) in ``maps``."""
        size = self._irn_size(cases)
        masks: dict[tuple[int, int, int], np.ndarray] = {}
        normed = {i: cases[i].intensity.apply(cases[i].image) for i, _, _ in maps}
        for i, z in sorted({(i, z) for i, z, _ in maps}):
            image = network_input(normed[i][z], size)
            shape = tuple(cases[i].image.shape[1:])
            class_maps = {k: m for (j, y, k), m in maps.items() if (j, y) == (i, z)}
            result = self.walk(self.boundary(model, image), class_maps, shape)
            for k in class_maps:
                masks[(i, z, k)] = result == k
        return masks

    def label(self, cases: Sequence[WeakCase], ctx: LabelContext) -> list[PseudoLabel]:
        found = self.slice_maps(cases, ctx)
        model = self.fit_irn(cases, found.maps, ctx)
        return assemble(cases, self.walk_masks(model, cases, found.maps))

    def _irn_size(self, cases: Sequence[WeakCase]) -> tuple[int, int]:
        size = self.p["irn_image_size"]
        return (size, size) if size else tuple(cases[0].image.shape[1:])  # type: ignore[return-value]


class _Batches:
    """Shuffled batches ``{"image", "label"}`` of the tagged slices, for ``Trainer``."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, gen):
        from wsbench.training.batches import ShuffledBatches

        self.images, self.labels = images, labels
        self.sampler = ShuffledBatches(len(images), batch_size, gen)

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self):
        for rows in self.sampler:
            index = torch.as_tensor(rows)
            yield {"image": self.images[index], "label": self.labels[index]}
