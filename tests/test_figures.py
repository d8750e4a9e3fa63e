"""wsbench.leaderboard.figures: Dice-versus-parameter curves from stored records (002's Fig. 3)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from wsbench.errors import ParameterError
from wsbench.leaderboard.figures import metric_panels, metric_vs_param_table, plot_metric_vs_param

CLASSES = ("liver", "pancreas", "stomach")


def _rows() -> list[dict]:
    rows = []
    for labeler, slope in (("partial", -0.6), ("smile", -0.1)):
        for alpha in (0.0, 0.5, 0.9):
            for seed in (0, 1, 2):
                per_class = {f"dice/{c}": 0.9 + slope * alpha + 0.01 * seed for c in CLASSES}
                rows.append(
                    {
                        "status": "done",
                        "labeler": labeler,
                        "segmenter": "deeplabv3",
                        "seed": seed,
                        "sweep": {"weak.alpha": alpha},
                        "metrics": {
                            "dice": float(np.mean(list(per_class.values()))),
                            "hd95": 3.0,
                            **per_class,
                        },
                    }
                )
    rows.append(
        {
            "status": "failed",
            "labeler": "smile",
            "segmenter": "deeplabv3",
            "seed": 9,
            "sweep": {"weak.alpha": 0.5},
            "metrics": {},
        }
    )
    return rows


def test_panels_are_each_class_then_the_mean():
    assert metric_panels(_rows()[:1]) == ["dice/liver", "dice/pancreas", "dice/stomach", "dice"]


def test_table_aggregates_over_seeds():
    points = metric_vs_param_table(_rows(), "weak.alpha")
    smile_mean = [p for p in points if p.method == "smile" and p.metric == "dice"]
    assert [p.value for p in smile_mean] == [0.0, 0.5, 0.9]
    first = smile_mean[0]
    assert first.n == 3  # the failed record is left out
    assert first.mean == pytest.approx(0.91)
    assert first.std == pytest.approx(np.std([0.90, 0.91, 0.92], ddof=1))


def test_sweep_values_given_as_strings_are_numbers():
    rows = _rows()
    for r in rows:
        r["sweep"] = {"weak.alpha": str(r["sweep"]["weak.alpha"])}
    assert {p.value for p in metric_vs_param_table(rows, "weak.alpha")} == {0.0, 0.5, 0.9}


def test_two_segmenters_give_separate_lines():
    rows = _rows()
    rows[0] = {**rows[0], "segmenter": "unet"}
    methods = {p.method for p in metric_vs_param_table(rows, "weak.alpha")}
    assert "partial / unet" in methods and "smile / deeplabv3" in methods


def test_plot_writes_a_png_with_one_panel_per_class_plus_mean(tmp_path):
    out = plot_metric_vs_param(_rows(), "weak.alpha", "dice", tmp_path / "fig" / "alpha.png")
    assert out.exists()
    with Image.open(out) as img:
        width, height = img.size
        pixels = np.asarray(img.convert("L"))
    # four panels side by side at 3.2 x 3.0 inches and 100 dpi
    assert (width, height) == (1280, 300)
    assert pixels.std() > 10  # something was drawn


def test_an_unswept_parameter_is_a_clear_error(tmp_path):
    with pytest.raises(ParameterError, match="weak.alpha"):
        plot_metric_vs_param(_rows(), "weak.beta", out_png=tmp_path / "x.png")


def test_dice_against_annotation_cost_needs_two_cited_kinds(tmp_path):
    from wsbench.leaderboard.figures import plot_dice_vs_cost

    def row(labeler, protocol, mean):
        return {
            "labeler": labeler,
            "segmenter": "unet",
            "protocol": protocol,
            "seeds": [0],
            "dice_mean": mean,
            "dice_ci_lo": mean - 0.05,
            "dice_ci_hi": mean + 0.05,
        }

    boxes = [row("box-fill", "box", 0.6), row("acol", "box", 0.7)]
    assert plot_dice_vs_cost(boxes, tmp_path / "one.png") is None  # one kind: no trade-off
    recist = [row("x", "recist", 0.5)]  # no cited cost: left off
    assert plot_dice_vs_cost(boxes + recist, tmp_path / "r.png") is None
    out = plot_dice_vs_cost(boxes + [row("oracle", "full", 0.9)], tmp_path / "two.png")
    assert out is not None and Image.open(out).size[0] > 300
