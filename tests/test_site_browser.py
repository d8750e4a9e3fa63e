"""The static site in a real browser: Debian's chromium, headless, from file://.

A small script injected at the top of a copy of each page records every error (script
errors, failed resources, console.error, rejected promises), then checks that the tables
and figures render and that clicking column titles sorts the rows; chromium's
``--dump-dom`` prints the verdict. A screenshot is kept as a test artefact under
``$WSBENCH_ARTEFACTS`` (default: build/test-artefacts/). Without a browser the test skips,
except under CI (env ``CI`` set), where it fails.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wsbench.leaderboard import PluginInfo, Source, build_site
from wsbench.leaderboard.rows import MetricInfo

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")
ARTEFACTS = Path(
    os.environ.get("WSBENCH_ARTEFACTS", Path(__file__).parents[1] / "build" / "test-artefacts")
)

PROBE = """<script>
window.__errors = [];
window.addEventListener('error', function (e) {
  var t = e.target || {};
  window.__errors.push('error: ' + (e.message || t.src || t.href || 'resource'));
}, true);
window.addEventListener('unhandledrejection', function (e) {
  window.__errors.push('rejection: ' + e.reason);
});
var __ce = console.error;
console.error = function () {
  window.__errors.push('console.error: ' + Array.prototype.join.call(arguments, ' '));
  __ce.apply(console, arguments);
};
function __column(table, col) {
  return Array.prototype.map.call(table.tBodies[0].rows, function (r) {
    var v = r.cells[col].getAttribute('data-v');
    return v === null ? r.cells[col].textContent : v;
  });
}
window.addEventListener('load', function () {
  var out = {errors: window.__errors};
  var tables = document.querySelectorAll('table.sortable');
  out.tables = tables.length;
  out.rows = tables.length ? tables[0].tBodies[0].rows.length : 0;
  var imgs = document.querySelectorAll('img');
  out.images = imgs.length;
  out.broken = Array.prototype.filter.call(imgs, function (i) {
    return !(i.complete && i.naturalWidth > 0);
  }).map(function (i) { return i.getAttribute('src'); });
  if (tables.length) {
    var t = tables[0], ths = t.tHead.rows[0].cells, lab = -1, dice = -1;
    for (var k = 0; k < ths.length; k++) {
      if (ths[k].textContent.indexOf('labeler') === 0) lab = k;
      if (ths[k].textContent.indexOf('dice') === 0 && dice < 0) dice = k;
    }
    ths[lab].click();
    out.labelerAsc = __column(t, lab);
    ths[lab].click();
    out.labelerDesc = __column(t, lab);
    ths[dice].click();
    out.diceFirstClick = __column(t, dice).map(parseFloat);
    out.diceArrow = ths[dice].querySelector('.sort').textContent;
  }
  var pre = document.createElement('pre');
  pre.id = 'wsbench-probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def _browser() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def _chromium(browser: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--hide-scrollbars",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _records(root: Path) -> list[dict]:
    """Two segmenters x (box-fill, a weak method, the oracle), three seeds, 8 patients,
    with overlay pictures where a run would write them."""
    rng = np.random.default_rng(0)
    recs = []
    for labeler, protocol, level in (
        ("box-fill", "box", 0.5),
        ("acol<b>", "box", 0.62),
        ("oracle", "full", 0.8),
    ):
        for segmenter in ("unet", "deeplabv3"):
            for seed in range(3):
                rid = f"{labeler}__{segmenter}__seed{seed}"
                per_case = []
                for i in range(8):
                    d = float(np.clip(level + 0.02 * i + rng.normal(0, 0.03), 0, 1))
                    per_case.append(
                        {
                            "case": f"case{i}",
                            "patient": f"p{i}",
                            "dice": d,
                            "hd95": 20 * (1 - d),
                            "missed/tumor": float(d < 0.55),
                        }
                    )
                    if i < 2:
                        png = root / "synthetic" / rid / "overlays" / f"case{i}_z010.png"
                        png.parent.mkdir(parents=True, exist_ok=True)
                        pixels = (rng.uniform(size=(40, 120, 3)) * 255).astype(np.uint8)
                        Image.fromarray(pixels).save(png)
                recs.append(
                    {
                        "id": rid,
                        "dataset": "synthetic",
                        "target": "tumor",
                        "protocol": protocol,
                        "labeler": labeler,
                        "segmenter": segmenter,
                        "seed": seed,
                        "sweep": {},
                        "status": "done",
                        "error": None,
                        "metrics": {"dice": float(np.mean([c["dice"] for c in per_case]))},
                        "per_case": per_case,
                        "pseudo": {"dice": level},
                        "provenance": {
                            "wsbench": "0.1.0",
                            "profile": "quick",
                            "git_sha": "0123abc",
                            "device": "cpu",
                            "plugins": {
                                "labeler": {"name": labeler, "version": "0.1.0"},
                                "segmenter": {"name": segmenter, "version": "0.1.0"},
                            },
                        },
                        "finished_at": "2026-01-01T00:00:00",
                        "wall_s": 1.5,
                    }
                )
    return recs


INFO = PluginInfo(
    baselines=frozenset({"box-fill", "oracle"}),
    metrics={"dice": MetricInfo("dice"), "hd95": MetricInfo("hd95", False, "mm")},
)


@pytest.fixture(scope="module")
def browser() -> str:
    found = _browser()
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(
                "CI is set but no chromium was found; install it (apt-get install chromium)"
            )
        pytest.skip("no chromium on this machine")
    return found


def test_site_renders_sorts_and_has_no_errors_in_chromium(browser, tmp_path):
    run = tmp_path / "run"
    site = tmp_path / "site"
    pages = build_site([Source("demo", _records(run), [run])], site, info=INFO)
    for page in pages:
        text = page.read_text()
        assert not re.search(r"""(src|href)\s*=\s*['"]?(https?:)?//""", text), page
        probe = page.with_name(f"probe-{page.name}")
        probe.write_text(text.replace("<head>", "<head>" + PROBE, 1))
        proc = _chromium(
            browser, "--virtual-time-budget=5000", "--dump-dom", probe.resolve().as_uri()
        )
        found = re.search(r"<pre id=\"wsbench-probe\">(.*?)</pre>", proc.stdout, re.S)
        assert found, proc.stderr[-2000:]
        result = json.loads(html.unescape(found.group(1)))
        assert result["errors"] == [], result["errors"]
        assert result["broken"] == [], result["broken"]
        if page.name == "index.html":
            continue
        assert result["tables"] == 1 and result["rows"] == 6
        assert result["images"] >= 2  # the cost figure and the gallery
        assert result["labelerAsc"] == sorted(result["labelerAsc"])
        assert result["labelerDesc"] == sorted(result["labelerDesc"], reverse=True)
        dice = result["diceFirstClick"]
        assert dice == sorted(dice, reverse=True) and result["diceArrow"] == "▼"
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTEFACTS / "site-screenshot.png"
    shot.unlink(missing_ok=True)
    _chromium(
        browser, "--window-size=1400,1800", f"--screenshot={shot}", pages[-1].resolve().as_uri()
    )
    assert shot.is_file() and Image.open(shot).size == (1400, 1800)
    # the page is not blank: many distinct colours (tables, tags, figures)
    assert len(np.unique(np.asarray(Image.open(shot).convert("L")))) > 50
