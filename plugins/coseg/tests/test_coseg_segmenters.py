"""Segmenters ``coseg`` and ``fcn32``: the conformance suite on whole-slice crops, and the
RECIST-guided path: crops from the hint, clustering and pairing, the DenseCRF, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from wsbench_plugins.coseg.attention import ECA, PairAttention
from wsbench_plugins.coseg.clusters import Clusters, draw_partners, n_clusters, partners_for_test
from wsbench_plugins.coseg.crops import crop_window, cut, paste
from wsbench_plugins.coseg.segmenters import CosegSegmenter, Fcn32Segmenter

from wsbench.api import Intensity, PseudoLabel, Recist, RecistLabel, TrainContext, WeakCase
from wsbench.errors import DataError, ParameterError
from wsbench.metrics import dice
from wsbench.testing.segmenters import SegmenterConformance, disc_cases, full_labels
from wsbench.weak.recist import diameters

TINY = {
    "crop_size": 32,
    "output_stride": 8,
    "width": 8,
    "steps_per_epoch": 20,
    "epochs": 2,
    "optimizer": "adam",
    "lr": 0.003,
}
TINY_COSEG = {**TINY, "lesions_per_cluster": 8, "max_clusters": 3, "partners": 2}


class _CropConformance(SegmenterConformance):
    def test_predict_multilabel_shape(self, tmp_path):
        """Crop segmenters train softmax heads only: multilabel targets are refused."""
        from wsbench.testing.segmenters import multilabel_labels

        cases, truths = disc_cases(2, classes=2, size=24, seed=2)
        ctx = self.context(tmp_path, cases[0].classes)
        assert not self.segmenter_class().supports_multilabel
        with pytest.raises(DataError, match="multilabel"):
            self.make().fit(cases, multilabel_labels(cases, truths, 2), ctx)


class TestCosegConformance(_CropConformance):
    segmenter_name = "coseg"
    overrides = {**TINY_COSEG, "whole_slices": True}  # the suite predicts without hints
    # Without a hint coseg segments whole slices, paired with the partner pool's lesion
    # crops: a use the paper never makes (measured 0.38 against the all-foreground 0.15).
    # Its real path, RECIST-guided, is held to Dice > 0.5 below.
    dice_margin = 0.15


class TestFcn32Conformance(_CropConformance):
    segmenter_name = "fcn32"
    overrides = {**TINY, "whole_slices": True}


# -- pieces


def test_k_scales_with_the_dataset():
    assert n_clusters(32735, 164, 200) == 200  # the paper's 200 clusters
    assert n_clusters(300, 164, 200) == 2
    assert n_clusters(10, 32, 4) == 1 and n_clusters(1000, 32, 4) == 4


def test_clusters_separate_groups_and_partners_stay_inside():
    rng = np.random.default_rng(0)
    small = rng.normal([10, 6, 40, 5, 0, 5], 1, (20, 6))
    large = rng.normal([50, 30, 120, 5, 0, 5], 1, (20, 6))
    clusters = Clusters.fit(np.concatenate([small, large]), 2, seed=0)
    assert len(set(clusters.labels[:20])) == 1 and len(set(clusters.labels[20:])) == 1
    members = clusters.members()
    partners = draw_partners(np.arange(40), clusters.labels, members, rng)
    assert (clusters.labels[partners] == clusters.labels).all() and (
        partners != np.arange(40)
    ).all()
    descriptors = np.concatenate([small, large])
    chosen = partners_for_test(large[0] + 0.1, clusters, descriptors, 3)
    assert len(chosen) == 3 and (chosen >= 20).all()


def test_crops_pad_outside_the_slice_and_paste_back():
    plane = np.arange(100, dtype=np.float32).reshape(10, 10)
    window = crop_window((0, 0, 4, 4), 0.5)  # reaches above and left of the slice
    assert window[0] < 0 and window[2] - window[0] == window[3] - window[1] == 8
    crop = cut(plane, window, -1.0)
    assert crop[0, 0] == -1.0 and crop[-window[0], -window[1]] == plane[0, 0]
    prob = np.zeros((2, 1, 10, 10), np.float32)
    prob[0] = 1.0
    fg = np.zeros((2, 16, 16), np.float32)
    fg[1], fg[0] = 1.0, 0.0
    paste(prob, fg, 0, window)
    assert prob[1, 0, :4, :4].min() == 1.0 and prob[1, 0, 6:, 6:].max() == 0.0


def test_shared_channel_attention_is_one_vector_for_the_pair():
    torch.manual_seed(0)
    attn = PairAttention(16, "csa", "se", "msa", shared=True).eval()
    a, b = torch.randn(2, 16, 4, 4), torch.randn(2, 16, 4, 4)
    with torch.no_grad():
        ca, cb = attn.ca(a), attn.ca(b)
        out_a, _ = attn(a, b)
        expected = a * (ca * cb)[:, :, None, None] * attn.sa(a)
        attn.shared = False
        alone, _ = attn(a, b)
    np.testing.assert_allclose(out_a, expected, atol=1e-6)
    np.testing.assert_allclose(alone, a * ca[:, :, None, None] * attn.sa(a), atol=1e-6)
    assert ECA(256).conv.kernel_size == (5,)  # |log2(256)/2 + 1/2| = 4.5 -> 4 -> odd 5


@pytest.mark.parametrize(
    "variant",
    [
        {"sa": "aspp"},
        {"ca": "eca"},
        {"attention": "danet"},
        {"decoder": "d2"},
        {"multi_grid": "2,4,8", "output_stride": 8},
    ],
    ids=lambda v: ",".join(f"{k}={x}" for k, x in v.items()),
)
def test_table_variants_build_and_run(variant):
    seg = CosegSegmenter("quick", **{**TINY_COSEG, **variant})
    net = seg.build_network(2)
    la, lb = net(torch.randn(2, 1, 32, 32), torch.randn(2, 1, 32, 32))
    assert la.shape == lb.shape == (2, 2, 32, 32)


def test_bad_multi_grid_is_one_line():
    with pytest.raises(ParameterError, match="multi_grid"):
        CosegSegmenter("quick", multi_grid="2,x")


# -- the RECIST-guided path


def _recist_cases(n: int, seed: int):
    """Disc cases whose weak labels are RECIST marks of their discs."""
    cases, truths = disc_cases(n, slices=2, size=40, seed=seed)
    out = []
    for case, truth in zip(cases, truths):
        lesions = []
        for z in range(truth.shape[0]):
            long_axis, short_axis = diameters(truth[z] == 1, np.array(case.spacing[1:]))
            lesions.append(Recist(z, tuple(map(tuple, long_axis)), tuple(map(tuple, short_axis))))
        weak = RecistLabel(slices=np.arange(truth.shape[0]), lesions=lesions)
        out.append(WeakCase(case.id, case.patient, case.image, case.spacing, weak, case.classes))
    return out, truths


@pytest.fixture(scope="module")
def guided(tmp_path_factory):
    torch.set_num_threads(1)
    cases, truths = _recist_cases(8, seed=3)
    ctx = TrainContext("cpu", 0, cases[0].classes, tmp_path_factory.mktemp("coseg"))
    labels = [
        PseudoLabel(c.id, t, np.ones(t.shape, np.float32), c.slices)
        for c, t in zip(cases[:6], truths[:6])
    ]
    seg = CosegSegmenter("quick", **TINY_COSEG)
    log = seg.fit(cases[:6], labels, ctx)
    return seg, log, cases, truths, ctx


def test_guided_prediction_is_background_outside_the_crops(guided):
    seg, log, cases, truths, ctx = guided
    assert log["lesions"] == 12 and len(seg.clusters.centroids) == 2  # ceil(12 / 8)
    case = cases[6]
    prob = seg.predict(case.image, Intensity(), ctx, case.spacing, hint=case.weak)
    assert prob.shape == (2, *case.image.shape)
    np.testing.assert_allclose(prob.sum(0), 1.0, atol=1e-4)
    inside = np.zeros(case.image.shape, bool)
    for mark in case.weak.lesions:
        pts = np.array([*mark.long_axis, *mark.short_axis])
        y0, x0, y1, x1 = crop_window(
            (*np.floor(pts.min(0)).astype(int), *(np.floor(pts.max(0)).astype(int) + 1)), 0.5
        )
        inside[mark.z, max(0, y0) : y1, max(0, x0) : x1] = True
    assert prob[1][~inside].max() == 0.0
    scores = [
        dice(seg.predict(c.image, Intensity(), ctx, c.spacing, hint=c.weak).argmax(0) == 1, t == 1)
        for c, t in zip(cases[6:], truths[6:])
    ]
    assert np.mean(scores) > 0.5, scores


def test_crf_changes_the_prediction_and_a_box_hint_is_refused(guided):
    from wsbench.api import BoxLabel

    seg, _, cases, _, ctx = guided
    case = cases[7]
    plain = seg.predict(case.image, Intensity(), ctx, case.spacing, hint=case.weak)
    seg.p["crf"] = True
    try:
        refined = seg.predict(case.image, Intensity(), ctx, case.spacing, hint=case.weak)
    finally:
        seg.p["crf"] = False
    assert not np.array_equal(plain, refined)
    np.testing.assert_allclose(refined.sum(0), 1.0, atol=1e-4)
    with pytest.raises(DataError, match="RECIST"):
        seg.predict(case.image, Intensity(), ctx, case.spacing, hint=BoxLabel())


def test_checkpoint_keeps_clusters_and_partner_pool(guided, tmp_path):
    seg, _, cases, _, ctx = guided
    seg.save(tmp_path / "coseg.pt")
    again = CosegSegmenter("quick", **TINY_COSEG)
    again.load(tmp_path / "coseg.pt")
    case = cases[6]
    np.testing.assert_array_equal(
        again.predict(case.image, Intensity(), ctx, case.spacing, hint=case.weak),
        seg.predict(case.image, Intensity(), ctx, case.spacing, hint=case.weak),
    )
    with pytest.raises(DataError, match="fcn32"):
        Fcn32Segmenter("quick", **TINY).load(tmp_path / "coseg.pt")


def test_full_labels_without_recist_train_on_components(tmp_path):
    cases, truths = disc_cases(2, slices=2, size=24, seed=5)
    seg = Fcn32Segmenter("quick", **{**TINY, "epochs": 1, "steps_per_epoch": 2})
    log = seg.fit(
        cases, full_labels(cases, truths), TrainContext("cpu", 0, cases[0].classes, tmp_path)
    )
    assert log["lesions"] == 4 and log["steps"] == 2  # 4 discs, no whole slice
    whole = Fcn32Segmenter(
        "quick", **{**TINY, "epochs": 1, "steps_per_epoch": 2}, whole_slices=True
    )
    log = whole.fit(
        cases, full_labels(cases, truths), TrainContext("cpu", 0, cases[0].classes, tmp_path)
    )
    assert log["lesions"] == 4 + 4  # and the 4 labelled slices whole
