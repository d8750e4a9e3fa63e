"""The built-in ``synthetic`` dataset: a seeded, CT-like abdominal phantom in HU.

Every patient is drawn from ``numpy.random.default_rng([seed, patient])`` and built in
millimetres (x to the patient's right, y anterior, z superior, origin at the body
centre), then sampled on the voxel grid, so the anatomy does not depend on ``size``.
The picture is then blurred (partial volume) and given correlated noise.

Raw label values (``LABELS``; also the ``organs-N.nii`` maps of ``write_lits_layout``)::

    0 background (air, fat)   5 spleen          10 portal / splenic vein
    1 liver                   6 right kidney    11 bone (vertebrae, ribs)
    2 liver tumour            7 left kidney     12 muscle
    3 pancreas                8 aorta           13 gallbladder
    4 stomach (wall + lumen)  9 inferior vena   14 bowel
                                 cava

Liver tumours are lobulated unions of rotated ellipsoids with a noisy surface, 10-60 mm
(quick) or 5-60 mm (paper) across; each is hypodense, nearly isodense, hyperdense or
rim-enhancing, large ones with a necrotic core. See docs/phantom.md for how hard it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import nibabel as nib
import numpy as np
from scipy import ndimage

from wsbench.api import DATASET_PARAMS, Case, CaseInfo, Dataset, Param, Task
from wsbench.params import at_least, in_range, stable_hash

GENERATOR_VERSION = "phantom-1"

LABELS: dict[int, str] = {
    0: "background",
    1: "liver",
    2: "tumour",
    3: "pancreas",
    4: "stomach",
    5: "spleen",
    6: "right kidney",
    7: "left kidney",
    8: "aorta",
    9: "inferior vena cava",
    10: "portal/splenic vein",
    11: "bone",
    12: "muscle",
    13: "gallbladder",
    14: "bowel",
}
LIVER_VALUES = (1, 2)

TASKS: dict[str, Task] = {
    "tumor": Task("tumor", ("tumor",), ((2,),)),
    "liver": Task("liver", ("liver",), (LIVER_VALUES,)),
    "organs": Task("organs", ("liver", "pancreas", "stomach"), (LIVER_VALUES, (3,), (4,))),
}

# Tumour appearance: probability, then HU offset from the patient's liver.
SHAPE = {
    "main": ([0.8, 0.4, 0.45], [1.0, 0.75, 0.8]),
    "lobes": (2, 6),
    "offset": (0.7, 1.1),
    "lobe": (0.3, 0.6),
    "rough": (0.25, 0.4),
    "step": 0.28,
}
TUMOUR_KINDS = {"hypodense": 0.55, "faint": 0.15, "hyperdense": 0.15, "rim": 0.15}


@dataclass
class Phantom:
    """One generated patient: HU image and raw labels (Z, Y, X) in RAS+, spacing in mm."""

    image: np.ndarray
    labels: np.ndarray
    spacing: tuple[float, float, float]
    origin_xyz: tuple[float, float, float]  # mm position of voxel (0, 0, 0)
    tumours: list[dict[str, Any]] = field(default_factory=list)

    @property
    def affine(self) -> np.ndarray:
        sz, sy, sx = self.spacing
        out = np.diag([sx, sy, sz, 1.0])
        out[:3, 3] = self.origin_xyz
        return out


# ---------------------------------------------------------------------------
# Geometry on the voxel grid


class _Grid:
    """Voxel-centre coordinates in mm and helpers to work on crops of the volume."""

    def __init__(
        self,
        shape: tuple[int, int, int],
        spacing: tuple[float, float, float],
        origin_zyx: tuple[float, float, float],
    ):
        self.shape, self.spacing = shape, spacing
        self.axes = [
            np.float32(o + s * np.arange(n)) for o, s, n in zip(origin_zyx, spacing, shape)
        ]

    def crop(self, lo_zyx, hi_zyx) -> tuple[slice, ...] | None:
        """Index slices of the voxels inside the mm box [lo, hi], None when it misses the grid."""
        out = []
        for ax, lo, hi in zip(self.axes, lo_zyx, hi_zyx):
            i0, i1 = np.searchsorted(ax, lo), np.searchsorted(ax, hi, side="right")
            if i1 <= i0:
                return None
            out.append(slice(int(i0), int(i1)))
        return tuple(out)

    def coords(self, sl: tuple[slice, ...]):
        z, y, x = (ax[s] for ax, s in zip(self.axes, sl))
        return z[:, None, None], y[None, :, None], x[None, None, :]


def _bspline_weights(coords: np.ndarray, lo: float, step: float, n: int) -> np.ndarray:
    """(len(coords), n) cubic B-spline weights of lattice nodes at lo + (i - 1) * step."""
    t = np.clip((coords - lo) / step + 1.0, 1.0, n - 2.0 - 1e-6)
    i0 = np.floor(t).astype(int)
    f = t - i0
    w = np.zeros((len(coords), n), np.float32)
    rows = np.arange(len(coords))
    parts = ((1 - f) ** 3, 3 * f**3 - 6 * f**2 + 4, -3 * f**3 + 3 * f**2 + 3 * f + 1, f**3)
    for k, part in enumerate(parts):
        w[rows, i0 - 1 + k] += part / 6.0
    return w


def _smooth_noise(g: _Grid, sl, lo_zyx, hi_zyx, step_mm: float, rng) -> np.ndarray:
    """Unit-variance smooth noise on the crop ``sl``, from a B-spline lattice of ``step_mm``.

    The lattice covers the mm box [lo, hi] (clipped to the grid).
    """
    mats = []
    for ax, s, lo, hi in zip(g.axes, sl, lo_zyx, hi_zyx):
        lo, hi = max(lo, float(ax[0]) - step_mm), min(hi, float(ax[-1]) + step_mm)
        n = int(np.ceil((hi - lo) / step_mm)) + 4
        w = _bspline_weights(ax[s], lo, step_mm, n)
        mats.append(w / np.sqrt(np.square(w).sum(1, keepdims=True)))  # unit variance per voxel
    field_ = rng.standard_normal(tuple(m.shape[1] for m in mats)).astype(np.float32)
    # Plain einsum for small crops: a busy multithreaded BLAS is far slower on tiny products.
    big = bool(np.prod([m.shape[0] for m in mats]) > 2**20)
    field_ = np.einsum("zi,ijk->zjk", mats[0], field_, optimize=big)
    field_ = np.einsum("yj,zjk->zyk", mats[1], field_, optimize=big)
    field_ = np.einsum("xk,zyk->zyx", mats[2], field_, optimize=big)
    return field_


def _noise_in(g: _Grid, sl, step_mm: float, rng) -> np.ndarray:
    """Unit-variance smooth noise on the crop ``sl`` (lattice over the crop itself)."""
    lo = tuple(float(ax[s][0]) - 1.0 for ax, s in zip(g.axes, sl))
    hi = tuple(float(ax[s][-1]) + 1.0 for ax, s in zip(g.axes, sl))
    return _smooth_noise(g, sl, lo, hi, step_mm, rng)


def _bbox(mask: np.ndarray) -> tuple[slice, ...] | None:
    boxes = ndimage.find_objects(mask.astype(np.uint8))
    return boxes[0] if boxes else None


def _ellipsoid_r(g: _Grid, sl, centre_xyz, axes_xyz, rot: np.ndarray | None = None):
    """Normalised radius (< 1 inside) of an ellipsoid with rotation ``rot`` (3x3, columns =
    the ellipsoid's axes in x, y, z) on the crop ``sl``."""
    z, y, x = g.coords(sl)
    d = (x - centre_xyz[0], y - centre_xyz[1], z - centre_xyz[2])
    if rot is None:
        rot = np.eye(3)
    if rot[2, 2] == 1.0:  # turned about z only: an in-plane 2D term plus a 1D z term
        u = rot[0, 0] * d[0] + rot[1, 0] * d[1]
        v = rot[0, 1] * d[0] + rot[1, 1] * d[1]
        return np.sqrt((u / axes_xyz[0]) ** 2 + (v / axes_xyz[1]) ** 2 + (d[2] / axes_xyz[2]) ** 2)
    total = 0.0
    for k in range(3):
        u = rot[0, k] * d[0] + rot[1, k] * d[1] + rot[2, k] * d[2]
        total = total + (u / axes_xyz[k]) ** 2
    return np.sqrt(total)


def _rot_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _random_rotation(rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    return q * np.sign(np.diag(r))


def _solid(g: _Grid, rng, centre, axes, rot=None, rough=0.0, rough_mm=20.0) -> np.ndarray:
    """Bool mask of an ellipsoid whose surface is pushed in and out by smooth noise."""
    reach = max(axes) * (1.0 + 2.5 * rough)
    lo = (centre[2] - reach, centre[1] - reach, centre[0] - reach)
    hi = (centre[2] + reach, centre[1] + reach, centre[0] + reach)
    out = np.zeros(g.shape, bool)
    sl = g.crop(lo, hi)
    if sl is None:
        return out
    r = _ellipsoid_r(g, sl, centre, axes, rot)
    if rough > 0:
        r = r - rough * _smooth_noise(g, sl, lo, hi, rough_mm, rng)
    out[sl] = r < 1.0
    return out


def _tube(g: _Grid, points_xyz: np.ndarray, radii: np.ndarray, z_scale: float = 1.0) -> np.ndarray:
    """Bool mask of the union of spheres (squashed by ``z_scale``) along a polyline."""
    fine = []
    for a, b, ra, rb in zip(points_xyz[:-1], points_xyz[1:], radii[:-1], radii[1:]):
        n = max(2, int(np.linalg.norm(b - a) / (0.5 * min(ra, rb))) + 1)
        t = np.linspace(0, 1, n, endpoint=False)[:, None]
        fine.append(np.hstack([a + t * (b - a), ra + t[:, :1] * (rb - ra)]))
    fine.append(np.hstack([points_xyz[-1:], radii[-1:, None]]))
    pts = np.vstack(fine)
    out = np.zeros(g.shape, bool)
    for x, y, z, r in pts:
        rz = r * z_scale
        sl = g.crop((z - rz, y - r, x - r), (z + rz, y + r, x + r))
        if sl is not None:
            zz, yy, xx = g.coords(sl)
            out[sl] |= ((xx - x) / r) ** 2 + ((yy - y) / r) ** 2 + ((zz - z) / rz) ** 2 < 1.0
    return out


def _inner_distance(mask: np.ndarray, spacing) -> np.ndarray:
    """Distance in mm from each voxel of ``mask`` to its outside (computed on its bounding box)."""
    out = np.zeros(mask.shape, np.float32)
    boxes = ndimage.find_objects(mask.astype(np.uint8))
    if not boxes or boxes[0] is None:
        return out
    sl = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in boxes[0])
    out[sl] = ndimage.distance_transform_edt(mask[sl], sampling=spacing)
    return out


# ---------------------------------------------------------------------------
# Anatomy


def make_phantom(
    patient: int,
    *,
    seed: int = 0,
    size: int = 96,
    n_slices: int = 24,
    z_spacing_mm=(3.5, 5.0),
    tumor_mm=(10.0, 60.0),
    n_tumors=(2, 6),
    noise_hu: float = 10.0,
    blur: float = 0.5,
) -> Phantom:
    """Generate patient number ``patient`` (deterministic given all arguments)."""
    rng = np.random.default_rng([seed, patient])
    a, b = rng.uniform(140, 170), rng.uniform(100, 125)  # body half width / half depth, mm
    sxy = 2.0 * a * 1.05 / size
    sz = rng.uniform(*z_spacing_mm)
    z_centre = rng.uniform(-22, -8)
    spacing = (float(sz), float(sxy), float(sxy))
    shape = (n_slices, size, size)
    origin_zyx = (z_centre - sz * (n_slices - 1) / 2, -sxy * (size - 1) / 2, -sxy * (size - 1) / 2)
    g = _Grid(shape, spacing, origin_zyx)
    labels = np.zeros(shape, np.uint8)
    hu = np.full(shape, -1000.0, np.float32)

    def paint(mask, value: int, level) -> None:
        labels[mask] = value
        hu[mask] = level if np.isscalar(level) else level[mask]

    def texture(step_mm: float, sd: float) -> np.ndarray:
        return sd * _noise_in(g, tuple(slice(0, n) for n in shape), step_mm, rng)

    # Body: fat under the skin, a muscle wall, the abdominal cavity filled with fat.
    fat_mm, wall_mm = rng.uniform(8, 30), rng.uniform(8, 14)
    body = _solid(g, rng, (0, 0, 0), (a, b, 1e4), rough=0.02, rough_mm=60)
    hu_fat = rng.uniform(-110, -90) + texture(12, 6)
    paint(body, 0, hu_fat)
    wall = _solid(g, rng, (0, 0, 0), (a - fat_mm, b - fat_mm, 1e4), rough=0.02, rough_mm=60)
    hu_muscle = rng.uniform(45, 55) + texture(10, 4)
    paint(wall, 12, hu_muscle)
    ca, cb = a - fat_mm - wall_mm, b - fat_mm - wall_mm  # cavity half axes
    cavity = _solid(g, rng, (0, 0, 0), (ca, cb, 1e4), rough=0.02, rough_mm=60)
    paint(cavity, 0, hu_fat)

    # Lung bases above the dome of the liver (posterior and lateral).
    for side in (1, -1):
        lung = _solid(g, rng, (side * 0.5 * ca, -0.2 * cb, 150), (0.55 * ca, 0.8 * cb, 110))
        paint(lung & cavity, 0, -850 + texture(15, 30))

    # Spine, paraspinal muscles and ribs.
    ys = -b + rng.uniform(45, 55)  # vertebral body centre
    for side in (1, -1):
        paint(_solid(g, rng, (side * 32, ys - 38, 0), (26, 22, 1e4)) & body, 12, hu_muscle)
    vert = _solid(g, rng, (0, ys, 0), (21, 17, 1e4))
    z = g.axes[0][:, None, None]
    disc = ((z - rng.uniform(0, 32)) % 32) < 6
    paint(vert, 11, np.where(disc, 90.0, rng.uniform(200, 300)) + texture(6, 20))
    paint(vert & ~_solid(g, rng, (0, ys, 0), (18, 14, 1e4)) & ~disc, 11, rng.uniform(600, 800))
    paint(_solid(g, rng, (0, ys - 30, 0), (5, 14, 1e4)), 11, 500.0)  # spinous process
    for _ in range(int(rng.integers(10, 18))):
        ang = rng.uniform(-np.pi * 0.95, np.pi * 0.15) * rng.choice((1, -1))
        cx, cy = (ca + wall_mm / 2) * np.cos(ang), (cb + wall_mm / 2) * np.sin(ang)
        rib = _solid(g, rng, (cx, cy, rng.uniform(-60, 80)), (5, 5, rng.uniform(8, 20)))
        paint(rib & wall, 11, 550.0)

    organs_hu = {
        "liver": rng.uniform(52, 68),
        "spleen": rng.uniform(45, 55),
        "pancreas": rng.uniform(35, 45),
        "stomach": rng.uniform(30, 40),
    }

    # Bowel loops low in the abdomen (painted first: organs displace them).
    for _ in range(int(rng.integers(4, 9))):
        c = (rng.uniform(-0.7, 0.7) * ca, rng.uniform(-0.1, 0.7) * cb, rng.uniform(-90, -20))
        loop = (
            _solid(
                g,
                rng,
                c,
                (rng.uniform(10, 20), rng.uniform(10, 20), rng.uniform(15, 40)),
                _rot_z(rng.uniform(0, np.pi)),
                rough=0.15,
                rough_mm=12,
            )
            & cavity
        )
        _hollow(g, rng, loop, 14, 40.0, paint, spacing)

    # Liver: right lobe + left lobe (+ caudate), pressed against the body wall.
    lo = organs_hu["liver"]
    liver = _solid(
        g,
        rng,
        (0.5 * ca, -0.05 * cb, 0.0),
        (0.5 * ca, 0.8 * cb, 75),
        _rot_z(rng.uniform(0.1, 0.35)),
        rough=0.06,
        rough_mm=35,
    )
    liver |= _solid(
        g,
        rng,
        (-0.02 * ca, 0.5 * cb, 30),
        (0.42 * ca, 0.28 * cb, 40),
        _rot_z(rng.uniform(-0.4, -0.1)),
        rough=0.08,
        rough_mm=30,
    )
    liver |= _solid(g, rng, (0.12 * ca, ys + 45, 10), (22, 18, 40))
    liver &= cavity
    paint(liver, 1, lo + texture(15, 4))

    # Spleen, stomach, gallbladder, kidneys (displace the liver where they meet it).
    spleen = (
        _solid(
            g,
            rng,
            (-0.72 * ca, -0.3 * cb, 20),
            (0.24 * ca, 0.42 * cb, 50),
            _rot_z(rng.uniform(-0.9, -0.5)),
            rough=0.06,
            rough_mm=25,
        )
        & cavity
    )
    paint(spleen & ~liver, 5, organs_hu["spleen"] + texture(12, 3))
    stomach = (
        _solid(
            g,
            rng,
            (-0.42 * ca, 0.25 * cb, 30),
            (0.34 * ca, 0.36 * cb, 55),
            _rot_z(rng.uniform(0.3, 0.8)),
            rough=0.08,
            rough_mm=25,
        )
        & cavity
    )
    _hollow(g, rng, stomach, 4, organs_hu["stomach"], paint, spacing, air_y=0.35 * cb)
    gall = _solid(g, rng, (0.3 * ca, 0.3 * cb, -25), (14, 20, 32), _rot_z(rng.uniform(-0.5, 0.5)))
    paint(gall & liver, 13, rng.uniform(0, 20))
    for side, value, zc in ((1, 6, -75), (-1, 7, -60)):
        kidney = _solid(
            g,
            rng,
            (side * 72, ys + 8, zc + rng.uniform(-10, 10)),
            (26, 20, 50),
            _rot_z(side * rng.uniform(0.4, 0.7)),
            rough=0.04,
            rough_mm=20,
        )
        inner = _inner_distance(kidney, spacing)
        paint(kidney, value, np.where(inner > 7, rng.uniform(100, 120), rng.uniform(150, 180)))

    # Pancreas: a lobulated tube from the head (right, low) to the tail (left, high).
    ctrl = np.array(
        [
            [0.22 * ca, ys + 62, -38],
            [0.0, ys + 70, -30],
            [-0.3 * ca, ys + 60, -22],
            [-0.58 * ca, ys + 38, -12],
        ]
    )
    ctrl += rng.uniform(-5, 5, ctrl.shape)
    radii = np.array([16.0, 11.0, 10.0, 8.0]) * rng.uniform(0.9, 1.15)
    pancreas = _tube(g, ctrl, radii, z_scale=1.4)
    pancreas &= ~(texture(5, 1) > 1.2)  # lobulation: clefts of fat
    paint(pancreas & cavity, 3, organs_hu["pancreas"] + texture(6, 5))
    vein = _tube(g, ctrl[1:] + [0, -radii[1] * 0.9, 0], np.full(3, 4.5), z_scale=1.0)
    portal = _tube(g, np.array([ctrl[1] + [0, -8, 0], [0.2 * ca, ys + 55, 5]]), np.full(2, 7.0))
    hu_portal = rng.uniform(140, 180)
    paint((vein | portal) & cavity, 10, hu_portal)

    # Great vessels, in front of the spine.
    paint(_solid(g, rng, (-14, ys + 32, 0), (11, 11, 1e4)), 8, rng.uniform(160, 200))
    paint(_solid(g, rng, (26, ys + 34, 0), (14, 10, 1e4)), 9, rng.uniform(110, 150))

    # Vessels inside the liver stay labelled liver (as in LiTS) but are bright.
    liver = labels == 1
    hilum = np.array([0.2 * ca, ys + 55, 0.0])
    for _ in range(int(rng.integers(3, 6))):
        tip = hilum + [
            rng.uniform(0.1, 0.8) * ca,
            rng.uniform(-0.2, 0.7) * cb,
            rng.uniform(-40, 60),
        ]
        mid = (hilum + tip) / 2 + rng.uniform(-15, 15, 3)
        vessel = _tube(g, np.array([hilum, mid, tip]), np.array([5.0, 3.5, 2.0])) & liver
        hu[vessel] = hu_portal - 10

    tumours = _add_tumours(g, rng, labels, hu, lo, tumor_mm, n_tumors)

    # Partial volume (blur at about one voxel) and correlated scanner noise.
    image = ndimage.gaussian_filter(hu, sigma=(0.35 * blur, blur, blur))
    noise = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), 0.6)
    image += noise * (noise_hu / max(float(noise.std()), 1e-6))
    np.maximum(image, -1024.0, out=image)  # scanners clip air at -1024 HU
    return Phantom(
        image.astype(np.float32),
        labels,
        spacing,
        (float(origin_zyx[2]), float(origin_zyx[1]), float(origin_zyx[0])),
        tumours,
    )


