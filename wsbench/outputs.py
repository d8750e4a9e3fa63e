"""Files written per grid cell: summary.json, NIfTI predictions and overlay pictures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from wsbench import safejson
from wsbench.api import Case, Intensity
from wsbench.data.nifti import save_like


def write_summary(
    cell_dir: Path, per_case: list[dict[str, Any]], mean: dict[str, float], extra: dict[str, Any]
) -> Path:
    """``summary.json`` in the nnU-Net shape: ``metric_per_case`` beside ``mean``."""
    path = cell_dir / "summary.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"metric_per_case": per_case, "mean": mean, **extra}
    path.write_text(safejson.dumps(doc, indent=1, default=str))
    return path


def write_prediction(cell_dir: Path, case: Case, pred: np.ndarray) -> Path:
    """The predicted label map as NIfTI with the input's affine and orientation."""
    return save_like(
        pred.astype(np.uint8),
        case.affine,
        case.meta.get("ornt"),
        cell_dir / "predictions" / f"{case.id}.nii.gz",
    )


def write_overlay(
    cell_dir: Path,
    case: Case,
    intensity: Intensity,
    pred: np.ndarray | None = None,
    pseudo: np.ndarray | None = None,
    max_slices: int = 3,
) -> list[Path]:
    """PNGs of image, ground truth, pseudo mask (if given) and prediction (if given), each
    titled as what it is, on the slices with the most foreground."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown_maps = [m for m in (pred, pseudo) if m is not None]
    if not shown_maps:
        raise ValueError("write_overlay needs a prediction, a pseudo label or both")
    gt = case.label if case.label is not None else np.zeros_like(shown_maps[0])
    area = (gt > 0).reshape(gt.shape[0], -1).sum(1)
    for m in shown_maps:
        area = area + (m > 0).reshape(m.shape[0], -1).sum(1)
    order = [int(z) for z in np.argsort(-area)[:max_slices] if area[z] > 0] or [gt.shape[0] // 2]
    panels = [
        ("ground truth", gt),
        *([("pseudo label", pseudo)] if pseudo is not None else []),
        *([("prediction", pred)] if pred is not None else []),
    ]
    image = intensity.to_uint8(case.image)
    paths = []
    k = max(int(gt.max()), *(int(m.max()) for m in shown_maps), 1)
    for z in order:
        fig, axes = plt.subplots(1, len(panels) + 1, figsize=(3 * (len(panels) + 1), 3.2))
        axes[0].imshow(_radiological(image[z]), cmap="gray")
        axes[0].set_title(f"{case.id} z={z}")
        for ax, (title, mask) in zip(axes[1:], panels):
            ax.imshow(_radiological(image[z]), cmap="gray")
            shown = np.ma.masked_equal(_radiological(mask[z]), 0)
            ax.imshow(
                shown, cmap="tab10", vmin=0, vmax=max(k, 9), alpha=0.5, interpolation="nearest"
            )
            ax.set_title(title)
        for ax in axes:
            ax.axis("off")
        fig.tight_layout()
        path = cell_dir / "overlays" / f"{case.id}_z{z:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=80)
        plt.close(fig)
        paths.append(path)
    return paths


def _radiological(slice_yx: np.ndarray) -> np.ndarray:
    """RAS+ (y: posterior->anterior, x: left->right) to the radiological view: anterior at
    the top, the patient's right on the left of the picture."""
    return slice_yx[::-1, ::-1]
