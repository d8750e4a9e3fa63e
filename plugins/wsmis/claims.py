"""The claims benchmark of the wsmis plugin at CPU size: pseudo-label quality per positive
training slice (C3, C4) and the tag classifier's F1 on held-out slices (C1).

The phantom (``tiny_phantom``: 6 patients, 48 px, 16 slices, tumours of 20-60 mm) with the
``tags`` protocol on the liver slices; the labelers' quick profile; labeler seeds 0-2. The
ground truth is read here, by the measurement, never by a labeler.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wsbench.api import LabelContext
from wsbench.testing.fixtures import tiny_phantom

from .cams import GradCamLabeler, GradCamPPLabeler
from .irn import IrnLabeler
from .quality import pseudo_quality, weak_tag_cases
from .tagdata import network_input, tag_slices

SEEDS = (0, 1, 2)
DATA: dict[str, Any] = {"n_patients": 6, "size": 48, "n_slices": 16}
LABELERS = {"gradcam": GradCamLabeler, "gradcampp": GradCamPPLabeler, "irn": IrnLabeler}


def training_cases(data_seed: int = 0):
    return tiny_phantom(**DATA, seed=data_seed)


def pseudo_scores(
    labeler: str, overrides: Mapping[str, Any], workdir: Path, seeds=SEEDS
) -> dict[int, dict[str, float]]:
    """``{seed: {slice: mIoU}}`` of a labeler's pseudo labels on the positive weak slices."""
    cases = training_cases()
    weak = weak_tag_cases(cases)
    out = {}
    for seed in seeds:
        ctx = LabelContext(device="cpu", seed=seed, classes=cases[0].classes, workdir=workdir)
        labels = LABELERS[labeler]("quick", **overrides).label(weak, ctx)
        out[seed] = pseudo_quality(labels, cases, positive_only=True)["per_unit"]
    return out


def classifier_f1(dropblock: bool, workdir: Path, seeds=SEEDS) -> dict[int, dict[str, float]]:
    """``{seed: {"f1": F1}}`` of the tag classifier trained on one phantom draw and tested
    on the weak slices of another (probability > 0.5 means positive)."""
    train, test = weak_tag_cases(training_cases(0)), weak_tag_cases(training_cases(1))
    out = {}
    for seed in seeds:
        ctx = LabelContext(device="cpu", seed=seed, classes=train[0].classes, workdir=workdir)
        labeler = GradCamPPLabeler("quick", dropblock=dropblock)
        slices = tag_slices(train)
        size = tuple(train[0].image.shape[1:])
        images = torch.stack(
            [
                network_input(train[s.case].intensity.apply(train[s.case].image)[s.z], size)
                for s in slices
            ]
        )
        tags = torch.from_numpy(np.stack([s.present for s in slices]).astype(np.float32))
        model, _ = labeler.train_classifier(images, tags, ctx)
        test_slices = tag_slices(test)
        x = torch.stack(
            [
                network_input(test[s.case].intensity.apply(test[s.case].image)[s.z], size)
                for s in test_slices
            ]
        )
        truth = np.stack([s.present[0] for s in test_slices])
        with torch.no_grad():
            pred = torch.sigmoid(model(x))[:, 0].numpy() > 0.5
        tp = int(np.sum(pred & truth))
        fp, fn = int(np.sum(pred & ~truth)), int(np.sum(~pred & truth))
        out[seed] = {"f1": 2 * tp / max(2 * tp + fp + fn, 1)}
    return out
