"""The box, recist, tags and full protocols and the shared slice selection."""

from __future__ import annotations

import numpy as np
import pytest

from wsbench.api import Case
from wsbench.errors import ParameterError, WeakLabelError
from wsbench.plugins import load_registry
from wsbench.weak.box import validate_boxes
from wsbench.weak.recist import diameters


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def _protocol(registry, name: str, **overrides):
    return registry.get("protocol", name)(profile="quick", **overrides)


def _case(label: np.ndarray, spacing=(2.0, 1.0, 1.0), organ=None, classes=("liver", "tumor")):
    return Case(
        "c1",
        "p1",
        np.zeros(label.shape, np.float32),
        label.astype(np.uint8),
        spacing,
        np.eye(4),
        classes,
        organ=organ,
    )


def _two_class_case() -> Case:
    """Slice 1: a liver square with a tumour inside; slice 2: two tumours and a 1-pixel speck;
    slices 0, 3, 4 empty; organ mask on slices 1 to 3."""
    label = np.zeros((5, 40, 50), np.uint8)
    label[1, 5:30, 10:40] = 1
    label[1, 12:18, 20:27] = 2
    label[2, 2:6, 3:9] = 2
    label[2, 30:38, 40:49] = 2
    label[2, 20, 20] = 2
    organ = np.zeros(label.shape, bool)
    organ[1:4, 4:32, 8:42] = True
    return _case(label, organ=organ)


def _ellipse(a_mm: float, b_mm: float, spacing_yx, shape=(120, 120), angle=0.0) -> np.ndarray:
    """A filled ellipse with semi-axes a (along the rotated y axis) and b, in mm."""
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(float)
    y = (yy - shape[0] / 2) * spacing_yx[0]
    x = (xx - shape[1] / 2) * spacing_yx[1]
    c, s = np.cos(angle), np.sin(angle)
    u, v = c * y + s * x, -s * y + c * x
    return (u / a_mm) ** 2 + (v / b_mm) ** 2 <= 1.0


def test_all_protocols_registered(registry):
    for name in ("box", "recist", "tags", "full"):
        cls = registry.get("protocol", name)
        assert cls.produces == name and cls.version and cls.citation
        assert {p.name for p in cls.params} >= {"slices"}
        assert all(p.doc for p in cls.params)


@pytest.mark.parametrize("name", ["box", "recist", "tags", "full"])
def test_slice_modes(registry, name):
    case = _two_class_case()
    expected = {"all": [0, 1, 2, 3, 4], "target": [1, 2], "organ": [1, 2, 3]}
    for mode, slices in expected.items():
        weak = _protocol(registry, name, slices=mode).simulate(case, np.random.default_rng(0))
        assert weak.slices.dtype == np.int64
        np.testing.assert_array_equal(weak.slices, slices)
    case.organ = None  # organ falls back to target
    weak = _protocol(registry, name).simulate(case, np.random.default_rng(0))
    np.testing.assert_array_equal(weak.slices, [1, 2])


def test_boxes_enclose_components_exactly(registry):
    weak = _protocol(registry, "box", slices="all").simulate(
        _two_class_case(), np.random.default_rng(0)
    )
    got = sorted((b.z, b.cls, b.y0, b.x0, b.y1, b.x1) for b in weak.boxes)
    assert got == sorted(
        [
            (1, 1, 5, 10, 30, 40),
            (1, 2, 12, 20, 18, 27),
            (2, 2, 2, 3, 6, 9),
            (2, 2, 30, 40, 38, 49),
            (2, 2, 20, 20, 21, 21),
        ]
    )


def test_box_min_size_drops_specks(registry):
    weak = _protocol(registry, "box", min_size=2).simulate(
        _two_class_case(), np.random.default_rng(0)
    )
    assert len(weak.boxes) == 4 and all(b.height > 1 for b in weak.boxes)


def test_box_looseness_grows_and_clips(registry):
    weak = _protocol(registry, "box", looseness=0.5).simulate(
        _two_class_case(), np.random.default_rng(0)
    )
    boxes = {(b.z, b.y0): b for b in weak.boxes}
    tumour = next(b for b in weak.boxes if b.z == 1 and b.cls == 2)
    assert (tumour.y0, tumour.x0, tumour.y1, tumour.x1) == (9, 16, 21, 30)  # 6x7 box, +3 / +3.5
    corner = boxes[(2, 0)]  # the 4x6 box at (2, 3) grows by 2 and 3: to the image corner
    assert corner.y0 == 0 and corner.x0 == 0
    edge = next(b for b in weak.boxes if b.z == 2 and b.x1 == 50)
    assert edge.y1 == 40  # 30:38 grown by 4 each side, clipped to the image height
    validate_boxes("c1", weak.boxes, (5, 40, 50))


