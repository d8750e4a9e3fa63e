"""The parts of Ouassit et al. 2022's method, each against an independent computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import median_filter
from wsbench_plugins.reipatch.localisation import DropoutUNet, box_priors, boxes_of
from wsbench_plugins.reipatch.network import TuningNet, parameter_count, tiles
from wsbench_plugins.reipatch.patches import area_ratio, patch_grid, self_labelled_patches
from wsbench_plugins.reipatch.preprocess import MedianIntensity, with_median
from wsbench_plugins.reipatch.segmenter import ReipatchSegmenter, fuse, remove_small_components

from wsbench.api import Intensity


def test_median_intensity_is_window_zscore_then_a_2d_median():
    rng = np.random.default_rng(0)
    hu = rng.normal(50, 120, (3, 20, 20)).astype(np.float32)
    x = np.clip(hu, -100, 200)
    x = (x - x.mean()) / (x.std() + 1e-6)
    expected = np.stack([median_filter(s, size=5, mode="nearest") for s in x])
    got = MedianIntensity(size=5).apply(hu)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert with_median(Intensity(), 1) == Intensity()  # size <= 1: no filter


def test_tiles_are_the_non_overlapping_blocks():
    x = torch.arange(64.0).view(1, 1, 8, 8)
    t = tiles(x, 2)
    assert t.shape == (1, 4, 4, 4)
    torch.testing.assert_close(t[0, 0], x[0, 0, :4, :4])
    torch.testing.assert_close(t[0, 1], x[0, 0, :4, 4:])
    torch.testing.assert_close(t[0, 2], x[0, 0, 4:, :4])
    torch.testing.assert_close(t[0, 3], x[0, 0, 4:, 4:])


@pytest.mark.parametrize("patch_inputs", ["pyramid", "tiles", "none"])
def test_tuning_net_side_outputs_on_every_level(patch_inputs):
    net = TuningNet(3, width=4, depth=3, aspp_channels=8, patch_inputs=patch_inputs).eval()
    outs = net(torch.randn(2, 2, 40, 36))
    assert [tuple(o.shape) for o in outs] == [
        (2, 3, 5, 5),
        (2, 3, 10, 9),
        (2, 3, 20, 18),
        (2, 3, 40, 36),
    ]


def test_convbox_gates_the_skips_with_the_box_prior():
    torch.manual_seed(0)
    net = TuningNet(2, width=4, depth=2, aspp_channels=8).eval()
    x = torch.randn(1, 2, 16, 16)
    other = x.clone()
    other[:, 1] = 1 - other[:, 1]
    assert not torch.allclose(net(x)[-1], net(other)[-1])
    off = TuningNet(2, width=4, depth=2, aspp_channels=8, convbox=False).eval()
    torch.testing.assert_close(off(x)[-1], off(other)[-1])  # without ConvBox: prior unused


def test_paper_profile_has_about_38_million_parameters():
    seg = ReipatchSegmenter("paper")
    total, trainable = parameter_count(seg.build_tuning(2))
    assert total == trainable
    assert abs(total - 38_059_141) / 38_059_141 < 0.06, (
        total
    )  # Ouassit et al. 2022 §3.4: 38,059,141


def test_multi_level_loss_is_eq_6():
    """l = sum_{i=2..N} (N - i) BCE_i + i Dice_i over N = depth + 1 side outputs."""
    from wsbench.training.losses import make_loss

    torch.manual_seed(0)
    seg = ReipatchSegmenter("quick", depth=2)
    outs = [torch.randn(2, 2, 4, 4), torch.randn(2, 2, 8, 8), torch.randn(2, 2, 16, 16)]
    target = (torch.rand(2, 16, 16) > 0.5).to(torch.uint8)
    weight = torch.ones(2, 16, 16)
    bce, dsc = make_loss("ce", False), make_loss("dice", False)
    expected = 0.0
    for i, out in ((2, outs[1]), (3, outs[2])):  # N = 3; level 1 (bottleneck) has no term
        size = out.shape[-1]
        t = torch.nn.functional.interpolate(target[:, None].float(), size=size)[:, 0].byte()
        w = torch.ones(2, size, size)
        expected = expected + (3 - i) * bce(out, t, w) + i * dsc(out, t, w)
    torch.testing.assert_close(seg.loss(outs, target, weight), expected)
    single = ReipatchSegmenter("quick", depth=2, loss_levels=1)
    torch.testing.assert_close(
        single.loss(outs, target, weight),
        bce(outs[2], target, weight) + dsc(outs[2], target, weight),
    )


def test_dice_term_has_smoothing_one():
    """Eq. 5: 1 - (2 y^ y + 1) / (y^ + y + 1), checked against a brute-force sum."""
    from wsbench.training.losses import soft_dice

    logits = torch.randn(1, 2, 5, 5)
    target = (torch.rand(1, 5, 5) > 0.5).long()
    p = logits.softmax(1)[:, 1]
    y = target.float()
    brute = 1 - (2 * (p * y).sum() + 1) / (p.sum() + y.sum() + 1)
    torch.testing.assert_close(soft_dice(logits, target, torch.ones(1, 5, 5)), brute)


def test_patches_keep_mu_at_least_the_threshold():
    pred = torch.zeros(1, 8, 8, dtype=torch.uint8)
    pred[0, :4, :4] = 1  # one full quadrant
    pred[0, 4:6, 4:5] = 1  # 2 of 16 pixels of the bottom-right quadrant: mu = 0.125
    inputs = torch.arange(128.0).view(1, 2, 8, 8)
    patches = self_labelled_patches(inputs, pred, mu=0.3, levels=(1,))
    assert len(patches) == 1 and patches.target.shape == (1, 8, 8)
    assert bool((patches.target == 1).all())  # the top-left quadrant zoomed to 8 x 8
    # brute force over all levels: each kept patch has mu >= 0.3
    every = self_labelled_patches(inputs, pred, mu=0.3, levels=(1, 2, 3))
    count = 0
    for level in (1, 2, 3):
        for y0, y1 in patch_grid(8, level):
            for x0, x1 in patch_grid(8, level):
                count += float(area_ratio(pred[0, y0:y1, x0:x1])) >= 0.3
    assert len(every) == count
    assert patch_grid(512, 3)[0] == (0, 64)  # the paper: 256, 128 and 64 px of a 512 px slice


def test_boxes_fill_each_roi_component():
    roi = np.zeros((10, 10), bool)
    roi[1:3, 1:4] = True
    roi[6, 7] = True
    boxes = boxes_of(roi, margin=1)
    expected = np.zeros((10, 10), np.float32)
    expected[0:4, 0:5] = 1
    expected[5:8, 6:9] = 1
    np.testing.assert_array_equal(boxes, expected)


def test_box_prior_is_empty_where_the_localiser_finds_nothing():
    torch.manual_seed(0)
    net = DropoutUNet(1, 2, 4, 2, 0.2)
    with torch.no_grad():
        net.head.bias.copy_(torch.tensor([10.0, -10.0]))  # background everywhere
    prior = box_priors(net, torch.randn(2, 1, 16, 16), 0.3, 0, 1)
    assert prior.shape == (2, 1, 16, 16) and float(prior.sum()) == 0.0
    with torch.no_grad():
        net.head.bias.copy_(torch.tensor([-10.0, 10.0]))  # foreground everywhere
    prior = box_priors(net, torch.randn(2, 1, 16, 16), 0.3, 0, 1)
    assert set(prior.unique().tolist()) <= {0.0, 1.0} and float(prior.sum()) > 0


def test_soft_vote_is_eq_8_and_hard_votes_differ():
    rng = np.random.default_rng(0)
    probs = []
    for _ in range(3):
        fg = rng.random((1, 2, 3, 3)).astype(np.float32)
        probs.append(np.concatenate([1 - fg, fg]))
    np.testing.assert_allclose(fuse(probs, "soft"), (probs[0] + probs[1] + probs[2]) / 3)
    masks = [p.argmax(0) > 0 for p in probs]
    assert np.array_equal(fuse(probs, "union").argmax(0) > 0, masks[0] | masks[1] | masks[2])
    assert np.array_equal(fuse(probs, "intersection").argmax(0) > 0, masks[0] & masks[1] & masks[2])


def test_small_components_are_removed():
    prob = np.zeros((2, 4, 10, 10), np.float32)
    prob[0] = 1
    prob[:, 0:3, 0:4, 0:4] = [[[[0]]], [[[1]]]]  # 48 voxels
    prob[:, 3, 8, 8] = [0, 1]  # one voxel
    out = remove_small_components(prob, 10)
    assert out[1, 3, 8, 8] == 0 and out[0, 3, 8, 8] == 1
    assert (out[1, 0:3, 0:4, 0:4] == 1).all()
    np.testing.assert_array_equal(remove_small_components(prob, 0), prob)
