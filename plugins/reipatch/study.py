"""The claims study of Ouassit et al. 2022 on a tiny phantom, and its Dice-versus-round figure.

Per seed, on ``synthetic`` (liver) with oracle labels (the paper's own, fully supervised setting),
patients split into training, validation and test:

- ``fused``: the three planes (round 0 only), each plane's and the soft vote's test Dice;
  its axial plane is the multi-level-loss model of C4 (planes are seeded by index);
- ``single``: axial, ``loss_levels=1`` (one loss on the top output), round 0;
- ``rounds``: axial, Algorithm 1 with ``rounds`` rounds, stopped on the validation Dice;
  the test Dice of every round is recorded (the selection never sees it);
- ``no-patches``: the same rounds with ``self_label=false`` (fine-tuning alone).

``python -m wsbench_plugins.reipatch.study --out leaderboards/reipatch`` writes
``claims.json`` and ``dice_vs_round.png``; ``tests/test_reipatch_claims.py`` runs the same
function and asserts the claims.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wsbench.api import Case, FullLabel, PseudoLabel, TrainContext, WeakCase
from wsbench.data.phantom import SyntheticDataset
from wsbench.metrics import dice

from .segmenter import ReipatchSegmenter

SEEDS = (0, 1, 2)
PHANTOM: dict[str, Any] = {"n_patients": 10, "size": 48, "n_slices": 10}
SPLIT = {"train": 5, "val": 2, "test": 3}
SETTINGS: dict[str, Any] = {"image_size": 48, "min_component": 0}


def phantom(seed: int = 0) -> tuple[list[Case], Any]:
    dataset = SyntheticDataset("quick", seed=seed, **PHANTOM)
    task = dataset.tasks()["liver"]
    return [dataset.load_case(info, task) for info in dataset.list_cases()], dataset.intensity()


def oracle(cases: Sequence[Case], intensity) -> tuple[list[WeakCase], list[PseudoLabel]]:
    """The cases' full masks as pseudo labels on every slice (``--labeler oracle``)."""
    weak, labels = [], []
    for c in cases:
        slices = np.arange(c.image.shape[0])
        weak.append(
            WeakCase(
                c.id,
                c.patient,
                c.image,
                c.spacing,
                FullLabel(slices, c.label),
                c.classes,
                intensity,
            )
        )
        labels.append(PseudoLabel(c.id, c.label, np.ones(c.label.shape, np.float32), slices))
    return weak, labels


def scores(seg: ReipatchSegmenter, cases: Sequence[Case], intensity, ctx) -> dict[str, float]:
    """Test Dice per patient of the segmenter's (fused, post-processed) prediction."""
    return {
        c.patient: dice(seg.predict(c.image, intensity, ctx).argmax(0) > 0, c.label > 0)
        for c in cases
    }


