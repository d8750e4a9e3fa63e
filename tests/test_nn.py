"""wsbench.nn: dilated backbones, local weight files, ASPP, FPN, DeepLabV3+ and CAMs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from wsbench.errors import DataError, ParameterError
from wsbench.nn import ASPP, FPN, DeepLabV3Plus, build_backbone
from wsbench.nn.cam import (
    class_activation_map,
    grad_cam_plus_plus_weights,
    gradient_cam,
    minmax,
    upsample,
)


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("name", ["resnet18", "vgg16"])
@pytest.mark.parametrize("output_stride", [8, 16, 32])
def test_feature_strides(name, output_stride):
    net = build_backbone(name, output_stride, in_channels=1).eval()
    with torch.no_grad():
        out = net(torch.randn(1, 1, 64, 64))
    assert list(out) == ["c1", "c2", "c3", "c4"]
    for key, feature in out.items():
        assert feature.shape[1] == net.channels[key]
        assert feature.shape[-1] == 64 // net.strides[key]
    assert net.strides["c4"] == output_stride


def _dilations(module: nn.Module) -> list[tuple[int, int]]:
    return [m.dilation for m in module.modules() if isinstance(m, nn.Conv2d)]


def test_resnet50_stride_8_is_torchvisions_deeplab_backbone():
    ours = build_backbone("resnet50", 8).net
    reference = torchvision.models.segmentation.deeplabv3_resnet50(
        weights=None, weights_backbone=None, num_classes=2, aux_loss=False
    ).backbone
    for layer in ("layer1", "layer2", "layer3", "layer4"):
        assert _dilations(getattr(ours, layer)) == _dilations(reference[layer])
    theirs = {k: v.shape for k, v in reference.state_dict().items()}
    assert {k: v.shape for k, v in ours.state_dict().items()} == theirs


def test_multi_grid_multiplies_last_stage_dilation():
    net = build_backbone("resnet50", 16, multi_grid=(1, 2, 4)).net
    per_block = [
        {
            m.dilation
            for m in block.modules()
            if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)
        }
        for block in net.layer4
    ]
    assert per_block == [{(2, 2)}, {(4, 4)}, {(8, 8)}]
    with pytest.raises(ParameterError, match="multi_grid"):
        build_backbone("vgg16", 16, multi_grid=(1, 2))


def test_vgg16_stride_8_dilates_conv5_and_keeps_torchvision_keys():
    net = build_backbone("vgg16", 8).net
    convs = [m for m in net.features[24:30] if isinstance(m, nn.Conv2d)]
    assert [c.dilation for c in convs] == [(2, 2)] * 3
    reference = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["D"]).state_dict()
    assert {k.removeprefix("features."): v.shape for k, v in net.state_dict().items()} == {
        k: v.shape for k, v in reference.items()
    }


def test_local_weights_load_and_grey_input_equals_rgb_triplicate(tmp_path):
    source = torchvision.models.resnet18(weights=None)
    path = tmp_path / "r18.pth"
    torch.save(source.state_dict(), path)  # with fc: ignored
    rgb = build_backbone("resnet18", 16, weights=path).eval()
    grey = build_backbone("resnet18", 16, in_channels=1, weights=str(path)).eval()
    for key, value in source.state_dict().items():
        if not key.startswith("fc.") and key != "conv1.weight":
            torch.testing.assert_close(rgb.net.state_dict()[key], value)
    x = torch.randn(2, 1, 48, 48)
    with torch.no_grad():
        a, b = rgb(x.expand(-1, 3, -1, -1))["c4"], grey(x)["c4"]
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_weight_file_errors_name_the_file(tmp_path):
    missing = tmp_path / "nowhere.pth"
    with pytest.raises(DataError, match="nowhere.pth does not exist"):
        build_backbone("resnet18", weights=missing, what="deeplabv3plus.backbone_weights")
    wrong = tmp_path / "vgg.pth"
    torch.save(build_backbone("vgg16").net.state_dict(), wrong)
    with pytest.raises(DataError, match=r"vgg.pth is not a torchvision resnet18 state dict"):
        build_backbone("resnet18", weights=wrong)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(DataError, match="cannot read .*garbage.pth"):
        build_backbone("resnet18", weights=garbage)
    with pytest.raises(ParameterError, match="choose one of"):
        build_backbone("resnet34")


def test_aspp_rates_are_parameters():
    aspp = ASPP(32, rates=(2, 3, 5), out_channels=16)
    dilated = sorted({m.dilation[0] for m in aspp.modules() if isinstance(m, nn.Conv2d)} - {1})
    assert dilated == [2, 3, 5]
    aspp.eval()
    assert aspp(torch.randn(2, 32, 9, 9)).shape == (2, 16, 9, 9)


def test_fpn_keeps_names_and_grids():
    fpn = FPN([8, 16], out_channels=12)
    out = fpn({"c1": torch.randn(1, 8, 16, 16), "c2": torch.randn(1, 16, 8, 8)})
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "c1": (1, 12, 16, 16),
        "c2": (1, 12, 8, 8),
    }


def test_deeplabv3plus_logits_at_input_size():
    model = DeepLabV3Plus(
        build_backbone("resnet18", 16, in_channels=1),
        3,
        (1, 2, 3),
        aspp_channels=16,
        decoder_channels=16,
    )
    model.eval()
    with torch.no_grad():
        assert model(torch.randn(1, 1, 40, 56)).shape == (1, 3, 40, 56)


class GapClassifier(nn.Module):
    """conv features -> global average pooling -> linear: the network CAM was made for."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(self.features(x).mean(dim=(2, 3)))