def _hollow(g, rng, mask, value, wall_hu, paint, spacing, air_y: float | None = None) -> None:
    """A hollow organ: a wall of ``wall_hu`` around gas (anterior) and mottled fluid."""
    if not mask.any():
        return
    sl = _bbox(mask)
    wall = _inner_distance(mask, spacing)[sl] <= rng.uniform(4, 7)
    y = g.axes[1][sl[1]][None, :, None]
    if air_y is None:  # gas in the upper (anterior) part of a loop
        air_y = float(y.max()) - rng.uniform(0.2, 0.5) * float(np.ptp(y))
    mottle = _noise_in(g, sl, 8.0, rng)
    content = np.where(mottle > 1.3, -700.0, 15.0 + 25.0 * mottle)
    content = np.where(y > air_y + rng.uniform(-10, 10), -900.0, content)
    level = np.zeros(mask.shape, np.float32)
    level[sl] = np.where(wall, wall_hu, content)
    paint(mask, value, level)


def _add_tumours(g, rng, labels, hu, liver_hu, tumor_mm, n_tumors) -> list[dict[str, Any]]:
    """Place lobulated, heterogeneous tumours inside the liver (label 2); return their specs."""
    liver = labels == 1
    if not liver.any():
        return []
    step = max(1, int(3.0 / g.spacing[1]))  # liver depth on a ~3 mm in-plane grid is enough
    depth = np.zeros(liver.shape, np.float32)
    depth[:, ::step, ::step] = ndimage.distance_transform_edt(
        liver[:, ::step, ::step], sampling=(g.spacing[0], g.spacing[1] * step, g.spacing[2] * step)
    )
    count = int(rng.integers(n_tumors[0], n_tumors[1] + 1))
    specs: list[dict[str, Any]] = []
    lo_d, hi_d = np.log(tumor_mm[0]), np.log(tumor_mm[1])
    for i in range(count):
        diameter = float(np.exp(rng.uniform(lo_d, hi_d)))
        r = diameter / 2
        if specs and rng.random() < 0.4:  # a satellite touching the previous tumour
            prev = specs[-1]
            direction = rng.standard_normal(3)
            direction /= np.linalg.norm(direction)
            centre = np.array(prev["centre"]) + direction * (prev["diameter"] / 2 + r) * 0.8
        else:
            near_edge = rng.random() < 0.3
            ok = (
                (depth > 0.2 * r) & (depth < 0.6 * r)
                if near_edge
                else depth >= min(0.8 * r, 0.8 * depth.max())
            )
            cand = np.argwhere(ok & liver)
            if len(cand) == 0:
                cand = np.argwhere(liver)
            k, j, i_ = cand[rng.integers(len(cand))]
            centre = np.array([g.axes[2][i_], g.axes[1][j], g.axes[0][k]], float)
        kind = rng.choice(list(TUMOUR_KINDS), p=list(TUMOUR_KINDS.values()))
        if i == 0:  # every patient has one conspicuous (dark) lesion
            kind = "rim" if rng.random() < 0.2 else "hypodense"
        mask = _tumour_shape(g, rng, centre, r) & (np.isin(labels, LIVER_VALUES))
        if not mask.any():
            continue
        _paint_tumour(g, rng, mask, str(kind), liver_hu, diameter, hu)
        labels[mask] = 2
        specs.append(
            {
                "centre": centre.tolist(),
                "diameter": diameter,
                "kind": str(kind),
                "voxels": int(mask.sum()),
            }
        )
    return specs


