"""Ouassit et al. 2022 §3.3: the localisation network and its Grad-CAM box prior.

The localisation network is a U-Net-like encoder-decoder with dropout, trained on full
slices (``LocalisationSegmenter``, a core ``SliceSegmenter``). Its Grad-CAM, refined by
DenseCRF, gives the region of interest; every connected region above ``threshold``
becomes a filled bounding box: the box-prior filter the tuning network takes as its
second input (after BB-UNet, the paper's [21]).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from scipy import ndimage
from torch import nn

from wsbench.nn.cam import gradient_cam, minmax, upsample
from wsbench.params import Param, in_range
from wsbench.refine.densecrf import CrfParams, refine
from wsbench.segmenters.slices import TRAIN_PARAMS, SliceSegmenter
from wsbench.segmenters.unet import UNet


class DropoutUNet(UNet):
    """The core U-Net with ``Dropout2d(dropout)`` after every encoder block (Fig. 5)."""

    def __init__(self, in_channels: int, out_channels: int, width: int, depth: int, dropout: float):
        super().__init__(in_channels, out_channels, width, depth)
        if dropout > 0:
            self.down = nn.ModuleList([nn.Sequential(b, nn.Dropout2d(dropout)) for b in self.down])

    @property
    def deepest(self) -> nn.Module:
        """The bottleneck block: the layer Grad-CAM explains."""
        return self.down[-1]


class LocalisationSegmenter(SliceSegmenter):
    """Ouassit et al. 2022's first network. Not registered: ``reipatch`` builds and trains it."""

    name = "reipatch-localiser"
    version = "0.1.0"
    citation = "Ouassit et al. 2022 §3.3 (localisation network)"
    in_default_grid = False
    params = TRAIN_PARAMS + (
        Param("width", 16, "channels of the first level (doubled per level)", **in_range(1, 512)),
        Param("depth", 3, "number of 2x poolings", **in_range(1, 6)),
        Param("dropout", 0.2, "dropout after each encoder block", **in_range(0, 1, hi_open=True)),
    )
    profiles: ClassVar[dict[str, dict[str, Any]]] = {"quick": {}, "paper": {}}

    def build_model(self, in_channels: int, out_channels: int) -> nn.Module:
        p = self.p
        return DropoutUNet(in_channels, out_channels, p["width"], p["depth"], p["dropout"])


class ForegroundScore(nn.Module):
    """Grad-CAM's class score for a segmentation network (Seg-Grad-CAM): the mean over
    pixels of the foreground log-odds, ``logsumexp(fg logits) - background logit``."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.net(x).float()
        odds = torch.logsumexp(logits[:, 1:], dim=1) - logits[:, 0]
        return odds.mean(dim=(1, 2)).unsqueeze(1)


def boxes_of(roi: np.ndarray, margin: int) -> np.ndarray:
    """A filled bounding box (grown by ``margin`` pixels) around each connected region."""
    out = np.zeros(roi.shape, np.float32)
    labels, n = ndimage.label(roi)
    for box in ndimage.find_objects(labels)[:n]:
        if box is None:
            continue
        ys, xs = box
        out[
            max(0, ys.start - margin) : ys.stop + margin,
            max(0, xs.start - margin) : xs.stop + margin,
        ] = 1.0
    return out


def _to_uint8(x: np.ndarray) -> np.ndarray:
    lo, hi = float(x.min()), float(x.max())
    return (np.clip((x - lo) / max(hi - lo, 1e-6), 0, 1) * 255).astype(np.uint8)


def box_priors(
    net: DropoutUNet,
    images: torch.Tensor,
    threshold: float,
    crf_iterations: int,
    margin: int,
    batch: int = 16,
) -> torch.Tensor:
    """Box priors ``(N, 1, H, W)`` in {0, 1} of normalised slices ``(N, 1, H, W)``.

    Per slice: the localisation network's Grad-CAM of its foreground score on the
    bottleneck, upsampled and scaled to [0, 1]; DenseCRF on it (``crf_iterations`` > 0);
    the pixels >= ``threshold`` are the ROI, and each ROI component's bounding box is
    filled. A slice where the network predicts no foreground pixel gets an empty prior; where
    its Grad-CAM is flat (all zero), its predicted mask is the ROI.
    """
    was_training = net.training
    net.eval()
    score = ForegroundScore(net)
    crf = CrfParams(iterations=crf_iterations) if crf_iterations > 0 else None
    out = torch.zeros(images.shape[0], 1, *images.shape[-2:])
    try:
        for start in range(0, images.shape[0], batch):
            with torch.inference_mode(False):
                x = images[start : start + batch].clone().float()
                with torch.no_grad():
                    masks = net(x).float().argmax(1).gt(0)
                found = masks.flatten(1).any(1)
                cams = gradient_cam(
                    score, net.deepest, x, torch.zeros(len(x), dtype=torch.long), "gradcam"
                )
                cams = minmax(upsample(cams, tuple(x.shape[-2:]))).numpy()
            for i, cam in enumerate(cams):
                if not bool(found[i]):
                    continue
                if not cam.any():  # a flat Grad-CAM: the localiser's own mask is the ROI
                    cam = masks[i].numpy().astype(np.float32)
                if crf is not None:
                    cam = refine(_to_uint8(x[i, 0].numpy()), cam, crf)
                out[start + i, 0] = torch.from_numpy(boxes_of(cam >= threshold, margin))
    finally:
        net.train(was_training)
    return out
