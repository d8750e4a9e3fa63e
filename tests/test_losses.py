"""Losses honour weight maps; the factory refuses heads a loss cannot train."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from wsbench.errors import ParameterError
from wsbench.training.losses import LOSS_NAMES, make_loss


def _multiclass(seed: int = 0, k: int = 2):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, k + 1, 6, 7, generator=g, requires_grad=True)
    target = torch.randint(0, k + 1, (2, 6, 7), generator=g)
    weight = (torch.rand(2, 6, 7, generator=g) < 0.5).float()
    return logits, target, weight


def _multilabel(seed: int = 0, k: int = 3):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, k, 6, 7, generator=g, requires_grad=True)
    target = torch.randint(0, 2, (2, k, 6, 7), generator=g).to(torch.uint8)
    weight = (torch.rand(2, k, 6, 7, generator=g) < 0.5).float()
    return logits, target, weight


@pytest.mark.parametrize("name", ["ce", "dice", "ce+dice"])
def test_multiclass_weight_zero_pixels_get_zero_gradient(name):
    logits, target, weight = _multiclass()
    make_loss(name, multilabel=False)(logits, target, weight).backward()
    ignored = (weight == 0).unsqueeze(1).expand_as(logits)
    assert torch.all(logits.grad[ignored] == 0)
    assert logits.grad[~ignored].abs().sum() > 0


@pytest.mark.parametrize("name", ["bce", "dice", "bce+dice"])
def test_multilabel_weight_zero_pixels_get_zero_gradient(name):
    logits, target, weight = _multilabel()
    make_loss(name, multilabel=True)(logits, target, weight).backward()
    assert torch.all(logits.grad[weight == 0] == 0)
    assert logits.grad[weight > 0].abs().sum() > 0


def test_weighted_bce_equals_hand_computation():
    """SMILE eq. 1: sum_k w_k BCE_k over pixels, divided by the sum of the weights."""
    logits, target, weight = _multilabel(seed=3)
    p = torch.sigmoid(logits.detach()).double()
    y = target.double()
    bce = -(y * torch.log(p) + (1 - y) * torch.log(1 - p))
    expected = (weight.double() * bce).sum() / weight.double().sum()
    got = make_loss("bce", multilabel=True)(logits, target, weight)
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)


def test_weighted_ce_equals_mean_over_kept_pixels():
    logits, target, weight = _multiclass(seed=4)
    kept = weight > 0
    expected = F.cross_entropy(logits.permute(0, 2, 3, 1)[kept], target[kept])
    got = make_loss("ce", multilabel=False)(logits, target, weight)
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)


def test_dice_ignores_weight_zero_pixels_in_every_sum():
    """Soft Dice with hard 0/1 'probabilities' equals 1 - Dice over the weighted pixels."""
    target = torch.tensor([[[1, 1, 0, 0]]])  # (1, 1, 4)
    pred = torch.tensor([[[1, 0, 1, 0]]])
    weight = torch.tensor([[[1.0, 1.0, 0.0, 1.0]]])  # the false positive is ignored
    logits = torch.stack([(1 - pred) * 40.0 - 20, pred * 40.0 - 20], 1).float()
    got = make_loss("dice", multilabel=False)(logits, target, weight).item()
    # kept pixels: tp=1, fn=1, fp=0 -> dice = (2*1 + 1) / (1 + 2 + 1) with smoothing 1
    assert got == pytest.approx(1 - 3 / 4, abs=1e-6)


@pytest.mark.parametrize(
    "name,multilabel",
    [("dice", False), ("ce+dice", False), ("dice", True), ("bce+dice", True), ("bce", True)],
)
def test_all_ignored_batch_gives_zero_loss_and_gradient(name, multilabel):
    logits, target, weight = _multilabel() if multilabel else _multiclass()
    loss = make_loss(name, multilabel)(logits, target, torch.zeros_like(weight))
    loss.backward()
    assert torch.isfinite(loss) and loss.item() == pytest.approx(0.0, abs=1e-7)
    assert torch.all(logits.grad == 0)


def test_multilabel_dice_uses_each_class_weight():
    logits, target, weight = _multilabel(k=2)
    loss = make_loss("dice", multilabel=True)
    changed = target.clone()
    changed[:, 1][weight[:, 1] == 0] ^= 1  # flip targets only where class 2 is ignored
    assert loss(logits, changed, weight).item() == pytest.approx(
        loss(logits, target, weight).item(), abs=1e-7
    )
    changed[:, 0][weight[:, 0] > 0] ^= 1  # a kept pixel changes the loss
    assert loss(logits, changed, weight).item() != pytest.approx(
        loss(logits, target, weight).item()
    )


@pytest.mark.parametrize(
    "name,multilabel,hint",
    [
        ("ce", True, "bce"),
        ("ce+dice", True, "bce"),
        ("bce", False, "ce"),
        ("bce+dice", False, "ce"),
    ],
)
def test_factory_refuses_the_wrong_head(name, multilabel, hint):
    with pytest.raises(ParameterError, match=f"cannot train a .*{hint}"):
        make_loss(name, multilabel)


def test_factory_lists_valid_names_for_unknown_loss():
    with pytest.raises(
        ParameterError, match="choose one of " + ", ".join(LOSS_NAMES).replace("+", r"\+")
    ):
        make_loss("focal", multilabel=False)
