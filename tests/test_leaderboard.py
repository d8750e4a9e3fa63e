"""Leaderboard rows are pure functions of stored records."""

import json
import math

import numpy as np
import pytest

from wsbench import stats
from wsbench.api import Reported
from wsbench.leaderboard import (
    PluginInfo,
    build_rows,
    cell_text,
    check,
    columns,
    latest,
    plugin_info,
    to_markdown,
    write,
)
from wsbench.leaderboard.rows import MetricInfo, metric_title


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
    protocol="box",
    finished="2026-01-01T00:00:00",
    extra=None,
):
    return {
        "id": f"{labeler}-{segmenter}-{seed}-{version}-{sweep}-{finished}",
        "dataset": dataset,
        "target": "tumor",
        "protocol": protocol,
        "labeler": labeler,
        "segmenter": segmenter,
        "seed": seed,
        "sweep": sweep or {},
        "status": status,
        "error": None if status == "done" else "boom",
        "metrics": {"dice": sum(dices) / len(dices)},
        "per_case": [
            {
                "case": f"c{i}",
                "patient": f"p{i}",
                "dice": d,
                "hd95": 2.0 * (1 - d),
                **((extra or {}).get(i, {})),
            }
            for i, d in enumerate(dices)
        ],
        "pseudo": {"dice": 0.5},
        "provenance": {
            "wsbench": "0.1.0",
            "profile": "quick",
            "overrides": {},
            "git_sha": "abc123",
            "device": "cpu",
            "plugins": {
                "labeler": {"name": labeler, "version": version},
                "segmenter": {"name": segmenter, "version": "0.1.0"},
            },
        },
        "finished_at": finished,
        "wall_s": 2.0,
    }


INFO = PluginInfo(
    baselines=frozenset({"box-fill", "oracle"}),
    metrics={"dice": MetricInfo("dice"), "hd95": MetricInfo("hd95", False, "mm")},
)


def test_mean_and_pm_follow_the_stats_convention():
    rows = build_rows([_rec("box-fill", 0, [0.2, 0.4]), _rec("box-fill", 1, [0.6, 0.8])], info=INFO)
    (row,) = rows
    assert row["dice_mean"] == pytest.approx(0.5)  # mean of the seed means 0.3 and 0.7
    assert row["dice_sd"] == pytest.approx(np.std([0.3, 0.7], ddof=1))
    assert row["seeds"] == [0, 1] and row["n_cases"] == 4 and row["n_patients"] == 2
    lo, hi = row["dice_ci_lo"], row["dice_ci_hi"]
    assert cell_text(row, "metric:dice") == f"0.500 ± 0.283 [{lo:.3f}, {hi:.3f}]"


def test_bootstrap_interval_agrees_with_scipy_and_resamples_patients():
    from scipy.stats import bootstrap

    rng = np.random.default_rng(3)
    scores = rng.uniform(0.3, 0.9, size=30)
    table = stats.seed_patient_table([[(f"p{i}", s) for i, s in enumerate(scores)]])
    lo, hi = stats.bootstrap_ci(table)
    ref = bootstrap(
        (scores,), np.mean, n_resamples=20000, method="percentile", random_state=1
    ).confidence_interval
    assert lo == pytest.approx(ref.low, abs=0.01) and hi == pytest.approx(ref.high, abs=0.01)
    # the unit is the patient: two identical cases per patient give the same interval
    doubled = stats.seed_patient_table(
        [[(f"p{i}", s) for i, s in enumerate(scores) for _ in range(2)]]
    )
    assert stats.bootstrap_ci(doubled) == (lo, hi)
    assert stats.bootstrap_ci(table) == (lo, hi)  # seeded: reproducible


def test_holm_and_wilcoxon_against_hand_computed_values():
    assert stats.holm([0.01, 0.04, 0.03, 0.005, math.nan])[:4] == pytest.approx(
        [0.03, 0.06, 0.06, 0.02]
    )
    assert math.isnan(stats.holm([0.01, math.nan])[1])
    a = {f"p{i}": 0.5 + 0.1 * i for i in range(6)}
    b = {p: v - 0.05 - 0.01 * i for i, (p, v) in enumerate(a.items())}
    p, n = stats.paired_wilcoxon(a, b)
    assert n == 6 and p == pytest.approx(2 / 2**6)  # exact: all 6 differences positive
    assert stats.paired_wilcoxon(a, a) == (1.0, 6)


