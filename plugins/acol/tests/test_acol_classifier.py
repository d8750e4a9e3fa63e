"""The box classifier: min-max CAMs, ACoL erasing, RoIAlign level routing, map fusion."""

from __future__ import annotations

import torch
from torchvision.ops import roi_align
from wsbench_plugins.acol.classifier import BoxClassifier, erase, minmax, salient
from wsbench_plugins.acol.fpn import ResNetFPN


def tiny_model(two_branch: bool = True, delta: float = 0.6) -> BoxClassifier:
    torch.manual_seed(0)
    return BoxClassifier(
        ResNetFPN("resnet18", 8),
        num_classes=3,
        two_branch=two_branch,
        delta=delta,
        hidden=8,
        roi_size=5,
        canonical=56.0,
    ).eval()


def test_minmax_per_map_and_constant_maps():
    maps = torch.tensor([[[1.0, 3.0], [2.0, 5.0]], [[4.0, 4.0], [4.0, 4.0]]])
    out = minmax(maps)
    torch.testing.assert_close(out[0], torch.tensor([[0.0, 0.5], [0.25, 1.0]]))
    torch.testing.assert_close(out[1], torch.zeros(2, 2))


def test_erasing_zeroes_features_above_delta_after_relu_and_minmax():
    cam = torch.tensor([[[-4.0, 0.0, 1.0], [5.9, 6.1, 10.0]]])  # ReLU -> /10: 0 0 .1 .59 .61 1
    expected = torch.tensor([[[False, False, False], [False, True, True]]])
    assert torch.equal(salient(cam, 0.6), expected)
    feats = torch.ones(1, 4, 2, 3)
    out = erase(feats, cam, 0.6)
    assert torch.equal(out[0, :, 1, 1:], torch.zeros(4, 2))
    assert out.sum() == 4 * 4


def test_forward_shapes_and_single_branch_cam():
    images = torch.randn(2, 1, 64, 64)
    rois = torch.tensor(
        [[0, 4, 4, 20, 24], [1, 10, 10, 60, 60], [1, 0, 0, 8, 8]], dtype=torch.float32
    )
    cls = torch.tensor([1, 0, 2])
    out = tiny_model()(images, rois, cls)
    assert out["map_a"].shape == out["map_b"].shape == (3, 3, 5, 5)
    assert out["logits_a"].shape == (3, 3)
    torch.testing.assert_close(out["logits_a"], out["map_a"].mean(dim=(2, 3)))
    cam_only = tiny_model(two_branch=False)(images, rois, cls)
    assert "map_b" not in cam_only and cam_only["map_a"].shape == (3, 3, 5, 5)


def test_roi_features_use_the_level_of_eq_2():
    model = tiny_model()
    images = torch.randn(1, 1, 256, 256)
    pyramid = model.backbone(images)
    small = torch.tensor([[0, 0, 0, 20, 20]], dtype=torch.float32)  # 4+log2(20/56) < 3 -> P2
    large = torch.tensor([[0, 0, 0, 240, 240]], dtype=torch.float32)  # 4+log2(240/56) > 6 -> P5
    for roi, level, stride in ((small, 2, 4), (large, 5, 32)):
        expected = roi_align(
            pyramid[level], roi, 5, spatial_scale=1 / stride, sampling_ratio=2, aligned=True
        )
        torch.testing.assert_close(model.roi_features(pyramid, roi), expected)


def test_localization_is_the_max_of_the_normalised_branch_maps():
    model = tiny_model()
    images = torch.randn(1, 1, 64, 64)
    rois = torch.tensor([[0, 8, 8, 40, 40]], dtype=torch.float32)
    cls = torch.tensor([1])
    fused = model.localization(images, rois, cls)
    out = model(images, rois, cls)
    a = minmax(torch.relu(out["map_a"][:, 1]))
    b = minmax(torch.relu(out["map_b"][:, 1]))
    torch.testing.assert_close(fused, torch.maximum(a, b))
    assert fused.min() >= 0 and fused.max() <= 1
    cam = tiny_model(two_branch=False)
    torch.testing.assert_close(
        cam.localization(images, rois, cls),
        minmax(torch.relu(cam(images, rois, cls)["map_a"][:, 1])),
    )


def test_erasing_off_feeds_branch_b_the_unerased_features():
    """The claims-test mutant: with erase=False and B's weights equal to A's, B's maps are A's;
    with erasing on they differ (A's salient region is gone from B's input)."""
    images = torch.randn(1, 1, 64, 64)
    rois = torch.tensor([[0, 8, 8, 40, 40]], dtype=torch.float32)
    cls = torch.tensor([1])
    maps = {}
    for on in (True, False):
        model = tiny_model()
        model.erase = on
        model.branch_b.load_state_dict(model.branch_a.state_dict())
        with torch.no_grad():
            maps[on] = model(images, rois, cls)
    torch.testing.assert_close(maps[False]["map_b"], maps[False]["map_a"])
    assert not torch.allclose(maps[True]["map_b"], maps[True]["map_a"])


def test_acol_erase_parameter_reaches_the_classifier():
    from wsbench_plugins.acol.acol import AcolLabeler

    assert AcolLabeler("quick").build_model(1).erase is True
    assert AcolLabeler("quick", erase=False).build_model(1).erase is False
