"""The built-in ``synthetic`` phantom: determinism, CT-like HU, tumours, spacing, tasks and
how hard its tumours are for the box-fill baseline."""

from __future__ import annotations

import numpy as np
import pytest

from wsbench.data.phantom import LABELS, SyntheticDataset
from wsbench.data.splits import split_cases
from wsbench.errors import ParameterError
from wsbench.plugins import load_registry
from wsbench.testing.fixtures import (
    box_fill,
    dice,
    phantom_cases,  # noqa: F401  (a pytest fixture)
    tiny_phantom,
)

SMALL = {"n_patients": 3, "size": 64, "n_slices": 12}


@pytest.fixture(scope="module")
def quick() -> SyntheticDataset:
    return SyntheticDataset("quick")


@pytest.fixture(scope="module")
def quick_phantoms(quick):
    return [quick.generate(i) for i in range(quick.p["n_patients"])]


def test_registered_through_the_entry_point():
    from importlib.metadata import entry_points

    from wsbench.data import builtin

    assert any(ep.value == "wsbench.data.builtin" for ep in entry_points(group="wsbench"))
    registry = load_registry([builtin], entrypoints=False)
    assert registry.get("dataset", "synthetic") is SyntheticDataset
    assert SyntheticDataset.needs_data_dir is False


def test_same_seed_same_volume_other_seed_other_volume():
    a = SyntheticDataset(seed=3, **SMALL).generate(1)
    b = SyntheticDataset(seed=3, **SMALL).generate(1)
    c = SyntheticDataset(seed=4, **SMALL).generate(1)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.spacing == b.spacing
    assert not np.array_equal(a.labels, c.labels)


def test_patients_differ(quick_phantoms):
    assert not np.array_equal(quick_phantoms[0].labels, quick_phantoms[1].labels)


@pytest.mark.parametrize(
    "value, lo, hi",
    [
        (1, 45, 75),  # liver
        (3, 28, 52),  # pancreas
        (5, 38, 60),  # spleen
        (6, 100, 190),  # kidney
        (8, 130, 210),  # aorta
        (11, 200, 900),  # bone
        (12, 35, 60),  # muscle
        (13, -10, 30),  # gallbladder
    ],
)
def test_organ_hu_is_ct_like(quick_phantoms, value, lo, hi):
    medians = [
        np.median(p.image[p.labels == value])
        for p in quick_phantoms
        if (p.labels == value).sum() > 20
    ]
    assert medians, f"no {LABELS[value]} in any quick phantom"
    assert lo <= np.median(medians) <= hi, (LABELS[value], medians)


def test_fat_air_and_stomach_lumen(quick_phantoms):
    p = quick_phantoms[0]
    background = p.image[p.labels == 0]
    assert np.median(background[background < -300]) < -800  # air around the body
    fat = background[(background > -300) & (background < 0)]
    assert -130 < np.median(fat) < -70
    assert p.image[p.labels == 4].min() < -500  # gas in the stomach


def test_tumours_vary_in_size_and_appearance(quick_phantoms):
    specs = [t for p in quick_phantoms for t in p.tumours]
    diameters = [t["diameter"] for t in specs]
    assert len(specs) >= 12
    assert min(diameters) < 15 and max(diameters) > 40
    assert {"hypodense", "hyperdense", "faint"} <= {t["kind"] for t in specs}
    assert sum((p.labels == 2).any() for p in quick_phantoms) == len(quick_phantoms)


def test_tumours_are_inside_the_liver_and_several_pixels_wide(quick_phantoms):
    from scipy import ndimage

    for p in quick_phantoms:
        tumour = p.labels == 2
        grown = ndimage.binary_dilation(tumour) & ~tumour
        assert (p.labels[grown] == 1).mean() > 0.6  # mostly liver around (some reach its edge)
        widest = max(
            np.ptp(np.nonzero(tumour[z])[1]) + 1 for z in range(len(tumour)) if tumour[z].any()
        )
        assert widest >= 3


def test_anisotropic_spacing_varies_by_patient(quick_phantoms):
    spacings = [p.spacing for p in quick_phantoms]
    for sz, sy, sx in spacings:
        assert 3.5 <= sz <= 5.0 and 2.5 <= sy <= 4.0 and sy == sx and sz != sy
    assert len({s[0] for s in spacings}) == len(spacings)
    assert quick_phantoms[0].image.shape == (24, 96, 96)
    assert quick_phantoms[0].image.dtype == np.float32