def _tumour_shape(g, rng, centre, r) -> np.ndarray:
    """Union of a main ellipsoid and 1-4 offset lobes, with a rough surface."""
    rot = _random_rotation(rng)
    blobs = [(centre, r * rng.uniform(*SHAPE["main"]), rot)]
    for _ in range(int(rng.integers(*SHAPE["lobes"]))):
        direction = rng.standard_normal(3)
        direction /= np.linalg.norm(direction)
        offset = direction * r * rng.uniform(*SHAPE["offset"])
        blobs.append((centre + offset, r * rng.uniform(*SHAPE["lobe"], 3), _random_rotation(rng)))
    reach = 2.2 * r
    lo = (centre[2] - reach, centre[1] - reach, centre[0] - reach)
    hi = (centre[2] + reach, centre[1] + reach, centre[0] + reach)
    out = np.zeros(g.shape, bool)
    sl = g.crop(lo, hi)
    if sl is None:
        return out
    radius = np.min([_ellipsoid_r(g, sl, c, ax, rt) for c, ax, rt in blobs], axis=0)
    rough = rng.uniform(*SHAPE["rough"])
    radius = radius - rough * _smooth_noise(g, sl, lo, hi, max(SHAPE["step"] * r, 3.0), rng)
    out[sl] = radius < 1.0
    return out