def test_newest_row_per_configuration_and_versions_never_merged():
    old = _rec("acol", 0, [0.1], version="0.1.0", finished="2026-01-01")
    new = _rec("acol", 0, [0.5], version="0.2.0", finished="2026-02-01")
    assert latest([old, new]) == [new]
    failed_later = _rec("acol", 0, [0.0], status="failed", finished="2026-03-01")
    assert latest([new, failed_later]) == [new]  # a newer failure does not hide a result
    with_ids = [dict(old, config_id="k"), dict(new, config_id="k")]
    assert [r["id"] for r in latest(with_ids)] == [new["id"]]
    rows = build_rows(
        [
            _rec("acol", 0, [0.5]),
            _rec("acol", 1, [0.7], version="0.2.0"),
            _rec("acol", 2, [0.1], status="failed"),
        ],
        info=INFO,
    )
    assert len(rows) == 2
    assert sorted(r["dice_mean"] for r in rows) == [0.5, 0.7]
    assert sum(r["failed"] for r in rows) == 1


def test_baselines_and_metric_directions_come_from_the_plugin_declarations():
    info = plugin_info()  # the installed plugins
    assert {"box-fill", "oracle"} <= info.baselines
    assert metric_title("hd95", info) == "hd95 mm ↓" and metric_title("dice", info) == "dice ↑"
    recs = [_rec("mine", 0, [0.2, 0.3]), _rec("other", 0, [0.8, 0.9])]
    custom = PluginInfo(frozenset({"mine"}), {"dice": MetricInfo("dice", False)})
    rows = build_rows(recs, info=custom)
    by = {r["labeler"]: r for r in rows}
    assert by["mine"]["baseline"] and not by["other"]["baseline"]
    assert cell_text(by["mine"], "labeler", custom) == "mine (baseline)"
    assert by["mine"]["best"]  # lower Dice is better under the custom declaration
    assert ("dice ↓", "metric:dice") in columns(rows, custom)