def run_seed(seed: int, rounds: int = 2, workdir: Path = Path(".")) -> dict[str, Any]:
    """Every measurement of the study for one seed (see the module doc)."""
    cases, intensity = phantom()
    train = cases[: SPLIT["train"]]
    val = cases[SPLIT["train"] : SPLIT["train"] + SPLIT["val"]]
    test = cases[SPLIT["train"] + SPLIT["val"] :]
    weak, labels = oracle(train, intensity)
    out: dict[str, Any] = {"seed": seed}

    def context() -> TrainContext:
        return TrainContext("cpu", seed, train[0].classes, workdir)

    ctx = context()
    fused = ReipatchSegmenter("quick", plane="fused", rounds=0, **SETTINGS)
    fused.fit(weak, labels, ctx)
    per_plane = {axis: {} for axis in fused.planes}
    for c in test:
        for axis, prob in fused.predict_planes(c.image, intensity, ctx).items():
            per_plane[axis][c.patient] = dice(prob.argmax(0) > 0, c.label > 0)
    out["planes"] = per_plane
    out["fused"] = scores(fused, test, intensity, ctx)
    for fusion in ("union", "intersection"):
        fused.p["fusion"] = fusion
        out[f"fused-{fusion}"] = scores(fused, test, intensity, ctx)
    out["multi"] = per_plane["axial"]

    single = ReipatchSegmenter("quick", plane="axial", loss_levels=1, rounds=0, **SETTINGS)
    single.fit(weak, labels, ctx)
    out["single"] = scores(single, test, intensity, ctx)

    for name, self_label in (("rounds", True), ("no-patches", False)):
        seg = ReipatchSegmenter(
            "quick", plane="axial", rounds=rounds, patience=0, self_label=self_label, **SETTINGS
        )
        per_round: list[dict[str, float]] = []
        ctx = context()

        def validate(model, per_round=per_round, ctx=ctx):
            per_round.append(scores(model, test, intensity, ctx))
            return {"dice": float(np.mean(list(scores(model, val, intensity, ctx).values())))}

        ctx.validate = validate
        log = seg.fit(weak, labels, ctx)
        out[name] = {
            "val": [r["val_dice"] for r in log["rounds"]["axial"]],
            "patches": [r["patches"] for r in log["rounds"]["axial"]],
            "test": per_round,
            "best_round": log["planes"]["axial"]["best_round"],
        }
    return out


def study(seeds: Sequence[int] = SEEDS, rounds: int = 2) -> dict[str, Any]:
    torch.set_num_threads(1)
    return {
        "phantom": PHANTOM,
        "split": SPLIT,
        "settings": SETTINGS,
        "rounds": rounds,
        "seeds": {str(s): run_seed(s, rounds) for s in seeds},
    }


def round_scores(result: dict[str, Any], name: str, which: str) -> dict[int, dict[str, float]]:
    """{seed: {patient: test Dice}} at round 0 (``which="first"``) or at the round the
    validation Dice selected (``"selected"``)."""
    out = {}
    for seed, run in result["seeds"].items():
        block = run[name]
        at = 0 if which == "first" else block["best_round"]
        out[int(seed)] = block["test"][at]
    return out


def method_scores(result: dict[str, Any], name: str) -> dict[int, dict[str, float]]:
    return {int(seed): run[name] for seed, run in result["seeds"].items()}


def mean_of_planes(result: dict[str, Any]) -> dict[int, dict[str, float]]:
    out = {}
    for seed, run in result["seeds"].items():
        planes = run["planes"]
        patients = planes["axial"]
        out[int(seed)] = {p: float(np.mean([planes[a][p] for a in planes])) for p in patients}
    return out


def plot_rounds(result: dict[str, Any], path: Path) -> None:
    """Test Dice (mean over test patients) per round, one line per seed and method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.4))
    for name, style in (("rounds", "-o"), ("no-patches", "--s")):
        for seed, run in result["seeds"].items():
            curve = [np.mean(list(r.values())) for r in run[name]["test"]]
            label = f"{'Algorithm 1' if name == 'rounds' else 'no patches'}, seed {seed}"
            ax.plot(range(len(curve)), curve, style, label=label, alpha=0.8)
    ax.set_xticks(range(result["rounds"] + 1))
    ax.set_xticks(range(result["rounds"] + 1))
    ax.set_xlabel("self-labelling round N")
    ax.set_ylabel("test Dice (liver)")
    ax.set_title("reipatch, phantom liver: test Dice per round (cf. Table 5)", fontsize=9)
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="run the study, write claims.json and the figure")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument(
        "--readme", type=Path, help="regenerate this README's claims block and the figure"
    )
    parser.add_argument("--claims", type=Path, default=Path("leaderboards/reipatch/claims.json"))
    args = parser.parse_args(argv)
    if args.readme is not None:
        write_readme(args.readme, args.claims)
        plot_rounds(json.loads(args.claims.read_text()), args.claims.parent / "dice_vs_round.png")
        return
    if args.out is None:
        parser.error("give --out (run the study) or --readme (regenerate the README block)")
    result = study(tuple(int(s) for s in args.seeds.split(",")))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "claims.json").write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    plot_rounds(result, args.out / "dice_vs_round.png")


# -- the README's claims table, generated from claims.json

START, END = "<!-- reipatch claims: start -->", "<!-- reipatch claims: end -->"


def verdicts(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """(claim id, Verdict) of every claim and mutant, in the README's order."""
    from wsbench.testing.claims import paired_claim

    single = method_scores(result, "single")
    planes = mean_of_planes(result)
    return [
        ("C4", paired_claim("multi-level > single", method_scores(result, "multi"), single)),
        ("C4 mutant", paired_claim("N = 1 > single", single, single)),
        ("C9", paired_claim("soft vote > mean plane", method_scores(result, "fused"), planes)),
        (
            "C9 mutant",
            paired_claim(
                "intersection > mean plane", method_scores(result, "fused-intersection"), planes
            ),
        ),
        (
            "C6",
            paired_claim(
                "selected round > round 0",
                round_scores(result, "rounds", "selected"),
                round_scores(result, "rounds", "first"),
            ),
        ),
        (
            "C6 mutant",
            paired_claim(
                "selected round (no patches) > round 0",
                round_scores(result, "no-patches", "selected"),
                round_scores(result, "no-patches", "first"),
            ),
        ),
    ]


