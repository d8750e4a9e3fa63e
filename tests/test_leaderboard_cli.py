"""`wsbench leaderboard`: tables, records.json, the site, and --check on stale folders."""

import json

from click.testing import CliRunner

import wsbench
from wsbench.cli import main
from wsbench.leaderboard import plugin_info
from wsbench.store import Store


def _records():
    info = plugin_info()
    out = []
    for labeler in ("box-fill", "oracle"):
        for seed in (0, 1):
            dices = [0.5 + 0.1 * i + (0.3 if labeler == "oracle" else 0) for i in range(3)]
            out.append(
                {
                    "id": f"{labeler}-{seed}",
                    "dataset": "synthetic",
                    "target": "liver",
                    "protocol": "box" if labeler == "box-fill" else "full",
                    "labeler": labeler,
                    "segmenter": "unet",
                    "seed": seed,
                    "sweep": {},
                    "status": "done",
                    "error": None,
                    "metrics": {"dice": sum(dices) / 3},
                    "per_case": [
                        {"case": f"c{i}", "patient": f"p{i}", "dice": d}
                        for i, d in enumerate(dices)
                    ],
                    "pseudo": {"dice": 0.7},
                    "provenance": {
                        "wsbench": wsbench.__version__,
                        "plugins": {
                            "labeler": {
                                "name": labeler,
                                "version": info.versions[("labeler", labeler)],
                            },
                            "segmenter": {
                                "name": "unet",
                                "version": info.versions[("segmenter", "unet")],
                            },
                        },
                    },
                    "finished_at": "2026-01-01T00:00:00",
                    "wall_s": 1.0,
                }
            )
    return out


def test_publish_build_the_site_and_check(tmp_path):
    run = tmp_path / "run"
    with Store(run / "results.sqlite") as store:
        for r in _records():
            store.put(r)
    cli = CliRunner()
    pub = tmp_path / "leaderboards" / "default"
    res = cli.invoke(main, ["leaderboard", "--results", str(run), "--to", str(pub)])
    assert res.exit_code == 0, res.output
    assert len(json.loads((pub / "records.json").read_text())["records"]) == 4
    site = tmp_path / "leaderboards" / "site"
    res = cli.invoke(main, ["leaderboard", "--results", str(pub), "--site", str(site)])
    assert res.exit_code == 0, res.output
    assert (site / "index.html").is_file() and len(list(site.glob("*.html"))) == 2
    res = cli.invoke(main, ["leaderboard", "--check", str(tmp_path / "leaderboards")])
    assert res.exit_code == 0, res.output
    index = site / "index.html"
    index.write_text(index.read_text().replace("wsbench leaderboard", "edited"))
    res = cli.invoke(main, ["leaderboard", "--check", str(tmp_path / "leaderboards")])
    assert res.exit_code == 1 and "index.html: differs from the rebuilt site" in res.output
    md = pub / "synthetic.md"
    md.write_text(md.read_text() + "hand edit\n")
    res = cli.invoke(main, ["leaderboard", "--check", str(tmp_path / "leaderboards")])
    assert res.exit_code == 1 and "stale:" in res.output and "synthetic.md" in res.output