def test_pancreas_and_stomach_share_slices_with_liver(quick_phantoms):
    for p in quick_phantoms:
        liver = np.isin(p.labels, (1, 2)).any(axis=(1, 2))
        for value in (3, 4):
            assert (liver & (p.labels == value).any(axis=(1, 2))).sum() >= 3, LABELS[value]


def test_tasks_encode_raw_labels(quick):
    raw = quick.generate(2).labels
    info = quick.list_cases()[2]
    tasks = quick.tasks()
    assert quick.default_target == "liver"
    tumour = quick.load_case(info, tasks["tumor"])
    np.testing.assert_array_equal(tumour.label, (raw == 2).astype(np.uint8))
    np.testing.assert_array_equal(tumour.organ, np.isin(raw, (1, 2)))
    assert tumour.classes == ("tumor",) and tumour.patient == info.patient
    liver = quick.load_case(info, tasks["liver"])
    np.testing.assert_array_equal(liver.label, np.isin(raw, (1, 2)).astype(np.uint8))
    organs = quick.load_case(info, tasks["organs"])
    assert organs.classes == ("liver", "pancreas", "stomach")
    expected = np.select([np.isin(raw, (1, 2)), raw == 3, raw == 4], [1, 2, 3], 0)
    np.testing.assert_array_equal(organs.label, expected)
    np.testing.assert_array_equal(organs.organ, np.isin(raw, (1, 2, 3, 4)))
    assert tumour.affine[2, 2] == pytest.approx(tumour.spacing[0])


def test_box_fill_is_far_from_perfect_on_tumours(quick, quick_phantoms):
    """Lobulated tumours: filling a tight box per 2D component must not already score ~0.86."""
    train = split_cases(quick.list_cases(), seed=0)["train"]
    inter = total = 0
    for info in train:
        gt = quick_phantoms[quick.list_cases().index(info)].labels == 2
        fill = box_fill(gt)
        inter += int((fill & gt).sum())
        total += int(fill.sum() + gt.sum())
    assert 0.5 < 2 * inter / total < 0.8


def test_fingerprint_follows_generator_params_only():
    base = SyntheticDataset(**SMALL).fingerprint()
    assert SyntheticDataset(**SMALL).fingerprint() == base
    assert SyntheticDataset(seed=1, **SMALL).fingerprint() != base
    assert SyntheticDataset(noise_hu=5.0, **SMALL).fingerprint() != base
    assert SyntheticDataset(window_lo=-50.0, **SMALL).fingerprint() == base


def test_profiles_and_bad_params():
    paper = SyntheticDataset("paper")
    assert paper.p["size"] == 512 and paper.p["n_patients"] > 8
    with pytest.raises(ParameterError, match="z_spacing_mm"):
        SyntheticDataset(z_spacing_mm="5,2")
    assert SyntheticDataset(z_spacing_mm="2.5,3").p["z_spacing_mm"] == (2.5, 3)


def test_tiny_phantom_fixture(phantom_cases):  # noqa: F811
    assert len(phantom_cases) == 4
    assert len({c.patient for c in phantom_cases}) == 4
    for case in phantom_cases:
        assert case.image.shape == (8, 48, 48) and case.label.shape == case.image.shape
        assert case.label.dtype == np.uint8 and set(np.unique(case.label)) <= {0, 1}
        assert case.organ.any() and not (case.label.astype(bool) & ~case.organ).any()
    assert sum(int(c.label.sum()) for c in phantom_cases) > 0
    organs = tiny_phantom(n_patients=1, target="organs")[0]
    assert set(np.unique(organs.label)) == {0, 1, 2, 3}


def test_dice_helper():
    a = np.zeros((1, 4, 4), bool)
    a[0, :2, :2] = True
    assert dice(a, a) == 1.0 and dice(a, ~a) == 0.0 and dice(a & False, a & False) == 1.0
    assert box_fill(a).sum() == 4


def test_generator_pixels_are_pinned_to_its_version():
    """Pixels of ``phantom-1`` (image and raw labels) are fixed: caches and results are keyed
    by GENERATOR_VERSION, so any change to the generated pixels must bump it (and this hash)."""
    import hashlib

    from wsbench.data.phantom import GENERATOR_VERSION, make_phantom

    ph = make_phantom(1, seed=3, size=40, n_slices=5)
    digest = hashlib.sha256(ph.image.tobytes() + ph.labels.tobytes()).hexdigest()
    assert GENERATOR_VERSION == "phantom-1"
    assert digest == "0f069a7ab233f673852fae0b04cf76f7c02cb8e94b1bdfc9946c8030e24d785c"
