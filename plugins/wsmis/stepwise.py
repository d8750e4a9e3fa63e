"""Step-wise evaluation as in the paper's Table 3: the maps of each stage, scored.

    python -m wsbench_plugins.wsmis.stepwise [--profile quick] [--seed 0] [--size 48]

Trains the Grad-CAM++ classifier and IRNet (labeler ``irn``'s steps) on the tags of one
phantom draw (the training split), then reports pooled mIoU (background + tumour) and Dice,
on all weak slices and on positive slices:

- ``train``: the pseudo labels of each stage (CAM = threshold + DenseCRF of the Grad-CAM++
  maps; IRNet = the random walk), on the training slices;
- ``test``: the same stages on the slices of another draw (the test split), where the
  classifier's own prediction (probability > 0.5) decides which slices get a map.

The third stage, segmentation, is the grid's test score (``wsbench run ... --labeler irn``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wsbench.api import Case, LabelContext, WeakCase
from wsbench.testing.fixtures import tiny_phantom

from .cams import assemble
from .irn import IrnLabeler
from .quality import pseudo_quality, weak_tag_cases
from .tagdata import network_input, tag_slices


def predicted_maps(
    labeler: IrnLabeler, model: torch.nn.Module, cases: list[WeakCase]
) -> dict[tuple[int, int, int], np.ndarray]:
    """Grad-CAM++ maps of the classes the classifier predicts on each weak slice."""
    from torch.nn import functional as F

    from .cams import explain

    out = {}
    size = (
        tuple(cases[0].image.shape[1:])
        if not labeler.p["image_size"]
        else (labeler.p["image_size"],) * 2
    )
    device = next(model.parameters()).device
    for s in tag_slices(cases):
        case = cases[s.case]
        x = network_input(case.intensity.apply(case.image)[s.z], size)[None].to(device)
        with torch.no_grad():
            prob = torch.sigmoid(model(x))[0].cpu().numpy()
        for k in np.flatnonzero(prob > 0.5):
            fmap = explain(model, x, torch.tensor([int(k)], device=device), labeler.cam_method)
            up = F.interpolate(fmap[None].cpu(), size=case.image.shape[1:], mode="bilinear")
            out[(s.case, s.z, int(k) + 1)] = up[0, 0].clamp(0, 1).numpy()
    return out


def stepwise(
    train: list[Case], test: list[Case], profile: str = "quick", seed: int = 0, **overrides: Any
) -> dict[str, dict[str, float]]:
    """``{"train/cam": {"miou", "pooled_dice", "miou@pos", "pooled_dice@pos"}, ...}``."""
    labeler = IrnLabeler(profile, **overrides)
    weak_train, weak_test = weak_tag_cases(train), weak_tag_cases(test)
    ctx = LabelContext(device="cpu", seed=seed, classes=train[0].classes, workdir=Path("."))
    found = labeler.slice_maps(weak_train, ctx)
    irnet = labeler.fit_irn(weak_train, found.maps, ctx)
    test_maps = predicted_maps(labeler, found.model, weak_test)
    stages = {
        "train/cam": (
            weak_train,
            train,
            labeler.crf_masks(weak_train, found.maps, labeler.p["threshold"]),
        ),
        "train/irnet": (weak_train, train, labeler.walk_masks(irnet, weak_train, found.maps)),
        "test/cam": (
            weak_test,
            test,
            labeler.crf_masks(weak_test, test_maps, labeler.p["threshold"]),
        ),
        "test/irnet": (weak_test, test, labeler.walk_masks(irnet, weak_test, test_maps)),
    }
    out = {}
    for name, (weak, cases, masks) in stages.items():
        labels = assemble(weak, masks)
        every, pos = (
            pseudo_quality(labels, cases),
            pseudo_quality(labels, cases, positive_only=True),
        )
        out[name] = {
            "miou": float(every["miou"]),
            "pooled_dice": float(every["pooled_dice"]),
            "miou@pos": float(pos["miou"]),
            "pooled_dice@pos": float(pos["pooled_dice"]),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--patients", type=int, default=6)
    parser.add_argument("--size", type=int, default=48)
    args = parser.parse_args()
    torch.set_num_threads(1)
    shape = {"n_patients": args.patients, "size": args.size, "n_slices": 16}
    table = stepwise(
        tiny_phantom(**shape, seed=0), tiny_phantom(**shape, seed=1), args.profile, args.seed
    )
    print("| split/stage | mIoU | Dice | mIoU (positive) | Dice (positive) |")
    print("|---|---|---|---|---|")
    for name, m in table.items():
        print(
            f"| {name} | {m['miou']:.3f} | {m['pooled_dice']:.3f} | {m['miou@pos']:.3f} | "
            f"{m['pooled_dice@pos']:.3f} |"
        )


if __name__ == "__main__":
    main()
