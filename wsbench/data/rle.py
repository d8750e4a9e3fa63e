"""Run-length masks of the SIIM-ACR Pneumothorax challenge.

Pixels are numbered column by column (Fortran order). ``EncodedPixels`` is a list of
``start length`` pairs; in the challenge's *relative* form each start counts from the
end of the previous run, in the *absolute* form from pixel 0. ``-1`` means an empty
mask.
"""

from __future__ import annotations

import numpy as np

from wsbench.errors import DataError


def decode_rle(
    text: str, shape: tuple[int, int], *, relative: bool = True, where: str = "EncodedPixels"
) -> np.ndarray:
    """``"start length ..."`` -> bool mask of ``shape`` (rows, columns).

    Raises ``DataError`` naming ``where`` when the text is malformed or runs past the image.
    """
    text = text.strip()
    mask = np.zeros(shape[0] * shape[1], dtype=bool)
    if text in ("", "-1"):
        return mask.reshape(shape)
    try:
        numbers = np.asarray([int(t) for t in text.split()], dtype=np.int64)
    except ValueError:
        raise DataError(
            f"{where}: RLE {text[:40]!r} is not whole numbers; "
            "fix the row or use -1 for an empty mask"
        ) from None
    if len(numbers) % 2 or np.any(numbers < 0):
        raise DataError(
            f"{where}: RLE needs non-negative start/length pairs, found "
            f"{len(numbers)} numbers; fix the row"
        )
    starts, lengths = numbers[0::2], numbers[1::2]
    if relative:
        starts = starts + np.concatenate(([0], np.cumsum(starts + lengths)[:-1]))
    ends = starts + lengths
    if len(ends) and ends.max() > mask.size:
        raise DataError(
            f"{where}: RLE runs to pixel {int(ends.max())} but the image has "
            f"{mask.size} ({shape[0]}x{shape[1]}); the mask belongs to another image "
            "size or the rle mode is wrong (siim.rle=relative|absolute)"
        )
    for s, e in zip(starts, ends):
        mask[s:e] = True
    return mask.reshape(shape[1], shape[0]).T


def encode_rle(mask: np.ndarray, *, relative: bool = True) -> str:
    """Bool mask (rows, columns) -> RLE text; ``"-1"`` for an empty mask."""
    flat = np.asarray(mask, dtype=bool).T.ravel()
    padded = np.concatenate(([False], flat, [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    starts, ends = edges[0::2], edges[1::2]
    if not len(starts):
        return "-1"
    lengths = ends - starts
    if relative:
        prev_end = np.concatenate(([0], ends[:-1]))
        starts = starts - prev_end
    return " ".join(f"{s} {n}" for s, n in zip(starts, lengths))