def _seed_means(scores: dict[int, dict[str, float]]) -> str:
    return ", ".join(f"{np.mean(list(s.values())):.3f}" for _, s in sorted(scores.items()))


def render(result: dict[str, Any]) -> str:
    """The claims table and the per-round curve, as Markdown."""
    lines = [
        START,
        "<!-- generated by python -m wsbench_plugins.reipatch.study --readme "
        "plugins/reipatch/README.md from leaderboards/reipatch/claims.json: do not edit -->",
        "",
        "| claim | better (mean test Dice) | worse | margin | seed spread | p | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, v in verdicts(result):
        better, worse = v.claim.split(" > ")
        lines.append(
            f"| {key} | {better} {v.better_mean:.3f} | {worse} {v.worse_mean:.3f} | "
            f"{v.better_mean - v.worse_mean:+.3f} | {v.spread:.3f} | {v.p_value:.2g} | "
            f"{'holds' if v.holds else 'fails'} |"
        )
    lines += [
        "",
        "Test Dice per round (mean over the 3 test patients; seeds "
        f"{', '.join(sorted(result['seeds']))}); the round the validation Dice selected in bold:",
        "",
        "| run | seed | " + " | ".join(f"N = {n}" for n in range(result["rounds"] + 1)) + " |",
        "|---|---|" + "---|" * (result["rounds"] + 1),
    ]
    for name in ("rounds", "no-patches"):
        for seed, run in sorted(result["seeds"].items()):
            block = run[name]
            cells = []
            for n, scores in enumerate(block["test"]):
                value = f"{np.mean(list(scores.values())):.3f}"
                cells.append(f"**{value}**" if n == block["best_round"] else value)
            label = "Algorithm 1" if name == "rounds" else "no patches"
            lines.append(f"| {label} | {seed} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Per-seed means: multi-level {_seed_means(method_scores(result, 'multi'))}; single "
        f"{_seed_means(method_scores(result, 'single'))}; soft vote "
        f"{_seed_means(method_scores(result, 'fused'))}; mean plane "
        f"{_seed_means(mean_of_planes(result))}; intersection "
        f"{_seed_means(method_scores(result, 'fused-intersection'))}; union "
        f"{_seed_means(method_scores(result, 'fused-union'))}.",
        END,
    ]
    return "\n".join(lines)


def readme_block(text: str) -> str:
    return text[text.index(START) : text.index(END) + len(END)]


def write_readme(readme: Path, claims: Path) -> None:
    result = json.loads(claims.read_text())
    text = readme.read_text()
    readme.write_text(text.replace(readme_block(text), render(result)))


if __name__ == "__main__":
    main()