def test_box_jitter_is_seeded_and_valid(registry):
    protocol = _protocol(registry, "box", jitter=0.3, slices="all")
    case = _two_class_case()
    a = protocol.simulate(case, np.random.default_rng(3))
    b = protocol.simulate(case, np.random.default_rng(3))
    c = protocol.simulate(case, np.random.default_rng(4))
    assert a.boxes == b.boxes and a.boxes != c.boxes
    validate_boxes("c1", a.boxes, (5, 40, 50))
    exact = _protocol(registry, "box", slices="all").simulate(case, np.random.default_rng(3))
    assert [(b.z, b.cls) for b in a.boxes] == [(b.z, b.cls) for b in exact.boxes]


@pytest.mark.parametrize(
    "name, key, value",
    [
        ("box", "looseness", -0.1),
        ("box", "jitter", 1.5),
        ("box", "min_size", 0),
        ("recist", "noise_mm", -1.0),
        ("box", "slices", "some"),
    ],
)
def test_bad_params_rejected(registry, name, key, value):
    with pytest.raises(ParameterError, match=key):
        _protocol(registry, name, **{key: value})


def test_case_without_label_is_rejected(registry):
    case = _two_class_case()
    case.label = None
    with pytest.raises(WeakLabelError, match="'c1'.*no ground-truth label"):
        _protocol(registry, "box").simulate(case, np.random.default_rng(0))


@pytest.mark.parametrize("spacing_yx, angle", [((1.0, 1.0), 0.0), ((0.6, 0.9), 0.7)])
def test_recist_axes_of_an_ellipse(spacing_yx, angle):
    a_mm, b_mm = 30.0, 12.0
    mask = _ellipse(a_mm, b_mm, spacing_yx, angle=angle)
    long_axis, short_axis = diameters(mask, np.array(spacing_yx))

    def length(seg):
        return float(np.linalg.norm((seg[1] - seg[0]) * spacing_yx))

    pixel = max(spacing_yx)
    # boundary pixel centres lie up to one pixel inside the true outline
    assert 2 * a_mm - 2 * pixel <= length(long_axis) <= 2 * a_mm
    assert 2 * b_mm - 2 * pixel <= length(short_axis) <= 2 * b_mm + pixel
    along = (long_axis[1] - long_axis[0]) * spacing_yx
    across = (short_axis[1] - short_axis[0]) * spacing_yx
    assert abs(np.dot(along, across)) / (np.linalg.norm(along) * np.linalg.norm(across)) < 1e-9
    expected_dir = np.array([np.cos(angle), np.sin(angle)])  # the ellipse's long axis (y, x)
    assert abs(np.dot(along / np.linalg.norm(along), expected_dir)) > 0.99


def test_recist_protocol_lesions_noise_and_seed(registry):
    case = _two_class_case()
    exact = _protocol(registry, "recist").simulate(case, np.random.default_rng(0))
    assert len(exact.lesions) == 5 and {r.cls for r in exact.lesions} == {1, 2}
    speck = next(r for r in exact.lesions if r.long_axis[0] == (20.0, 20.0))
    assert speck.long_axis == ((20.0, 20.0), (20.0, 20.0)) and speck.z == 2
    tumour = next(r for r in exact.lesions if r.z == 1 and r.cls == 2)
    (ay, ax), (by, bx) = tumour.long_axis
    assert np.hypot(by - ay, bx - ax) == pytest.approx(np.hypot(5, 6))  # corners of 6x7 box
    noisy = _protocol(registry, "recist", noise_mm=1.0)
    first = noisy.simulate(case, np.random.default_rng(1))
    assert first.lesions == noisy.simulate(case, np.random.default_rng(1)).lesions
    assert first.lesions != exact.lesions
    ends = np.array([r.long_axis + r.short_axis for r in first.lesions]).reshape(-1, 2)
    assert ends.min() >= 0 and (ends.max(axis=0) <= [39, 49]).all()


def test_tags_per_slice_and_class(registry):
    weak = _protocol(registry, "tags").simulate(_two_class_case(), np.random.default_rng(0))
    expected = np.zeros((5, 2), bool)
    expected[1] = [True, True]
    expected[2] = [False, True]
    np.testing.assert_array_equal(weak.present, expected)
    many = _protocol(registry, "tags", min_size=2).simulate(
        _two_class_case(), np.random.default_rng(0)
    )
    np.testing.assert_array_equal(many.present, expected)  # the speck slice has tumours anyway


def test_full_copies_the_label(registry):
    case = _two_class_case()
    weak = _protocol(registry, "full").simulate(case, np.random.default_rng(0))
    np.testing.assert_array_equal(weak.label, case.label)
    assert weak.label is not case.label and weak.label.dtype == np.uint8