def test_cam_averages_to_the_logit_and_gradcam_is_its_relu():
    torch.manual_seed(0)
    net = GapClassifier()
    x = torch.randn(2, 1, 6, 5)
    classes = torch.tensor([2, 0])
    feats = net.features(x).detach()
    cam = class_activation_map(feats, net.fc.weight.detach(), classes)
    logits = net(x).detach()
    picked = logits[torch.arange(2), classes] - net.fc.bias.detach()[classes]
    torch.testing.assert_close(cam.mean(dim=(1, 2)), picked)
    # with a linear head dS/dA = w / (h w): Grad-CAM = ReLU(CAM) / (h w)
    grad = gradient_cam(net, net.features, x, classes, method="gradcam")
    torch.testing.assert_close(grad, cam.clamp(min=0) / 30, rtol=1e-5, atol=1e-6)


class SquareScore(nn.Module):
    """A 2-channel 'feature' layer and a score S = sum_k v_k sum_ij A_kij^2 / 2, so that
    dS/dA_kij = v_k A_kij varies over pixels (Grad-CAM++ differs from Grad-CAM)."""

    def __init__(self, v):
        super().__init__()
        self.features = nn.Conv2d(2, 2, 1, bias=False)
        nn.init.eye_(self.features.weight[:, :, 0, 0])
        self.v = torch.tensor(v)

    def forward(self, x):
        a = self.features(x)
        return (self.v.view(1, -1) * (a**2).sum(dim=(2, 3)) / 2).sum(1, keepdim=True)


def test_gradcam_plus_plus_matches_a_hand_computation():
    a = np.array(
        [[[0.5, -1.2, 2.0], [0.0, 1.5, -0.5]], [[1.0, 0.25, -2.0], [3.0, 0.0, 0.5]]]
    )  # (K=2, h=2, w=3)
    v = [0.8, -0.3]
    net = SquareScore(v)
    got = gradient_cam(
        net, net.features, torch.tensor(a[None], dtype=torch.float32), torch.tensor([0])
    )
    # by hand, straight from the Grad-CAM++ formulas
    want = np.zeros((2, 3))
    weights = []
    for k in range(2):
        total = a[k].sum()
        w_k = 0.0
        for i in range(2):
            for j in range(3):
                g = v[k] * a[k, i, j]
                if g != 0:
                    alpha = g**2 / (2 * g**2 + total * g**3)
                    w_k += alpha * max(g, 0.0)
        weights.append(w_k)
    for k in range(2):
        want += weights[k] * a[k]
    want = np.maximum(want, 0)
    np.testing.assert_allclose(got[0].numpy(), want, rtol=1e-5, atol=1e-6)
    # and the weights alone, on the same tensors
    grads = torch.tensor(np.array(v)[:, None, None] * a)[None]
    np.testing.assert_allclose(
        grad_cam_plus_plus_weights(torch.tensor(a[None]), grads)[0].numpy(), weights, rtol=1e-6
    )


def test_unknown_cam_method_and_map_helpers():
    net = GapClassifier()
    with pytest.raises(ParameterError, match="gradcam"):
        gradient_cam(net, net.features, torch.randn(1, 1, 4, 4), torch.tensor([0]), method="cam")
    maps = torch.tensor([[[0.0, 2.0], [1.0, 4.0]], [[3.0, 3.0], [3.0, 3.0]]])
    scaled = minmax(maps)
    assert scaled[0].max() == 1 and scaled[0].min() == 0 and scaled[1].abs().max() == 0
    assert upsample(maps, (4, 6)).shape == (2, 4, 6)
