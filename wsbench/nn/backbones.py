"""Dilated ResNet and VGG16 backbones built from torchvision, with local weight files.

``build_backbone(name, output_stride=..., weights=PATH)`` returns a module whose forward
gives four feature maps ``c1..c4`` at strides 4, 8, and then 16 and 32 unless dilation
keeps the resolution: output stride 8 or 16 replaces the last strides by dilation, as
DeepLab (Chen et al. 2017) and paper 004's classifiers do. ``multi_grid`` multiplies the
dilation of the last stage's blocks (DeepLabV3 §3.2: (1, 2, 4)).

Weights come only from local files (a torchvision state dict, ``fc``/``classifier``
ignored), loaded with ``torch.load(..., weights_only=True)``; nothing is downloaded.
A one-plane input (CT, X-ray) gets a one-plane first convolution; an RGB weight file
then has its first-layer kernels summed over colours, which equals feeding the grey
image as three identical planes.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path

import torch
import torchvision
from torch import nn

from wsbench.errors import DataError, ParameterError

BACKBONES = ("resnet18", "resnet50", "resnet101", "vgg16")
OUTPUT_STRIDES = (8, 16, 32)
FEATURES = ("c1", "c2", "c3", "c4")


class Backbone(nn.Module):
    """Base: ``forward(x) -> {"c1": ..., "c4": ...}``; ``channels`` and ``strides`` per key."""

    channels: dict[str, int]
    strides: dict[str, int]

    def load_weights(self, path: Path | str, what: str = "backbone_weights") -> None:
        """Load a local torchvision state dict; ``what`` names the parameter in errors."""
        load_state_file(self.net, Path(path), what, self.name)


class ResNetBackbone(Backbone):
    """torchvision ResNet-18/50/101 without ``avgpool``/``fc``; stages are c1..c4."""

    def __init__(
        self,
        name: str = "resnet50",
        output_stride: int = 32,
        multi_grid: Sequence[int] = (1,),
        in_channels: int = 3,
    ):
        super().__init__()
        self.name = name
        dilate = {8: [False, True, True], 16: [False, False, True], 32: [False] * 3}
        if name == "resnet18":  # BasicBlock refuses dilation: patched below
            net = torchvision.models.resnet18(weights=None)
        else:
            net = getattr(torchvision.models, name)(
                weights=None, replace_stride_with_dilation=dilate[output_stride]
            )
        del net.avgpool, net.fc
        if in_channels != 3:
            net.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.net = net
        base = {8: (2, 4), 16: (1, 2), 32: (1, 1)}[output_stride]
        if name == "resnet18":
            for layer, dilation in ((net.layer3, base[0]), (net.layer4, base[1])):
                if dilation > 1:
                    dilate_stage(layer, [dilation] * len(layer))
        if tuple(multi_grid) != (1,):
            layer4 = net.layer4
            dilate_stage(
                layer4, [base[1] * multi_grid[i % len(multi_grid)] for i in range(len(layer4))]
            )
        width = 64 if name == "resnet18" else 256
        self.channels = {f"c{i + 1}": width * 2**i for i in range(4)}
        self.strides = {
            "c1": 4,
            "c2": 8,
            "c3": min(16, output_stride),
            "c4": output_stride,
        }

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        n = self.net
        x = n.maxpool(n.relu(n.bn1(n.conv1(x))))
        out = {}
        for key, layer in zip(FEATURES, (n.layer1, n.layer2, n.layer3, n.layer4)):
            x = layer(x)
            out[key] = x
        return out


def dilate_stage(layer: nn.Sequential, dilations: Sequence[int]) -> None:
    """Stride 1 everywhere in ``layer``; block i's 3x3 convolutions get ``dilations[i]``
    (public: a plugin sets multi-grid rates, e.g. 2/4/8, with it)."""
    for block, dilation in zip(layer, dilations):
        for module in block.modules():
            if isinstance(module, nn.Conv2d):
                module.stride = (1, 1)
                if module.kernel_size == (3, 3):
                    module.dilation = (dilation, dilation)
                    module.padding = (dilation, dilation)


# indices into torchvision's vgg16().features: the last layer of each block
_VGG_BLOCK_ENDS = {"c1": 9, "c2": 16, "c3": 23, "c4": 30}  # after pool2, pool3, pool4, pool5
_VGG_POOLS = (4, 9, 16, 23, 30)


class VGGBackbone(Backbone):
    """torchvision VGG16's convolutional ``features``; c1..c4 end at pools 2..5.

    Output stride 16 removes pool5; 8 also removes pool4 and dilates conv5 by 2 (DeepLab
    v1's VGG, paper 004's classifier). Removed pools become ``Identity`` so a torchvision
    state dict still loads.
    """

    def __init__(self, name: str = "vgg16", output_stride: int = 32, in_channels: int = 3):
        super().__init__()
        self.name = name
        # torchvision's VGG16 layers and initialisation, without its 120M-weight classifier
        features = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["D"])
        for module in features.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.constant_(module.bias, 0)
        net = nn.Module()
        net.features = features
        if in_channels != 3:
            features[0] = nn.Conv2d(in_channels, 64, 3, padding=1)
        removed = {8: (23, 30), 16: (30,), 32: ()}[output_stride]
        for index in removed:
            features[index] = nn.Identity()
        if output_stride == 8:
            for index in range(24, 30):
                if isinstance(features[index], nn.Conv2d):
                    features[index].dilation = (2, 2)
                    features[index].padding = (2, 2)
        self.net = net
        self.channels = {"c1": 128, "c2": 256, "c3": 512, "c4": 512}
        self.strides = {"c1": 4, "c2": 8, "c3": min(16, output_stride), "c4": output_stride}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out, start = {}, 0
        for key, end in _VGG_BLOCK_ENDS.items():
            for index in range(start, end + 1):
                x = self.net.features[index](x)
            out[key], start = x, end + 1
        return out


def build_backbone(
    name: str,
    output_stride: int = 32,
    multi_grid: Sequence[int] = (1,),
    in_channels: int = 3,
    weights: str | Path = "",
    what: str = "backbone_weights",
) -> Backbone:
    """A backbone by name; ``weights`` is a local state-dict file (empty: random init)."""
    if name not in BACKBONES:
        raise ParameterError(
            f"backbone {name!r} is not known; choose one of {', '.join(BACKBONES)}"
        )
    if output_stride not in OUTPUT_STRIDES:
        raise ParameterError(
            f"output stride {output_stride} is not supported; choose one of "
            f"{', '.join(map(str, OUTPUT_STRIDES))}"
        )
    if any(int(m) < 1 for m in multi_grid) or not multi_grid:
        raise ParameterError(f"multi_grid {tuple(multi_grid)} must be positive integers")
    if name == "vgg16":
        if tuple(multi_grid) != (1,):
            raise ParameterError("multi_grid applies to ResNet backbones only, not vgg16")
        net: Backbone = VGGBackbone(name, output_stride, in_channels)
    else:
        net = ResNetBackbone(name, output_stride, multi_grid, in_channels)
    if weights:
        net.load_weights(weights, what)
    return net


def load_state_file(module: nn.Module, path: Path, what: str, arch: str) -> None:
    """Load a torchvision ``arch`` state dict from ``path`` into ``module`` (strictly,
    head layers ``fc.``/``classifier.`` skipped); one-line ``DataError`` when it fails."""
    if not path.is_file():
        raise DataError(
            f"{what}: {path} does not exist; give the path of a local {arch} state dict "
            f"(torchvision layout), or leave {what} empty for random initialisation"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(
            f"{what}: cannot read {path} as a weights-only state dict ({first})"
        ) from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DataError(f"{what}: {path} holds no state dict of tensors; save model.state_dict()")
    state = {k: v for k, v in state.items() if not k.startswith(("fc.", "classifier."))}
    own = module.state_dict()
    first_conv = "conv1.weight" if "conv1.weight" in own else "features.0.weight"
    kernel = state.get(first_conv)
    if kernel is not None and kernel.dim() == 4 and kernel.shape[1] != own[first_conv].shape[1]:
        if own[first_conv].shape[1] == 1:  # grey input: sum RGB kernels (= grey x 3)
            state[first_conv] = kernel.sum(1, keepdim=True)
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        raise DataError(
            f"{what}: {path} is not a torchvision {arch} state dict "
            f"({str(exc).splitlines()[0]}); check the backbone name"
        ) from None
