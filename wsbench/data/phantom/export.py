"""The phantom written to disk in the LiTS layout (for loader tests and tutorials)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from wsbench.data.phantom.dataset import SyntheticDataset
from wsbench.errors import OutputError
from wsbench.paths import prepare_out_dir

_STEMS = ("volume", "segmentation", "organs")


def write_lits_layout(
    out_dir: Path, profile: str = "quick", *, force: bool = False, **params: Any
) -> list[Path]:
    """Write the phantom as LiTS files: ``volume-N.nii`` (int16 HU), ``segmentation-N.nii``
    (0 background, 1 liver, 2 tumour) and ``organs-N.nii`` (every ``LABELS`` value).

    ``params`` are ``synthetic`` parameters (e.g. ``n_patients=4``). Existing files are
    never replaced unless ``force``: OutputError naming the first one, before anything is
    written. Returns the paths written.
    """
    ds = SyntheticDataset(profile, **params)
    out_dir = Path(out_dir)
    names = [f"{stem}-{i}.nii" for i in range(ds.p["n_patients"]) for stem in _STEMS]
    taken = [out_dir / n for n in names if (out_dir / n).exists()]
    if taken and not force:
        raise OutputError(
            f"{taken[0]}: already exists ({len(taken)} of the {len(names)} files to write "
            "do); choose an empty folder, or pass --force to overwrite them"
        )
    prepare_out_dir(out_dir, "OUT")
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
