"""Inter-pixel affinities from a boundary map and the random walk over them (IRNet,
Ahn, Cho and Kwak 2019, §3.3 and §4).

Pairs are pixels of the stride-4 grid at most ``radius`` apart (one direction per pair:
``half_disc``). The affinity of a pair is ``1 - max B`` over the boundary map ``B`` on the
straight path between them. The random walk propagates class scores with the transition
``T = D^-1 A^beta`` (``A`` the affinities with self-loops, ``D`` its row sums), applied
``2 ** exp_times`` times:

- ``dense``: ``T`` as an ``(N, N)`` matrix squared ``exp_times`` times; GPU work at 512 px
  (N = 16,384: a 1 GiB matrix per image), instant at the quick size;
- ``sparse``: ``2 ** exp_times`` sparse products, ``N x (pairs per pixel)`` non-zeros; the
  CPU path for large grids. Both give the same scores.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

RW_SOLVERS = ("auto", "dense", "sparse")
DENSE_MAX_NODES = 4096  # auto: dense up to a 64 x 64 grid on a CPU, always on an accelerator


def half_disc(radius: int) -> list[tuple[int, int]]:
    """Offsets ``(dy, dx)`` with ``0 < |d| <= radius``, one of each ``+d``/``-d`` pair."""
    out = []
    for dy in range(0, radius + 1):
        for dx in range(-radius, radius + 1):
            if (dy > 0 or dx > 0) and dy * dy + dx * dx <= radius * radius:
                out.append((dy, dx))
    return out


def _shift(padded: torch.Tensor, pad: int, dy: int, dx: int, h: int, w: int) -> torch.Tensor:
    """``x[..., y + dy, x + dx]`` of the unpadded map, for every (y, x), from a padded copy."""
    return padded[..., pad + dy : pad + dy + h, pad + dx : pad + dx + w]


def pair_valid(h: int, w: int, offsets: list[tuple[int, int]], device=None) -> torch.Tensor:
    """``(P, h, w)`` bool: pixel (y, x) has its partner (y + dy, x + dx) inside the grid."""
    ys = torch.arange(h, device=device).view(h, 1)
    xs = torch.arange(w, device=device).view(1, w)
    return torch.stack([((ys + dy) < h) & ((xs + dx) >= 0) & ((xs + dx) < w) for dy, dx in offsets])


def path_affinity(boundary: torch.Tensor, offsets: list[tuple[int, int]]) -> torch.Tensor:
    """``1 - max B`` on the path from each pixel to its partner: ``(B, h, w)`` -> ``(B, P, h, w)``.

    The path visits ``max(|dy|, |dx|) + 1`` grid points, rounded from the straight line."""
    b, h, w = boundary.shape
    pad = max(max(abs(dy), abs(dx)) for dy, dx in offsets)
    padded = F.pad(boundary, (pad, pad, pad, pad))
    out = []
    for dy, dx in offsets:
        steps = max(abs(dy), abs(dx))
        worst = boundary
        for k in range(1, steps + 1):
            sy, sx = round(k * dy / steps), round(k * dx / steps)
            worst = torch.maximum(worst, _shift(padded, pad, sy, sx, h, w))
        out.append(1 - worst)
    return torch.stack(out, dim=1)


def pair_labels(
    labels: torch.Tensor, offsets: list[tuple[int, int]], ignore: int = 255
) -> dict[str, torch.Tensor]:
    """Pair masks ``(B, P, h, w)`` from IR labels ``(B, h, w)`` (0 background, k class,
    ``ignore``): ``bg_pos`` (both background), ``fg_pos`` (both the same class),
    ``neg`` (different labels); pairs with an ignored end or outside the grid are in none."""
    b, h, w = labels.shape
    pad = max(max(abs(dy), abs(dx)) for dy, dx in offsets)
    padded = F.pad(labels, (pad, pad, pad, pad), value=ignore)
    partner = torch.stack([_shift(padded, pad, dy, dx, h, w) for dy, dx in offsets], dim=1)
    me = labels[:, None].expand_as(partner)
    known = (me != ignore) & (partner != ignore)
    same = known & (me == partner)
    return {"bg_pos": same & (me == 0), "fg_pos": same & (me > 0), "neg": known & (me != partner)}


def pair_displacement(displacement: torch.Tensor, offsets: list[tuple[int, int]]) -> torch.Tensor:
    """``D(i) - D(j)`` for each pair: ``(B, 2, h, w)`` -> ``(B, P, 2, h, w)``."""
    b, _, h, w = displacement.shape
    pad = max(max(abs(dy), abs(dx)) for dy, dx in offsets)
    padded = F.pad(displacement, (pad, pad, pad, pad))
    return torch.stack(
        [displacement - _shift(padded, pad, dy, dx, h, w) for dy, dx in offsets], dim=1
    )


def affinity_matrix(
    boundary: torch.Tensor, radius: int, beta: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Edges of one grid ``(h, w)``: indices ``(i, j)`` of both directions and self-loops,
    and their weights ``a^beta`` (self-loops 1)."""
    h, w = boundary.shape
    offsets = half_disc(radius)
    aff = path_affinity(boundary[None], offsets)[0].clamp(min=0) ** beta  # (P, h, w)
    valid = pair_valid(h, w, offsets, boundary.device)
    ys, xs = torch.meshgrid(
        torch.arange(h, device=boundary.device),
        torch.arange(w, device=boundary.device),
        indexing="ij",
    )
    rows, cols, vals = [], [], []
    for p, (dy, dx) in enumerate(offsets):
        m = valid[p]
        i = (ys[m] * w + xs[m]).flatten()
        j = ((ys[m] + dy) * w + xs[m] + dx).flatten()
        v = aff[p][m].flatten()
        rows += [i, j]
        cols += [j, i]
        vals += [v, v]
    n = h * w
    self_loops = torch.arange(n, device=boundary.device)
    rows.append(self_loops)
    cols.append(self_loops)
    vals.append(torch.ones(n, device=boundary.device, dtype=boundary.dtype))
    return torch.cat(rows), torch.cat(cols), torch.cat(vals)


def random_walk(
    scores: torch.Tensor,
    boundary: torch.Tensor,
    radius: int = 5,
    beta: float = 10.0,
    exp_times: int = 8,
    solver: str = "auto",
) -> torch.Tensor:
    """Propagate class scores ``(C, h, w)`` over the affinities of ``boundary`` ``(h, w)``:
    ``T^(2^exp_times) s`` with ``T = D^-1 A^beta``. Runs on the tensors' device."""
    c, h, w = scores.shape
    n = h * w
    rows, cols, vals = affinity_matrix(boundary.float(), radius, beta)
    degree = torch.zeros(n, device=vals.device, dtype=vals.dtype).index_add_(0, rows, vals)
    vals = vals / degree[rows]
    x = scores.reshape(c, n).T.float()  # (N, C)
    if solver == "auto":
        solver = "dense" if n <= DENSE_MAX_NODES or scores.device.type != "cpu" else "sparse"
    if solver == "dense":
        t = torch.zeros((n, n), device=vals.device, dtype=vals.dtype)
        t.index_put_((rows, cols), vals, accumulate=True)
        for _ in range(exp_times):
            t = t @ t
        x = t @ x
    elif solver == "sparse":
        t = torch.sparse_coo_tensor(
            torch.stack([rows, cols]), vals, (n, n), check_invariants=False
        ).coalesce()
        for _ in range(2**exp_times):
            x = torch.sparse.mm(t, x)
    else:
        raise ValueError(f"random-walk solver {solver!r}; choose one of {', '.join(RW_SOLVERS)}")
    return x.T.reshape(c, h, w)
