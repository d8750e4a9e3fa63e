"""SliceSegmenter's pieces one by one: batches, losses, augmentation, slicing planes,
warm start, and the new api declarations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from wsbench.api import (
    CaseInfo,
    Intensity,
    PseudoLabel,
    Reported,
    Segmenter,
    TrainContext,
    WeakCase,
)
from wsbench.errors import DataError, ParameterError, PluginError
from wsbench.segmenters.augment import Augmentation, _affine
from wsbench.segmenters.slices import (
    SliceSegmenter,
    build_slice_dataset,
    in_plane_spacing,
    isotropic_size,
    prior_offsets,
    slice_view,
    unslice_view,
)
from wsbench.segmenters.supervision import deep_supervision_loss, positive_weighted_loss
from wsbench.segmenters.unet import UNetSegmenter
from wsbench.testing.segmenters import disc_cases, full_labels
from wsbench.training.batches import BalancedBatches, ShuffledBatches, batch_count, split_batches
from wsbench.training.losses import make_loss, soft_dice, weighted_ce


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# -- batches


@pytest.mark.parametrize("n", range(1, 12))
def test_a_last_batch_of_one_joins_the_previous(n):
    batches = split_batches(list(range(n)), 4)
    assert sum(batches, []) == list(range(n))
    assert len(batches) == batch_count(n, 4)
    assert all(len(b) >= 2 for b in batches) or n == 1
    sampler = ShuffledBatches(n, 4, torch.Generator().manual_seed(0))
    assert len(list(sampler)) == len(sampler)


def test_balanced_batches_hold_the_positive_share():
    positive = [i % 10 == 0 for i in range(50)]  # 5 positives, 45 negatives
    sampler = BalancedBatches(positive, 8, 0.5, torch.Generator().manual_seed(1))
    batches = list(sampler)
    assert len(batches) == len(sampler) == 7
    for batch in batches:
        assert len(batch) == 8 and sum(positive[i] for i in batch) == 4
    again = list(BalancedBatches(positive, 8, 0.5, torch.Generator().manual_seed(1)))
    assert again == batches
    # every negative is seen before any repeats: the majority class is walked in turn
    negatives = [i for b in batches for i in b if not positive[i]]
    assert len(set(negatives[:28])) == 28
    only_negative = list(BalancedBatches([False] * 9, 4, 0.25, torch.Generator()))
    assert all(len(b) == 4 for b in only_negative)
    with pytest.raises(ParameterError, match="pos_fraction"):
        BalancedBatches(positive, 8, 1.0, torch.Generator())


# -- losses


def test_positive_weighted_bce_is_torchs_pos_weight():
    torch.manual_seed(0)
    logits = torch.randn(3, 2, 5, 6)
    target = (torch.rand(3, 2, 5, 6) < 0.3).to(torch.uint8)
    ones = torch.ones(3, 2, 5, 6)
    ours = positive_weighted_loss("bce", True, 7.0)(logits, target, ones)
    theirs = F.binary_cross_entropy_with_logits(
        logits, target.float(), pos_weight=torch.tensor(7.0)
    )
    torch.testing.assert_close(ours, theirs)
    both = positive_weighted_loss("bce+dice", True, 7.0)(logits, target, ones)
    dice = make_loss("dice", True)(logits, target, ones)
    torch.testing.assert_close(both, theirs + dice)


def test_positive_weighted_ce_weighs_foreground_pixels():
    torch.manual_seed(1)
    logits = torch.randn(2, 3, 4, 4)
    target = torch.randint(0, 3, (2, 4, 4))
    weight = torch.rand(2, 4, 4)
    factor = torch.where(target > 0, 3.0, 1.0)
    ce = F.cross_entropy(logits, target, reduction="none")
    want = (ce * factor * weight).sum() / weight.sum() + soft_dice(logits, target, weight)
    got = positive_weighted_loss("ce+dice", False, 3.0)(logits, target, weight)
    torch.testing.assert_close(got, want)
    assert positive_weighted_loss("ce", False, 1.0) is make_loss("ce", False)
    with pytest.raises(ParameterError, match="pos_weight"):
        positive_weighted_loss("dice", False, 2.0)


def test_deep_supervision_weights_levels_as_paper_003():
    torch.manual_seed(2)
    target = torch.randint(0, 2, (2, 8, 8))
    weight = torch.ones(2, 8, 8)
    outputs = [torch.randn(2, 2, 8, 8), torch.randn(2, 2, 4, 4), torch.randn(2, 2, 2, 2)]
    ce, dice = make_loss("ce", False), make_loss("dice", False)
    got = deep_supervision_loss(outputs, target, weight, [2, 3, 4], 4, ce, dice)
    want = torch.zeros(())
    for logits, level in zip(outputs, [2, 3, 4]):
        step = 8 // logits.shape[-1]
        t, w = target[:, ::step, ::step], weight[:, ::step, ::step]  # nearest = every step-th
        want = want + (4 - level) * weighted_ce(logits, t, w) + level * soft_dice(logits, t, w)
    torch.testing.assert_close(got, want)


# -- augmentation


def _batch(n=3, size=16):
    g = torch.Generator().manual_seed(3)
    return {
        "image": torch.randn(n, 1, size, size, generator=g),
        "target": (torch.rand(n, size, size, generator=g) < 0.4).to(torch.uint8),
        "weight": torch.ones(n, size, size),
    }


@pytest.mark.parametrize("classes", [1, 3])
def test_the_class_prior_is_the_starting_probability_of_sigmoid_and_softmax_heads(classes):
    zero = torch.zeros(2, classes + 1, 4, 4)
    soft = (zero + prior_offsets(0.01, classes, multilabel=False)).softmax(1)
    expected = torch.tensor([1 - 0.01 * classes] + [0.01] * classes)
    torch.testing.assert_close(soft[0, :, 2, 3], expected)
    sig = (zero[:, :classes] + prior_offsets(0.01, classes, multilabel=True)).sigmoid()
    torch.testing.assert_close(sig, torch.full_like(sig, 0.01))
    assert not prior_offsets(0.5, classes, multilabel=False).any()
    assert not prior_offsets(0.5, classes, multilabel=True).any()


def test_a_class_prior_that_leaves_no_background_is_refused():
    with pytest.raises(DataError, match="sigmoid_prior=0.3 leaves no probability"):
        prior_offsets(0.3, 4, multilabel=False)


def test_augmentation_is_seeded_and_off_by_default():
    batch = _batch()
    assert Augmentation()(batch, torch.Generator()) is batch
    aug = Augmentation(scale=0.2, rotate=30, blur=1.5, brightness=0.5)
    a = aug(batch, torch.Generator().manual_seed(7))
    b = aug(batch, torch.Generator().manual_seed(7))
    c = aug(batch, torch.Generator().manual_seed(8))
    for key in ("image", "target", "weight"):
        torch.testing.assert_close(a[key], b[key])
    assert not torch.equal(a["image"], c["image"])
    assert a["target"].dtype == torch.uint8 and set(a["target"].unique().tolist()) <= {0, 1}


def test_rotation_ignores_pixels_from_outside_and_brightness_shifts():
    batch = _batch(n=1, size=17)
    image, target, weight = _affine(
        batch["image"], batch["target"], batch["weight"], torch.ones(1), torch.tensor([0.785])
    )
    corners = weight[0, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert (
        (corners == 0).all()
        and weight[0, 8, 8] == 1
        and target[0, 8, 8] == batch["target"][0, 8, 8]
    )
    zoomed = _affine(
        batch["image"], batch["target"], batch["weight"], torch.tensor([0.5]), torch.zeros(1)
    )
    assert zoomed[2][0, 0, 0] == 0 and zoomed[2][0, 8, 8] == 1
    shifted = Augmentation(brightness=1.0)(batch, torch.Generator().manual_seed(0))
    delta = shifted["image"] - batch["image"]
    assert torch.allclose(delta, delta.flatten()[0].expand_as(delta)) and delta.abs().max() <= 1
    blurred = Augmentation(blur=2.0)(batch, torch.Generator().manual_seed(0))
    assert blurred["image"].std() < batch["image"].std()
    torch.testing.assert_close(blurred["target"], batch["target"])


# -- slicing planes


def test_slice_views_and_spacing():
    volume = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)  # (K, Z, Y, X)
    for axis, shape in (
        ("axial", (2, 3, 4, 5)),
        ("coronal", (2, 4, 3, 5)),
        ("sagittal", (2, 5, 3, 4)),
    ):
        view = slice_view(volume, axis)
        assert view.shape == shape
        np.testing.assert_array_equal(unslice_view(view, axis), volume)
    assert in_plane_spacing((3.0, 0.8, 0.7), "coronal") == (3.0, 0.7)
    assert in_plane_spacing((3.0, 0.8, 0.7), "sagittal") == (3.0, 0.8)
    assert isotropic_size((10, 40), (3.0, 0.75)) == (40, 40)


def test_coronal_slices_only_train_on_the_labelled_axial_slices():
    cases, truths = disc_cases(1, slices=6, size=12, seed=0)
    case, truth = cases[0], truths[0]
    label = PseudoLabel(case.id, truth, np.ones(truth.shape, np.float32), np.array([1, 4]))
    data = build_slice_dataset([case], [label], axis="coronal")
    every = data.read(range(len(data)))
    assert every["image"].shape == (12, 1, 6, 12)  # one per row y, (Z, X) in-plane
    weight = every["weight"].float()
    assert weight[:, [1, 4]].min() == 1 and weight[:, [0, 2, 3, 5]].max() == 0
    want = torch.from_numpy(np.moveaxis(truth, 1, 0).copy())
    torch.testing.assert_close(every["target"], want)
    iso = build_slice_dataset([case], [label], axis="coronal", isotropic=True)
    assert iso.read([0])["image"].shape == (1, 1, 12, 12)  # z spacing 2 mm -> 1 mm rows


def test_slice_datasets_read_memory_mapped_cases_as_whole_volume_normalisation_would(tmp_path):
    rng = np.random.default_rng(3)
    cases, labels, want = [], [], []
    for i, shape in enumerate([(5, 10, 12), (4, 8, 12)]):  # the second is padded to 10 rows
        for name, array in (
            ("image", rng.normal(50, 150, shape).astype(np.float32)),
            ("target", rng.integers(0, 2, shape).astype(np.uint8)),
            ("weight", rng.choice([0.0, 0.5, 1.0], shape).astype(np.float16)),
        ):
            np.save(tmp_path / f"{name}{i}.npy", array)
        image, target, weight = (
            np.load(tmp_path / f"{name}{i}.npy", mmap_mode="r")
            for name in ("image", "target", "weight")
        )
        sl = np.array([3, 0]) if i == 0 else np.array([1])
        cases.append(WeakCase(f"c{i}", f"p{i}", image, (2.0, 1.0, 1.0), None, ("fg",)))
        labels.append(PseudoLabel(f"c{i}", target, weight, sl))
        pad = ((0, 0), (0, 10 - shape[1]), (0, 0))
        whole = Intensity().apply(np.array(image))  # z-score over the whole volume
        want.append([np.pad(a[sl], pad) for a in (whole, np.array(target), np.array(weight))])
    data = build_slice_dataset(cases, labels)
    assert all(isinstance(part.image, np.memmap) for part in data.cases)  # nothing copied
    batch = data.read([2, 0, 1])
    for k, name in enumerate(("image", "target", "weight")):
        expected = np.concatenate([want[1][k], want[0][k]])
        got = batch[name].numpy()
        np.testing.assert_array_equal(got[:, 0] if name == "image" else got, expected)


class Doubler(SliceSegmenter):
    """A 'network' whose class-1 probability is sigmoid(2 x) of the normalised image."""

    name = "doubler"

    def build_model(self, in_channels, out_channels):
        conv = nn.Conv2d(1, 2, 1)
        with torch.no_grad():
            conv.weight[:, 0, 0, 0] = torch.tensor([-1.0, 1.0])
            conv.bias.zero_()
        return conv


@pytest.mark.parametrize("axis", ["axial", "coronal", "sagittal"])
def test_predictions_come_back_to_the_native_grid(axis, tmp_path):
    rng = np.random.default_rng(0)
    image = rng.normal(0, 50, (5, 7, 9)).astype(np.float32)
    seg = Doubler(axis=axis, isotropic="off")
    seg.model, seg.out_channels = seg.build_model(1, 2), 2
    ctx = TrainContext(device="cpu", seed=0, classes=("a",), workdir=tmp_path)
    intensity = Intensity()
    want = 1 / (1 + np.exp(-2 * intensity.apply(image)))
    prob = seg.predict(image, intensity, ctx)
    np.testing.assert_allclose(prob[1], want, rtol=1e-5, atol=1e-6)
    seg_iso = Doubler(axis=axis, isotropic="on")
    seg_iso.model, seg_iso.out_channels = seg.model, 2
    smooth = np.broadcast_to(np.linspace(-1, 1, 9, dtype=np.float32) * 50, (5, 7, 9)).copy()
    resampled = seg_iso.predict(smooth, intensity, ctx, spacing=(2.0, 1.0, 1.0))
    exact = 1 / (1 + np.exp(-2 * intensity.apply(smooth)))
    np.testing.assert_allclose(resampled[1], exact, atol=0.03)


def test_warm_start_needs_the_same_network(tmp_path):
    cases, truths = disc_cases(2, size=16, seed=0)
    ctx = TrainContext(device="cpu", seed=0, classes=cases[0].classes, workdir=tmp_path)
    small = UNetSegmenter(width=4, depth=2, epochs=1)
    small.fit(cases, full_labels(cases, truths), ctx)
    wide = UNetSegmenter(width=8, depth=2, epochs=1)
    wide.warm_start(small)
    with pytest.raises(DataError, match="cannot warm-start from segmenter 'unet'"):
        wide.fit(cases, full_labels(cases, truths), ctx)
    with pytest.raises(PluginError, match="cannot warm-start from int"):
        wide.warm_start(3)  # type: ignore[arg-type]


# -- api declarations


def test_new_api_fields_default_off():
    assert CaseInfo("c", "p").stratum is None
    assert Segmenter.test_hint is None and UNetSegmenter.test_hint is None
    (case,), _ = disc_cases(1, size=8)
    assert case.meta == {}
    r = Reported("d", "t", "l", "s", "dice", 0.5, "src")
    assert (r.split, r.subset) == ("test", "all")
    assert Reported("d", "t", "l", "s", "miou", 76.77, "004", split="test", subset="positive")
    with pytest.raises(PluginError, match="split 'train' is not one of test, val, server"):
        Reported("d", "t", "l", "s", "dice", 0.5, "src", split="train")
    with pytest.raises(PluginError, match="subset"):
        Reported("d", "t", "l", "s", "dice", 0.5, "src", subset="negative")
