"""The box classifier: FPN features of each box (RoIAlign), then one CAM branch (the CAM
baseline) or two ACoL branches A and B with erasing (Fan et al. 2022 §2.2, §2.3; Zhang et al.
2018).

Each branch is conv(512) + ReLU + conv(classes); its output before global average pooling is
the class localization map, so ``M_c = sum_k S_k W_k^c`` of Fan et al. 2022 Eq. (1) is the
map's channel c.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torchvision.ops import roi_align

from wsbench.nn.cam import minmax  # per map to [0, 1]; a constant map becomes 0

from .anchors import STRIDES, assign_levels
from .fpn import ResNetFPN


def salient(cam: torch.Tensor, delta: float) -> torch.Tensor:
    """ACoL's erased region: where min-max normalised ReLU(cam) exceeds ``delta``."""
    return minmax(torch.relu(cam)) > delta


def erase(features: torch.Tensor, cam: torch.Tensor, delta: float) -> torch.Tensor:
    """Zero the features ``(R, C, h, w)`` at the salient positions of ``cam`` ``(R, h, w)``."""
    keep = ~salient(cam.detach(), delta)
    return features * keep[:, None].to(features.dtype)


def branch(in_channels: int, num_classes: int, hidden: int = 512) -> nn.Sequential:
    """conv 3x3 (hidden) + ReLU + conv 1x1 (classes): a CAM classifier head."""
    return nn.Sequential(
        nn.Conv2d(in_channels, hidden, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(hidden, num_classes, kernel_size=1),
    )


class BoxClassifier(nn.Module):
    """Classifies boxes of an image batch as background (class 0) or task class k.

    ``rois`` is ``(R, 5)``: batch index, x0, y0, x1, y1 in input pixels. ``cls`` ``(R,)`` is the
    class whose map branch A erases for branch B (the label in training, the box's class when
    mining). ``two_branch=False`` is the plain CAM classifier.
    """

    def __init__(
        self,
        backbone: ResNetFPN,
        num_classes: int,
        two_branch: bool = True,
        delta: float = 0.6,
        hidden: int = 512,
        roi_size: int = 14,
        canonical: float = 224.0,
        erase: bool = True,
    ):
        super().__init__()
        self.backbone = backbone
        self.two_branch = two_branch
        self.delta = delta
        self.erase = erase  # False: branch B sees A's features unerased (a claims-test mutant)
        self.roi_size = roi_size
        self.canonical = canonical
        self.branch_a = branch(backbone.out_channels, num_classes, hidden)
        self.branch_b = branch(backbone.out_channels, num_classes, hidden) if two_branch else None

    def roi_features(self, pyramid: dict[int, torch.Tensor], rois: torch.Tensor) -> torch.Tensor:
        """RoIAlign each box on its level P_k, k from Fan et al. 2022 Eq. (2)."""
        levels = torch.from_numpy(
            assign_levels(rois[:, 1:].detach().cpu().numpy().astype(np.float64), self.canonical)
        ).to(rois.device)
        first = next(iter(pyramid.values()))
        out = first.new_zeros((len(rois), first.shape[1], self.roi_size, self.roi_size))
        for k, feat in pyramid.items():
            sel = (levels == k).nonzero(as_tuple=True)[0]
            if len(sel):
                out[sel] = roi_align(
                    feat,
                    rois[sel].to(feat.dtype),
                    self.roi_size,
                    spatial_scale=1.0 / STRIDES[k],
                    sampling_ratio=2,
                    aligned=True,
                )
        return out

    def forward(
        self, images: torch.Tensor, rois: torch.Tensor, cls: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Class maps ``map_a``/``map_b`` ``(R, classes, s, s)`` and their GAP ``logits_*``."""
        feats = self.roi_features(self.backbone(images), rois)
        map_a = self.branch_a(feats)
        out = {"map_a": map_a, "logits_a": map_a.mean(dim=(2, 3))}
        if self.branch_b is not None:
            cam_a = map_a[torch.arange(len(rois), device=rois.device), cls]
            map_b = self.branch_b(erase(feats, cam_a, self.delta) if self.erase else feats)
            out.update(map_b=map_b, logits_b=map_b.mean(dim=(2, 3)))
        return out

    @torch.no_grad()
    def localization(
        self, images: torch.Tensor, rois: torch.Tensor, cls: torch.Tensor
    ) -> torch.Tensor:
        """The normalised map of class ``cls`` per box ``(R, s, s)``: min-max ReLU(M_A) for CAM,
        the element-wise max of min-max ReLU(M_A) and ReLU(M_B) for ACoL (Fan et al. 2022 §2.4)."""
        out = self.forward(images, rois, cls)
        idx = torch.arange(len(rois), device=rois.device)
        fused = minmax(torch.relu(out["map_a"][idx, cls].float()))
        if "map_b" in out:
            fused = torch.maximum(fused, minmax(torch.relu(out["map_b"][idx, cls].float())))
        return fused
