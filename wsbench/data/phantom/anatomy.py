"""The abdomen of one patient: organs, vessels, bone and muscle in HU, with raw labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from wsbench.data.phantom.geometry import (
    _bbox,
    _Grid,
    _inner_distance,
    _noise_in,
    _rot_z,
    _solid,
    _tube,
)
from wsbench.data.phantom.tumours import _add_tumours

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


@dataclass
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
