"""Leaderboard rows are pure functions of stored records."""

import math

import pytest

from wsbench.api import Reported
from wsbench.leaderboard import build_rows, cell_text, columns, to_markdown, write


def _rec(
    labeler,
    seed,
    dices,
    *,
    version="0.1.0",
    sweep=None,
    segmenter="unet",
    status="done",
    dataset="synthetic",
):
    return {
        "id": f"{labeler}-{seed}-{version}-{sweep}",
        "dataset": dataset,
        "target": "tumor",
        "protocol": "box",
        "labeler": labeler,
        "segmenter": segmenter,
        "seed": seed,
        "sweep": sweep or {},
        "status": status,
        "error": None if status == "done" else "boom",
        "metrics": {"dice": sum(dices) / len(dices)},
        "per_case": [
            {"case": f"c{i}", "dice": d, "hd95": 2.0 * (1 - d)} for i, d in enumerate(dices)
        ],
        "pseudo": {"dice": 0.5},
        "provenance": {
            "wsbench": "0.1.0",
            "profile": "quick",
            "overrides": {},
            "plugins": {
                "labeler": {"name": labeler, "version": version},
                "segmenter": {"name": segmenter, "version": "0.1.0"},
            },
        },
    }


def test_mean_std_pooled_over_cases_and_seeds():
    rows = build_rows([_rec("box-fill", 0, [0.2, 0.4]), _rec("box-fill", 1, [0.6, 0.8])])
    (row,) = rows
    assert row["dice_mean"] == pytest.approx(0.5)
    assert row["dice_std"] == pytest.approx(math.sqrt(((0.3**2) * 2 + (0.1**2) * 2) / 4))
    assert row["seeds"] == [0, 1] and row["n_cases"] == 4
    assert cell_text(row, "metric:dice") == "0.500 ± 0.224"


def test_versions_are_never_merged_and_failures_are_counted():
    rows = build_rows(
        [
            _rec("acol", 0, [0.5]),
            _rec("acol", 1, [0.7], version="0.2.0"),
            _rec("acol", 2, [0.1], status="failed"),
        ]
    )
    assert len(rows) == 2
    assert sorted(r["dice_mean"] for r in rows) == [0.5, 0.7]
    assert sum(r["failed"] for r in rows) == 1


def test_percent_of_oracle_and_reported_numbers():
    reported = [
        Reported("lits", "tumor", "acol", "unet", "dice", 0.658, "Paper, Table 2"),
        Reported("lits", "tumor", "wssl", "unet", "dice", 0.632, "Paper, Table 1"),
    ]
    rows = build_rows([_rec("oracle", 0, [0.8]), _rec("acol", 0, [0.6])], reported)
    by = {r["labeler"]: r for r in rows}
    assert by["acol"]["pct_oracle"] == pytest.approx(75.0)
    assert cell_text(by["acol"], "reported") == "0.658 (lits)"  # paper's own dataset named
    assert by["wssl"]["version"] == "reported only" and by["wssl"]["reported"] == 0.632
    md = to_markdown(rows, "synthetic")
    assert "Baselines not run here: box-fill" in md and "Paper, Table 2" in md


def test_sweep_becomes_a_column_and_a_figure(tmp_path):
    recs = [
        _rec(lab, s, [d + 0.1 * s], sweep={"weak.alpha": a})
        for lab, d in (("partial", 0.3), ("smile", 0.6))
        for a in ("0", "0.5")
        for s in (0, 1)
    ]
    rows = build_rows(recs)
    assert ("alpha", "sweep:weak.alpha") in columns(rows)
    written = write(rows, recs, tmp_path)
    names = {p.name for p in written}
    assert {"synthetic.md", "synthetic.csv", "synthetic.json"} <= names
    assert "synthetic-weak_alpha.png" in names


def test_paper_numbers_for_other_settings_are_listed_under_the_table():
    reported = [
        Reported("lits", "tumor", "acol", "deeplabv3", "dice", 0.658, "Fan et al. 2022, T2"),
        Reported("lits", "tumor", "box-fill", "deeplabv3", "dice", 0.563, "Fan et al. 2022, T2"),
    ]
    recs = [_rec("acol", 0, [0.8]), _rec("box-fill", 0, [0.7])]
    for r in recs:
        r["target"] = "liver"  # a phantom liver run: no row matches the paper's tumour numbers
    rows = build_rows(recs, reported)
    md = to_markdown(rows, "synthetic", reported)
    assert "| lits | tumor | acol | deeplabv3 | dice | 0.658 | Fan et al. 2022, T2 |" in md
    assert "| lits | tumor | box-fill | deeplabv3 | dice | 0.563 |" in md
