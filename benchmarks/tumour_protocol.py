"""Phase-A experiment: can a CPU-sized network learn the phantom's tumours?

Trains one labeler x segmenter on the phantom's tumour target, on the tumour slices only
(Fan et al. 2022's protocol), optionally cropped to the liver's bounding box, and scores Dice
per 2D test image that holds tumour. One JSON line per run on stdout.

    OMP_NUM_THREADS=1 python benchmarks/tumour_protocol.py --patients 24 --steps 600
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from wsbench.api import LabelContext, TrainContext
from wsbench.data.phantom import SyntheticDataset
from wsbench.data.splits import split_dataset
from wsbench.plugins import load_registry
from wsbench.runner import to_label_map
from wsbench.weak.simulate import simulate_weak, weak_case


def liver_boxes(cases, margin: int) -> list[tuple[slice, slice]]:
    """One in-plane window per case, all of one size: the largest liver bounding box (3D
    union over slices, plus margin) of the set, centred on each case's own liver box."""
    boxes = []
    for c in cases:
        ys, xs = np.nonzero(c.organ.any(axis=0))
        boxes.append((ys.min(), ys.max() + 1, xs.min(), xs.max() + 1))
    h = min(max(b[1] - b[0] for b in boxes) + 2 * margin, cases[0].shape[1])
    w = min(max(b[3] - b[2] for b in boxes) + 2 * margin, cases[0].shape[2])
    out = []
    for c, (y0, y1, x0, x1) in zip(cases, boxes):
        top = int(np.clip((y0 + y1 - h) // 2, 0, c.shape[1] - h))
        left = int(np.clip((x0 + x1 - w) // 2, 0, c.shape[2] - w))
        out.append((slice(top, top + h), slice(left, left + w)))
    return out


def liver_crop(cases, margin: int):
    out = []
    for c, (ys, xs) in zip(cases, liver_boxes(cases, margin)):
        cut = (slice(None), ys, xs)
        out.append(
            dataclasses.replace(
                c, image=c.image[cut].copy(), label=c.label[cut].copy(), organ=c.organ[cut]
            )
        )
    return out


def per_image_dice(pred: np.ndarray, gt: np.ndarray, areas: list | None = None) -> list[float]:
    out = []
    for z in np.flatnonzero(gt.any(axis=(1, 2))):
        p, g = pred[z] > 0, gt[z] > 0
        out.append(2 * (p & g).sum() / (p.sum() + g.sum()))
        if areas is not None:
            areas.append(int(g.sum()))
    return out


def by_area(dices: list[float], areas: list[int]) -> dict[str, float]:
    d, a = np.asarray(dices), np.asarray(areas)
    bins = {"<25": a < 25, "25-100": (a >= 25) & (a < 100), ">=100": a >= 100}
    return {k: round(float(d[m].mean()), 3) for k, m in bins.items() if m.any()} | {
        "zero": round(float((d == 0).mean()), 3)
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=8)
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--test-fraction", type=float, default=0.25)
    ap.add_argument("--labeler", default="oracle")
    ap.add_argument("--segmenter", default="unet")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train-subset", type=int, default=0, help="first K training patients")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--crop", type=int, default=-1, help="liver-ROI margin px; -1 = no crop")
    ap.add_argument("--image-size", type=int, default=0)
    ap.add_argument("--slices", default="target")
    ap.add_argument("--set", action="append", default=[], help="segmenter param k=v")
    ap.add_argument("--lset", action="append", default=[], help="labeler param k=v")
    a = ap.parse_args()
    torch.set_num_threads(1)
    t0, cpu0 = time.perf_counter(), time.process_time()
    reg = load_registry()
    ds = SyntheticDataset(
        "quick", n_patients=a.patients, size=a.size, val_fraction=0.0, test_fraction=a.test_fraction
    )
    task = ds.tasks()["tumor"]
    splits = split_dataset(ds)
    train = [ds.load_case(i, task) for i in splits["train"][: a.train_subset or None]]
    test = [ds.load_case(i, task) for i in splits["test"]]
    if a.crop >= 0:
        both = liver_crop(train + test, a.crop)
        train, test = both[: len(train)], both[len(train) :]
    t_data = time.perf_counter() - t0
    proto_name = "full" if a.labeler == "oracle" else "box"
    proto = reg.get("protocol", proto_name)("quick", slices=a.slices)
    intensity = ds.intensity()
    weak = [weak_case(c, simulate_weak(proto, c, a.seed), intensity) for c in train]

    def parse(kvs):
        out = {}
        for kv in kvs:
            k, v = kv.split("=", 1)
            out[k] = json.loads(v) if v[:1] in "0123456789-[{tf" else v
        return out

    seg_over = parse(a.set)
    make_seg = lambda: reg.get("segmenter", a.segmenter)("quick", **seg_over)  # noqa: E731
    seg = make_seg()
    work = Path(tempfile.mkdtemp())
    lab = reg.get("labeler", a.labeler)("quick", **parse(a.lset))
    t1 = time.perf_counter()
    lctx = LabelContext("cpu", a.seed, task.classes, work, new_segmenter=make_seg)
    pseudo = lab.label(weak, lctx)
    t_label = time.perf_counter() - t1
    pd = []
    for p, c in zip(pseudo, train):
        pd += per_image_dice(p.foreground()[p.slices] * (c.label[p.slices] >= 0), c.label[p.slices])
    n_slices = sum(len(p.slices) for p in pseudo)
    bs = seg.p["batch_size"]
    per_epoch = max(1, math.ceil(n_slices / bs) - (1 if n_slices % bs == 1 else 0))
    epochs = max(1, math.ceil(a.steps / per_epoch))
    seg = reg.get("segmenter", a.segmenter)("quick", **{**seg_over, "epochs": epochs})
    t2 = time.perf_counter()
    log = seg.fit(weak, pseudo, TrainContext("cpu", a.seed, task.classes, work))
    t_train = time.perf_counter() - t2
    dices, vol, areas = [], [], []
    for c in test:
        pred = to_label_map(seg.predict(c.image, intensity, lctx), multilabel=False)
        dices += per_image_dice(pred, c.label, areas)
        p, g = pred > 0, c.label > 0
        vol.append(2 * (p & g).sum() / max(1, p.sum() + g.sum()))
    print(
        json.dumps(
            {
                **{k: v for k, v in vars(a).items()},
                "train_patients": len(train),
                "test_patients": len(test),
                "train_slices": n_slices,
                "test_images": len(dices),
                "epochs": epochs,
                "steps": epochs * per_epoch,
                "pseudo_dice_img": round(float(np.mean(pd)), 3),
                "dice_img": round(float(np.mean(dices)), 3),
                "dice_img_std": round(float(np.std(dices)), 3),
                "dice_by_area": by_area(dices, areas),
                "dice_vol": round(float(np.mean(vol)), 3),
                "loss_last": round(float(log["loss"][-1]), 4),
                "t_data": round(t_data, 1),
                "t_label": round(t_label, 1),
                "t_train": round(t_train, 1),
                "cpu_s": round(time.process_time() - cpu0, 1),
            }
        ),
        flush=True,
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
