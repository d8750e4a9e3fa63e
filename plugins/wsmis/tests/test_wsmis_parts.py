"""The building blocks of the wsmis plugin against independent references: DropBlock, the
tag classifier, Grad-CAM(++) maps, pair affinities and the random walk."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from wsbench_plugins.wsmis.affinity import (
    half_disc,
    pair_labels,
    pair_valid,
    path_affinity,
    random_walk,
)
from wsbench_plugins.wsmis.cams import cam_weights, explain
from wsbench_plugins.wsmis.classifier import TagClassifier
from wsbench_plugins.wsmis.dropblock import DropBlock2d
from wsbench_plugins.wsmis.irn import IRNet, irn_loss

from wsbench.errors import ParameterError
from wsbench.nn.cam import class_activation_map, minmax


def test_dropblock_drops_square_blocks_at_the_asked_rate():
    torch.manual_seed(0)
    block = DropBlock2d(drop_prob=0.2, block_size=5).train()
    x = torch.ones(64, 1, 40, 40)
    y = block(x)
    dropped = y == 0
    rate = dropped.float().mean().item()
    assert 0.12 < rate < 0.25  # gamma of Eq. 1 with overlapping blocks: a little under 0.2
    # the kept units are rescaled so the total is preserved
    assert y.sum().item() == pytest.approx(x.sum().item(), rel=1e-4)
    # every dropped unit lies in a fully dropped 5 x 5 square (blocks, not single units)
    d = dropped[:, 0].float()[:, None]
    covered = torch.nn.functional.max_pool2d(
        -torch.nn.functional.max_pool2d(-d, 5, 1, 2), 5, 1, 2
    )  # morphological opening with a 5 x 5 square
    assert torch.equal(covered.bool()[:, 0], dropped[:, 0])
    block.eval()
    assert torch.equal(block(x), x)
    with pytest.raises(ParameterError, match="drop_prob"):
        DropBlock2d(1.0, 3)


@pytest.mark.parametrize("backbone", ["vgg16", "resnet50", "vgg16-slim"])
def test_classifier_output_stride_8_three_convs_gap_linear(backbone):
    net = TagClassifier(backbone, num_classes=2, width=16, block_size=3).eval()
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        feats = net.feature_map(x)
        logits = net(x)
    assert feats.shape == (2, 16, 4, 4)  # 32 / 8
    convs = [m for m in net.extra if isinstance(m, torch.nn.Conv2d)]
    relus = [m for m in net.extra if isinstance(m, torch.nn.ReLU)]
    assert len(convs) == 3 and len(relus) == 3
    torch.testing.assert_close(logits, net.fc(feats.mean(dim=(2, 3))))
    assert isinstance(net.drop_backbone, DropBlock2d)
    off = TagClassifier(backbone, 2, width=16, dropblock=False)
    assert not any(isinstance(m, DropBlock2d) for m in off.modules())


def test_grad_cam_of_a_gap_linear_head_is_the_cam():
    """With GAP + linear, dS_c/dA_k = w_ck / hw everywhere: Grad-CAM = ReLU(CAM) up to a scale."""
    torch.manual_seed(1)
    net = TagClassifier("vgg16-slim", num_classes=2, width=8, dropblock=False).eval()
    x = torch.randn(3, 1, 32, 32)
    cls = torch.tensor([0, 1, 1])
    got = explain(net, x, cls, "gradcam")
    with torch.no_grad():
        cam = class_activation_map(net.feature_map(x), net.fc.weight, cls).clamp(min=0)
    want = minmax(
        torch.nn.functional.interpolate(cam[:, None], size=(32, 32), mode="bilinear")[:, 0]
    )
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)


def test_uniform_alpha_mutant_differs_from_grad_cam_plus_plus():
    torch.manual_seed(2)
    a = torch.rand(1, 4, 5, 5)
    g = torch.randn(1, 4, 5, 5)
    plus = cam_weights(a, g, "gradcam++")
    uniform = cam_weights(a, g, "uniform")
    torch.testing.assert_close(uniform, g.clamp(min=0).mean(dim=(2, 3)))
    assert not torch.allclose(plus / plus.norm(), uniform / uniform.norm())


def test_half_disc_and_path_affinity_by_brute_force():
    assert half_disc(1) == [(0, 1), (1, 0)]
    offsets = half_disc(3)
    assert (
        len(offsets)
        == (sum(dy * dy + dx * dx <= 9 for dy in range(-3, 4) for dx in range(-3, 4)) - 1) // 2
    )
    rng = np.random.default_rng(0)
    b = rng.random((6, 7)).astype(np.float32)
    aff = path_affinity(torch.from_numpy(b)[None], offsets)[0].numpy()
    valid = pair_valid(6, 7, offsets).numpy()
    for p, (dy, dx) in enumerate(offsets):
        n = max(abs(dy), abs(dx))
        for y in range(6):
            for x in range(7):
                if not valid[p, y, x]:
                    continue
                path = [b[y + round(k * dy / n), x + round(k * dx / n)] for k in range(n + 1)]
                assert aff[p, y, x] == pytest.approx(1 - max(path))


def test_pair_labels_by_brute_force():
    lab = torch.tensor([[[0, 0, 1], [255, 1, 1], [0, 2, 2]]])
    offsets = half_disc(1)
    sets = pair_labels(lab, offsets)
    for p, (dy, dx) in enumerate(offsets):
        for y in range(3):
            for x in range(3):
                yy, xx = y + dy, x + dx
                a = int(lab[0, y, x])
                b = int(lab[0, yy, xx]) if 0 <= yy < 3 and 0 <= xx < 3 else 255
                known = a != 255 and b != 255
                assert bool(sets["bg_pos"][0, p, y, x]) == (known and a == b == 0)
                assert bool(sets["fg_pos"][0, p, y, x]) == (known and a == b and a > 0)
                assert bool(sets["neg"][0, p, y, x]) == (known and a != b)


def test_random_walk_dense_equals_sparse_and_stops_at_boundaries():
    h, w = 10, 12
    boundary = torch.zeros(h, w)
    boundary[:, 6] = 1.0  # a wall
    scores = torch.zeros(1, h, w)
    scores[0, 4:6, 1:3] = 1.0  # seed on the left
    dense = random_walk(scores, boundary, radius=3, beta=10, exp_times=5, solver="dense")
    sparse = random_walk(scores, boundary, radius=3, beta=10, exp_times=5, solver="sparse")
    torch.testing.assert_close(dense, sparse, atol=1e-5, rtol=1e-4)
    assert dense[0, :, 7:].max() < 1e-6 < dense[0, :, :6].min()  # spreads left, not across
    # beta = 0: every affinity 1, the wall is ignored
    blind = random_walk(scores, boundary, radius=3, beta=0, exp_times=5, solver="dense")
    assert blind[0, :, 7:].max() > 1e-3
    # a constant score is a fixed point of the row-stochastic transition
    flat = random_walk(torch.ones(1, h, w), boundary, 3, 10, 4, "dense")
    torch.testing.assert_close(flat, torch.ones(1, h, w))


@pytest.mark.parametrize("backbone", ["vgg16-slim", "resnet50"])
def test_irnet_branches_on_the_stride_4_grid_and_loss_trains(backbone):
    torch.manual_seed(0)
    net = IRNet(backbone)
    x = torch.randn(2, 1, 32, 32)
    edge, disp = net(x)
    assert edge.shape == (2, 1, 8, 8) and disp.shape == (2, 2, 8, 8)
    assert len(net.edge) == len(net.dp) == 5
    labels = torch.full((2, 32, 32), 255, dtype=torch.long)
    labels[:, :12] = 0
    labels[:, 20:] = 1
    loss = irn_loss(net, x, labels, half_disc(2))
    assert torch.isfinite(loss)
    loss.backward()
    assert net.edge_out.weight.grad is not None and net.dp_out[-1].weight.grad is not None