def _paint_tumour(g, rng, mask, kind, liver_hu, diameter, hu) -> None:
    sl = _bbox(mask)
    depth = _inner_distance(mask, g.spacing)[sl]
    max_depth = float(depth.max())
    if kind == "hypodense":
        level = liver_hu - rng.uniform(30, 50)
    elif kind == "faint":
        level = liver_hu + rng.choice((-1, 1)) * rng.uniform(10, 18)
    elif kind == "hyperdense":
        level = liver_hu + rng.uniform(30, 60)
    else:  # rim-enhancing: dark centre, bright ring
        level = liver_hu - rng.uniform(20, 35)
    values = level + 6.0 * _noise_in(g, sl, max(diameter / 4, 3.0), rng)
    if kind == "rim":
        values = np.where(depth < rng.uniform(2.5, 4.5), liver_hu + rng.uniform(20, 40), values)
    if diameter > 30 and kind != "faint":  # necrotic core
        values = np.where(depth > 0.55 * max_depth, rng.uniform(5, 20), values)
    inside = mask[sl]
    hu[sl][inside] = values[inside]


# ---------------------------------------------------------------------------
# The dataset plugin

_PAIR = {
    "check": lambda v: len(v) == 2 and 0 < v[0] <= v[1],
    "check_doc": "two numbers 0 < lo <= hi",
}


