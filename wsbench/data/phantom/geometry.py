"""Geometry on the voxel grid: coordinates in mm, smooth noise, solids and tubes."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


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

    def cube(self, centre_xyz, reach: float):
        """The mm box (lo, hi) in (z, y, x) order of half-side ``reach`` around ``centre_xyz``,
        and its index slices (None when it misses the grid)."""
        lo = (centre_xyz[2] - reach, centre_xyz[1] - reach, centre_xyz[0] - reach)
        hi = (centre_xyz[2] + reach, centre_xyz[1] + reach, centre_xyz[0] + reach)
        return lo, hi, self.crop(lo, hi)

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
    lo, hi, sl = g.cube(centre, max(axes) * (1.0 + 2.5 * rough))
    out = np.zeros(g.shape, bool)
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
