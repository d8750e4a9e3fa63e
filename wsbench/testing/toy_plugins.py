"""Fast toy plugins that exercise the runner without training networks: a ``toy`` dataset of
bright discs, a ``toy-oracle`` labeler and a ``toy-threshold`` segmenter.

Use them through the public API, as a third-party plugin author would::

    from wsbench.plugins import load_registry
    from wsbench.testing import toy_plugins

    registry = load_registry(extra=[toy_plugins])
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from pathlib import Path

import numpy as np

from wsbench import hookimpl
from wsbench.api import (
    Case,
    CaseInfo,
    Dataset,
    FullLabel,
    Labeler,
    Param,
    PseudoLabel,
    Segmenter,
    Task,
)
from wsbench.data.nifti import affine_from_spacing


class ToyDataset(Dataset):
    """Bright discs on a dark background, one case per patient."""

    name = "toy"
    needs_data_dir = False
    default_target = "disc"
    params = (Param("n_cases", 5, "number of cases"), Param("seed", 0, "generator seed"))

    def tasks(self):
        return {"disc": Task("disc", ("disc",), ((1,),))}

    def list_cases(self):
        return [CaseInfo(id=f"toy{i}", patient=f"p{i}") for i in range(self.p["n_cases"])]

    def load_case(self, info, task):
        i = int(info.id[3:])
        rng = np.random.default_rng(self.p["seed"] * 100 + i)
        zz, yy, xx = np.mgrid[:4, :24, :24]
        cy, cx = rng.integers(8, 16, size=2)
        label = (((yy - cy) ** 2 + (xx - cx) ** 2) < 25).astype(np.uint8)
        image = (label * 100.0 + rng.normal(0, 10, label.shape)).astype(np.float32)
        return Case(
            id=info.id,
            patient=info.patient,
            image=image,
            label=task.encode(label),
            spacing=(3.0, 1.0, 1.0),
            affine=affine_from_spacing((3.0, 1.0, 1.0)),
            classes=task.classes,
            organ=label > 0,
        )


class ToyOracle(Labeler):
    """Copies the full label (consumes the 'full' kind)."""

    name = "toy-oracle"
    consumes = ("full",)
    calls = 0

    def label(self, cases, ctx):
        type(self).calls += 1
        out = []
        for c in cases:
            assert isinstance(c.weak, FullLabel)
            out.append(
                PseudoLabel(
                    c.id, c.weak.label.copy(), np.ones(c.image.shape, np.float32), c.weak.slices
                )
            )
        return out


class ToyThreshold(Segmenter):
    """Learns an intensity threshold halfway between mean foreground and background."""

    name = "toy-threshold"
    params = (
        Param("epochs", 1, "unused; lets train.epochs be set"),
        Param("explode", False, "raise in fit (to test failure isolation)"),
        Param("sleep", 0.0, "seconds to sleep in fit (to kill a run mid-grid)"),
        Param("die", False, "SIGKILL its own worker process in fit (never the main process)"),
    )
    fits = 0

    def fit(self, cases, labels, ctx):
        type(self).fits += 1
        if self.p["explode"]:
            raise RuntimeError("toy segmenter exploded on purpose")
        if self.p["die"] and multiprocessing.current_process().name.startswith("wsbench-"):
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(self.p["sleep"])
        fg, bg = [], []
        for c, lab in zip(cases, labels):
            img = c.image[lab.slices]
            t = lab.target[lab.slices]
            fg.append(img[t > 0])
            bg.append(img[t == 0])
        self.t = (np.concatenate(fg).mean() + np.concatenate(bg).mean()) / 2
        return {"loss": [1.0]}

    def predict(self, image, intensity, ctx):
        p = (image > self.t).astype(np.float32)
        return np.stack([1 - p, p])

    def save(self, path):
        Path(path).write_text(json.dumps({"t": float(self.t)}))

    def load(self, path):
        self.t = json.loads(Path(path).read_text())["t"]


@hookimpl
def wsbench_register_datasets():
    return [ToyDataset]


@hookimpl
def wsbench_register_labelers():
    return [ToyOracle]


@hookimpl
def wsbench_register_segmenters():
    return [ToyThreshold]