class SyntheticDataset(Dataset):
    """Seeded CT-like abdominal phantom with liver tumours; no download needed."""

    name = "synthetic"
    version = "0.1.0"
    citation = "wsbench built-in phantom (docs/phantom.md)"
    needs_data_dir = False
    # The liver is the default target: on the quick phantom a CPU-sized network learns it
    # in seconds, so the default run separates the oracle from box-fill. Tumours
    # (``--target tumor``) are the harder, paper-000 task; see docs/phantom.md.
    default_target = "liver"
    params = DATASET_PARAMS + (
        Param("n_patients", 8, "number of patients (one volume each)", **at_least(1)),
        Param(
            "size",
            96,
            "in-plane size in voxels (the field of view follows the body)",
            **in_range(16, 1024),
        ),
        Param("n_slices", 24, "slices per volume", **in_range(1, 1024)),
        Param("z_spacing_mm", (3.5, 5.0), "slice spacing range in mm, drawn per patient", **_PAIR),
        Param("tumor_mm", (10.0, 60.0), "tumour diameter range in mm (log-uniform)", **_PAIR),
        Param("n_tumors", (2, 6), "range of tumours per patient", **_PAIR),
        Param(
            "noise_hu", 10.0, "standard deviation of the correlated noise in HU", **in_range(0, 200)
        ),
        Param("blur", 0.5, "partial-volume blur, Gaussian sigma in voxels", **in_range(0, 5)),
        Param("seed", 0, "generator seed; patient i is drawn from rng([seed, i])"),
    )
    profiles: ClassVar[dict[str, dict[str, Any]]] = {
        "quick": {
            "n_patients": 8,
            "size": 96,
            "n_slices": 24,
            "z_spacing_mm": (3.5, 5.0),
            "tumor_mm": (10.0, 60.0),
            "noise_hu": 10.0,
            # no validation split (nothing tunes on it yet): 6 training and 2 test patients
            "val_fraction": 0.0,
            "test_fraction": 0.25,
        },
        "paper": {
            "n_patients": 40,
            "size": 512,
            "n_slices": 64,
            "z_spacing_mm": (2.5, 3.0),
            "tumor_mm": (5.0, 60.0),
            "noise_hu": 15.0,
        },
    }
    GENERATOR_KEYS: ClassVar[tuple[str, ...]] = (
        "n_patients",
        "size",
        "n_slices",
        "z_spacing_mm",
        "tumor_mm",
        "n_tumors",
        "noise_hu",
        "blur",
        "seed",
    )

    def tasks(self) -> dict[str, Task]:
        return dict(TASKS)

    def list_cases(self) -> list[CaseInfo]:
        return [
            CaseInfo(_case_id(i), _case_id(i), None, f"synthetic:{i}")
            for i in range(self.p["n_patients"])
        ]

    def generate(self, patient: int) -> Phantom:
        """The raw phantom of patient index ``patient``."""
        p = self.p
        return make_phantom(
            patient,
            seed=p["seed"],
            size=p["size"],
            n_slices=p["n_slices"],
            z_spacing_mm=p["z_spacing_mm"],
            tumor_mm=p["tumor_mm"],
            n_tumors=tuple(int(v) for v in p["n_tumors"]),
            noise_hu=p["noise_hu"],
            blur=p["blur"],
        )

    def load_case(self, info: CaseInfo, task: Task) -> Case:
        ph = self.generate(int(info.id.rsplit("-", 1)[1]))
        organ_values = set(LIVER_VALUES) | {v for vals in task.values for v in vals}
        return Case(
            id=info.id,
            patient=info.patient,
            image=ph.image,
            label=task.encode(ph.labels),
            spacing=ph.spacing,
            affine=ph.affine,
            classes=task.classes,
            organ=np.isin(ph.labels, sorted(organ_values)),
            meta={"ornt": nib.orientations.axcodes2ornt("RAS"), "tumours": ph.tumours},
            source=info.source,
        )

    def fingerprint(self) -> str:
        return stable_hash(
            {"generator": GENERATOR_VERSION, "params": {k: self.p[k] for k in self.GENERATOR_KEYS}}
        )


