"""The static site without a browser: escaping, safe file names, gallery choice."""

import numpy as np
from PIL import Image

from wsbench.leaderboard import PluginInfo, Source, build_site, safe_slug
from wsbench.leaderboard.rows import MetricInfo
from wsbench.leaderboard.site import select_gallery

INFO = PluginInfo(frozenset({"box-fill"}), {"dice": MetricInfo("dice")})
EVIL_DATASET = "../../etc/<script>alert(1)</script>"
EVIL_LABELER = "acol\"'><img src=x onerror=alert(1)>"


def _rec(labeler, seed, dices, dataset="synthetic"):
    return {
        "id": f"{labeler}__seed{seed}",
        "dataset": dataset,
        "target": "tumor",
        "protocol": "box",
        "labeler": labeler,
        "segmenter": "unet",
        "seed": seed,
        "sweep": {},
        "status": "done",
        "metrics": {"dice": float(np.mean(dices))},
        "per_case": [
            {"case": f"case{i}", "patient": f"p{i}", "dice": d} for i, d in enumerate(dices)
        ],
        "pseudo": {},
        "provenance": {"plugins": {"labeler": {"name": labeler, "version": "1"}}},
        "finished_at": "2026-01-01",
        "wall_s": 1.0,
    }


def test_plugin_and_dataset_strings_are_escaped_and_never_file_names(tmp_path):
    recs = [_rec(EVIL_LABELER, 0, [0.5, 0.6], EVIL_DATASET), _rec("box-fill", 0, [0.4, 0.5])]
    pages = build_site([Source("grid<1>", recs, [])], tmp_path / "site", info=INFO)
    text = "".join(p.read_text() for p in pages)
    assert "<script>alert" not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    for path in (tmp_path / "site").rglob("*"):
        assert path.resolve().is_relative_to((tmp_path / "site").resolve())
        assert all(ch.isalnum() or ch in "-._" for ch in path.name), path.name
    assert safe_slug("a/b") != safe_slug("a_b") and safe_slug("").startswith("x-")


def test_gallery_takes_the_worst_and_best_case_with_an_overlay(tmp_path):
    rec = _rec("acol", 0, [0.9, 0.2, 0.6, 0.1])
    for i in range(3):  # case3 (the worst score) has no overlay picture
        png = tmp_path / "synthetic" / rec["id"] / "overlays" / f"case{i}_z004.png"
        png.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(png)
    train = tmp_path / "synthetic" / rec["id"] / "train" / "overlays" / "case9_z003.png"
    train.parent.mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(train)
    from wsbench.leaderboard import build_rows, write

    rows = build_rows([rec], info=INFO)
    items = select_gallery(rows, [rec], [tmp_path])
    assert [(it.which, it.case) for it in items] == [
        ("worst", "case1"),
        ("best", "case0"),
        ("pseudo label", "training case"),
    ]
    pages = build_site([Source("g", [rec], [tmp_path])], tmp_path / "site", info=INFO)
    assert len(list((tmp_path / "site" / "img").glob("*-g-*.png"))) == 3
    assert "worst</b>" in pages[1].read_text() and "pseudo label</b>" in pages[1].read_text()
    # a published folder keeps the three pictures and serves them without the run
    write(rows, [rec], tmp_path / "pub", roots=[tmp_path], info=INFO)
    again = select_gallery(rows, [rec], [tmp_path / "pub"])
    assert [it.which for it in again] == ["worst", "best", "pseudo label"]
    assert all(it.path.is_relative_to(tmp_path / "pub") for it in again)