def test_tied_marks_follow_the_paired_test():
    n = 10
    clear = [_rec("box-fill", 0, [0.3 + 0.01 * i for i in range(n)])]
    clear += [_rec("acol", 0, [0.6 + 0.01 * i for i in range(n)])]
    by = {r["labeler"]: r for r in build_rows(clear, info=INFO)}
    assert by["acol"]["best"] and not by["box-fill"]["tied"]
    assert by["box-fill"]["p_vs_best"] < stats.ALPHA
    noisy = [_rec("box-fill", 0, [0.5 + 0.05 * (-1) ** i for i in range(n)])]
    noisy += [_rec("acol", 0, [0.5 + 0.05 * (-1) ** (i // 2) + 0.001 for i in range(n)])]
    by = {r["labeler"]: r for r in build_rows(noisy, info=INFO)}
    assert by["acol"]["best"] and by["box-fill"]["tied"]
    assert cell_text(by["box-fill"], "vs_best").startswith("tied (p=")
    # the oracle joins the box table as an upper bound, never as "the best"
    with_oracle = clear + [_rec("oracle", 0, [0.95] * n, protocol="full")]
    by = {r["labeler"]: r for r in build_rows(with_oracle, info=INFO)}
    assert by["acol"]["best"] and cell_text(by["oracle"], "vs_best") == "upper bound"


def test_misses_per_class_are_summed_from_the_per_case_flags():
    extra = {0: {"missed/tumor": 1.0, "spurious/tumor": 0.0}, 1: {"missed/tumor": 0.0}}
    recs = [_rec("acol", s, [0.0, 0.8], extra=extra) for s in (0, 1)]
    (row,) = build_rows(recs, info=INFO)
    assert row["misses"] == {"tumor": 1.0} and row["misses_total"] == 1.0
    assert ("misses ↓", "misses") in columns([row], INFO)
    assert "missed/tumor_mean" not in row  # flags are counts, not scores
    (plain,) = build_rows([_rec("acol", 0, [0.5])], info=INFO)
    assert "misses" not in plain and ("misses ↓", "misses") not in columns([plain], INFO)


def test_reported_against_reproduced_is_comparable_only_on_the_same_dataset():
    reported = [
        Reported("lits", "tumor", "acol", "unet", "dice", 0.658, "Paper, Table 2"),
        Reported("synthetic", "tumor", "box-fill", "unet", "dice", 0.55, "Other, Table 1"),
        Reported("lits", "tumor", "wssl", "unet", "dice", 0.632, "Paper, Table 1"),
    ]
    recs = [
        _rec("oracle", 0, [0.8, 0.82, 0.84], protocol="full"),
        _rec("acol", 0, [0.6, 0.62, 0.64]),
        _rec("box-fill", 0, [0.5, 0.55, 0.6]),
    ]
    by = {r["labeler"]: r for r in build_rows(recs, reported, INFO)}
    assert by["acol"]["pct_oracle"] == pytest.approx(100 * 0.62 / 0.82)
    assert not by["acol"]["reported_comparable"] and math.isnan(by["acol"]["reported_diff"])
    assert by["acol"]["reported_inside"] is None
    assert cell_text(by["acol"], "reported") == "0.658 (lits)"
    assert by["box-fill"]["reported_comparable"]
    assert by["box-fill"]["reported_diff"] == pytest.approx(0.0)
    assert by["box-fill"]["reported_inside"] is True
    assert by["wssl"]["version"] == "reported only" and by["wssl"]["reported"] == 0.632
    md = to_markdown(list(by.values()), "synthetic", info=INFO)
    assert "not comparable" in md and stats.PM_FOOTER in md and stats.CI_FOOTER in md


def test_plugin_strings_are_escaped_in_markdown_and_csv(tmp_path):
    recs = [_rec("a|b<i>", 0, [0.5]), _rec("=cmd()", 0, [0.4])]
    rows = build_rows(recs, info=INFO)
    md = to_markdown(rows, "synthetic", info=INFO)
    assert "a\\|b\\<i\\>" in md and "<i>" not in md
    write(rows, recs, tmp_path, info=INFO)
    assert "'=cmd()" in (tmp_path / "synthetic.csv").read_text()


def test_sweep_becomes_a_column_and_a_figure(tmp_path):
    recs = [
        _rec(lab, s, [d + 0.1 * s], sweep={"weak.alpha": a})
        for lab, d in (("partial", 0.3), ("smile", 0.6))
        for a in ("0", "0.5")
        for s in (0, 1)
    ]
    rows = build_rows(recs, info=INFO)
    assert ("alpha", "sweep:weak.alpha") in columns(rows, INFO)
    written = write(rows, recs, tmp_path, info=INFO)
    names = {p.name for p in written}
    assert {"synthetic.md", "synthetic.csv", "synthetic.json", "records.json"} <= names
    assert "synthetic-weak_alpha.png" in names
    doc = json.loads((tmp_path / "synthetic.json").read_text())
    assert all(not k.startswith("_") for r in doc["rows"] for k in r)
    (table,) = [t for t in doc["tables"] if t["sweep"] == {"weak.alpha": "0.5"}]
    assert {c["a"] for c in table["comparisons"]} == {"smile / unet"}  # the best reads first


class _Registry:
    """The installed registry with one labeler's version bumped."""

    def __init__(self, bump=None):
        from wsbench.plugins import load_registry

        self._reg = load_registry()
        self._bump = bump

    def classes(self, kind):
        return self._reg.classes(kind)

    def reported(self):
        return self._reg.reported()

    def all_plugins(self):
        out = []
        for kind, cls in self._reg.all_plugins():
            if (kind, cls.name) == self._bump:
                cls = type(cls.__name__, (cls,), {"version": "9.9.9"})
            out.append((kind, cls))
        return out


def test_check_fails_on_edited_tables_and_on_new_plugin_versions(tmp_path):
    import wsbench

    registry = _Registry()
    info = plugin_info(registry)
    recs = [_rec("box-fill", s, [0.5, 0.6]) for s in (0, 1)]
    for r in recs:
        r["provenance"]["wsbench"] = wsbench.__version__
        for kind, p in r["provenance"]["plugins"].items():
            p["version"] = info.versions[(kind, p["name"])]
    grid = tmp_path / "default"
    write(build_rows(recs, registry.reported(), info), recs, grid, registry.reported(), (), info)
    assert check(tmp_path, registry) == []
    bumped = check(tmp_path, _Registry(("labeler", "box-fill")))
    assert any("installed 9.9.9; re-run the grid" in p for p in bumped), bumped
    md = grid / "synthetic.md"
    md.write_text(md.read_text().replace("0.550", "0.990"))
    assert any("synthetic.md: differs" in p for p in check(tmp_path, registry))
    (grid / "records.json").unlink()
    assert any("no records.json" in p for p in check(tmp_path, registry))


def test_tables_follow_the_numeric_order_of_sweep_points():
    from wsbench.leaderboard import boards

    recs = [_rec("smile", 0, [0.5], sweep={"weak.alpha": a}) for a in ("10", "0.5", "0")]
    rows = build_rows(recs, info=INFO)
    assert [r["sweep"]["weak.alpha"] for r in rows] == ["0", "0.5", "10"]
    assert [b[0]["sweep"]["weak.alpha"] for b in boards(rows)] == ["0", "0.5", "10"]


def test_a_declared_validation_mask_budget_is_marked_beside_the_labeler():
    rec = _rec("acol", 0, [0.5])
    rec["provenance"]["labeler"] = {"name": "acol", "params": {"val_masks": 5}}
    (row,) = build_rows([rec], info=INFO)
    assert cell_text(row, "labeler", INFO) == "acol (tuned on 5 val masks)"


def test_rows_say_when_they_are_scored_per_image_on_an_roi():
    plain = _rec("box-fill", 0, [0.5])
    paper = _rec("acol", 0, [0.6])
    paper["provenance"]["evaluation"] = "images"
    paper["provenance"]["dataset"] = {"params": {"evaluate": "images", "roi": "organ"}}
    rows = build_rows([plain, paper], info=INFO)
    by = {r["labeler"]: r for r in rows}
    assert "scored" not in by["box-fill"]  # default rows and their files stay as they were
    assert ("scored", "scored") in columns(rows, INFO)
    assert cell_text(by["acol"], "scored", INFO) == "per target image (2D), organ ROI"
    assert cell_text(by["box-fill"], "scored", INFO) == "per volume (3D)"
    assert ("scored", "scored") not in columns([by["box-fill"]], INFO)


def test_a_shared_baseline_brings_no_paper_onto_the_board():
    from wsbench.leaderboard.rows import other_paper_numbers, papers_on_board

    def rep(labeler, segmenter, source):
        return Reported("lits", "liver", labeler, segmenter, "dice", 0.9, source)

    reported = [
        rep("acol", "deeplabv3", "Fan et al. 2022, Table 2"),
        rep("oracle", "unet", "Fan et al. 2022, Table 1"),
        rep("oracle", "reipatch", "Ouassit et al. 2022, Table 7"),
        rep("oracle", "unet", "Ouassit et al. 2022, Table 7"),
    ]
    oracle_only = [{"labeler": "oracle", "segmenter": "unet", "seeds": [0], "target": "liver"}]
    assert papers_on_board(oracle_only, reported) == set()
    assert other_paper_numbers(oracle_only, reported) == []
    with_acol = oracle_only + [{**oracle_only[0], "labeler": "acol"}]
    assert papers_on_board(with_acol, reported) == {"Fan et al. 2022"}
    with_ours = oracle_only + [{**oracle_only[0], "segmenter": "reipatch"}]
    assert papers_on_board(with_ours, reported) == {"Ouassit et al. 2022"}


def test_the_board_shows_our_value_of_each_measure_its_papers_report():
    """Agarwal et al. report recall and precision (on DeepLesion): a phantom board running
    their method shows ours of both, even with no paper number beside a row; a board
    without their methods does not."""

    def rep(metric):
        return Reported("deeplesion", "lesion", "grabcut", "coseg", metric, 0.9, "Agarwal, T1")

    reported = [rep("recall"), rep("precision"), rep("dice")]
    extra = {0: {"recall": 0.8, "precision": 0.7}, 1: {"recall": 0.6, "precision": 0.5}}
    ours = _rec("grabcut", 0, [0.5, 0.6], segmenter="coseg", extra=extra)
    keys = [k for _, k in columns(build_rows([ours], reported, info=INFO), INFO)]
    assert keys.index("metric:dice") < keys.index("metric:recall") < keys.index("metric:precision")
    (row,) = build_rows([ours], reported, info=INFO)
    assert row["recall_mean"] == pytest.approx(0.7)
    other = _rec("box-fill", 0, [0.5, 0.6], extra=extra)
    keys = [k for _, k in columns(build_rows([other], reported, info=INFO), INFO)]
    assert "metric:recall" not in keys