def _case_id(i: int) -> str:
    return f"synth-{i:03d}"


def write_lits_layout(out_dir: Path, profile: str = "quick", **params: Any) -> list[Path]:
    """Write the phantom as LiTS files: ``volume-N.nii`` (int16 HU), ``segmentation-N.nii``
    (0 background, 1 liver, 2 tumour) and ``organs-N.nii`` (every ``LABELS`` value).

    ``params`` are ``synthetic`` parameters (e.g. ``n_patients=4``). Returns the paths written.
    """
    ds = SyntheticDataset(profile, **params)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for i in range(ds.p["n_patients"]):
        ph = ds.generate(i)
        segmentation = np.where(ph.labels == 2, 2, np.where(ph.labels == 1, 1, 0))
        volume = np.clip(np.rint(ph.image), -1024, 3071)
        for stem, array, dtype in (
            ("volume", volume, np.int16),
            ("segmentation", segmentation, np.uint8),
            ("organs", ph.labels, np.uint8),
        ):
            path = out_dir / f"{stem}-{i}.nii"
            data = np.ascontiguousarray(np.transpose(array, (2, 1, 0)).astype(dtype))
            image = nib.Nifti1Image(data, ph.affine)
            image.header.set_xyzt_units("mm")
            nib.save(image, str(path))
            written.append(path)
    return written
