"""Fan et al. 2022's Table 2 on the tumour benchmark: paired statistics, and the README's tables.

The grid and the published files (``leaderboards/acol-tumor/``)::

    wsbench run --preset tumour-cpu --labeler box-fill,cam,acol,oracle --segmenter unet \\
        --dataset synthetic --seeds 0,1,2 --out OUT
    wsbench leaderboard --results OUT --to leaderboards/acol-tumor
    python -m wsbench_plugins.acol.benchmark --results OUT --to leaderboards/acol-tumor
    python -m wsbench_plugins.acol.benchmark --readme plugins/acol/README.md \\
        --claims leaderboards/acol-tumor/claims.json

The second module call writes ``claims.json``: every labeler's test Dice per seed and per
test patient (the mean over the patient's test images under ``evaluate=images``), and the
paired verdict of each step of the paper's ordering (``wsbench.testing.claims``: a one-sided
Wilcoxon test over patients within seeds, or a margin larger than the seed-to-seed spread).
The third rewrites the README's tables from that file; ``tests/test_acol_readme.py`` fails
when the README and the file differ.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wsbench.testing.claims import MIN_SEEDS, paired_claim

ORDER = ("box-fill", "cam", "acol", "oracle")
# (better, worse): Table 2's ordering, step by step, and its headline box-fill < ACoL
PAIRS = (
    ("cam", "box-fill"),
    ("acol", "cam"),
    ("acol", "box-fill"),
    ("oracle", "acol"),
    ("oracle", "box-fill"),  # does the benchmark separate the baselines (#12)?
)
PAPER = {"box-fill": 0.563, "cam": 0.617, "acol": 0.658, "oracle": 0.711}  # LiTS, DeepLabV3
START, END = "<!-- tumour-benchmark tables: start -->", "<!-- tumour-benchmark tables: end -->"


def patient_scores(
    records: Iterable[Mapping[str, Any]], labeler: str, segmenter: str, metric: str = "dice"
) -> dict[int, dict[str, float]]:
    """``{seed: {patient: mean metric over the patient's test rows}}`` of finished cells."""
    out: dict[int, dict[str, float]] = {}
    for r in records:
        if r["status"] != "done" or r["labeler"] != labeler or r["segmenter"] != segmenter:
            continue
        rows: dict[str, list[float]] = defaultdict(list)
        for row in r["per_case"]:
            rows[str(row["patient"])].append(float(row[metric]))
        out[int(r["seed"])] = {p: float(np.nanmean(v)) for p, v in sorted(rows.items())}
    return out


def summarise(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The content of ``claims.json`` for every segmenter of ``records``."""
    done = [r for r in records if r["status"] == "done"]
    if not done:
        raise ValueError("no finished cells in the results")
    prov = done[0]["provenance"]
    out: dict[str, Any] = {
        "dataset": done[0]["dataset"],
        "target": done[0]["target"],
        "evaluation": prov.get("evaluation", "volume"),
        "unit": "test patient (mean Dice over its test images)",
        "preset_sets": prov.get("overrides", {}),
        "segmenters": {},
    }
    for seg in sorted({r["segmenter"] for r in done}):
        labelers: dict[str, Any] = {}
        for lab in ORDER:
            scores = patient_scores(done, lab, seg)
            if not scores:
                continue
            seed_means = [float(np.mean(list(v.values()))) for _, v in sorted(scores.items())]
            pseudo = [
                r["pseudo"].get("dice", float("nan"))
                for r in done
                if r["labeler"] == lab and r["segmenter"] == seg
            ]
            wall = [r["wall_s"] for r in done if r["labeler"] == lab and r["segmenter"] == seg]
            labelers[lab] = {
                "dice": float(np.mean(seed_means)),
                "dice_seed_sd": float(np.std(seed_means, ddof=1)) if len(seed_means) > 1 else None,
                "pseudo_dice": float(np.mean(pseudo)),
                "wall_s": float(np.sum(wall)),
                "scores": {str(s): v for s, v in sorted(scores.items())},
            }
        claims = []
        for better, worse in PAIRS:
            seeds = [len(labelers.get(n, {}).get("scores", {})) for n in (better, worse)]
            if min(seeds) >= MIN_SEEDS:  # a claim needs three seeds of both
                v = paired_claim(
                    f"{better} > {worse}",
                    _int_keys(labelers[better]["scores"]),
                    _int_keys(labelers[worse]["scores"]),
                )
                claims.append(
                    {
                        "claim": v.claim,
                        "holds": v.holds,
                        "better_mean": v.better_mean,
                        "worse_mean": v.worse_mean,
                        "seed_spread": v.spread,
                        "p_value": v.p_value,
                        "n_units": v.n_units,
                        "n_seeds": v.n_seeds,
                    }
                )
        out["segmenters"][seg] = {"labelers": labelers, "claims": claims}
    return out


def _int_keys(scores: Mapping[str, Mapping[str, float]]) -> dict[int, dict[str, float]]:
    return {int(s): dict(v) for s, v in scores.items()}


def render(summary: Mapping[str, Any]) -> str:
    """The README's tables (Markdown) from ``claims.json``."""
    lines = []
    for seg, block in summary["segmenters"].items():
        labs = block["labelers"]
        oracle = labs.get("oracle", {}).get("dice")
        lines += [
            f"Test Dice per image ({seg}; mean over seeds ± seed-to-seed sd; each seed's "
            "value is the mean over test patients of their per-image Dice; wall time in the "
            "leaderboard's provenance):",
            "",
            "| labeler | test Dice | % oracle | pseudo-label Dice (train) | paper, LiTS "
            "(DeepLabV3) |",
            "|---|---|---|---|---|",
        ]
        for lab, v in labs.items():
            sd, n = v["dice_seed_sd"], len(v["scores"])
            pct = f"{100 * v['dice'] / oracle:.0f} %" if oracle else "–"
            seeds = "" if n == 3 else f" ({n} seed{'s' if n > 1 else ''})"
            lines.append(
                f"| {lab} | {v['dice']:.3f}{f' ± {sd:.3f}' if sd is not None else ''}{seeds} "
                f"| {pct} | {v['pseudo_dice']:.3f} | {PAPER.get(lab, float('nan')):.3f} |"
            )
        lines += [
            "",
            f"Paired claims ({seg}; one-sided Wilcoxon over test patients within seeds; a "
            "claim holds when p < 0.05 or the margin exceeds the seed spread):",
            "",
            "| claim | better | worse | seed spread | p | units | holds |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in block["claims"]:
            lines.append(
                f"| {c['claim']} | {c['better_mean']:.3f} | {c['worse_mean']:.3f} | "
                f"{c['seed_spread']:.3f} | {c['p_value']:.3g} | {c['n_units']} | "
                f"{'yes' if c['holds'] else '**no**'} |"
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def readme_block(readme: str) -> str:
    """The generated part of the README (between the markers)."""
    start, end = readme.index(START) + len(START), readme.index(END)
    return readme[start:end].strip("\n") + "\n"


def rewrite_readme(readme: Path, summary: Mapping[str, Any]) -> None:
    text = readme.read_text()
    start, end = text.index(START) + len(START), text.index(END)
    readme.write_text(text[:start] + "\n" + render(summary) + text[end:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, help="a run's output folder (results.sqlite)")
    ap.add_argument("--to", type=Path, help="folder for claims.json")
    ap.add_argument("--readme", type=Path, help="README to rewrite from --claims")
    ap.add_argument("--claims", type=Path, help="claims.json to render")
    a = ap.parse_args()
    if a.results:
        from wsbench.store import Store

        with Store(a.results / "results.sqlite") as store:
            summary = summarise(store.records())
        a.to.mkdir(parents=True, exist_ok=True)
        (a.to / "claims.json").write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
        print(render(summary))
    if a.readme:
        rewrite_readme(a.readme, json.loads(a.claims.read_text()))


if __name__ == "__main__":
    main()
