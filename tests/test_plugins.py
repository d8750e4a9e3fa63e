"""Plugin discovery: entry points, third-party packages, blocking and broken plugins."""

import subprocess
import sys
import types

from wsbench import hookimpl
from wsbench.grid import RunSpec
from wsbench.plugins import load_registry
from wsbench.runner import run_grid
from wsbench.testing.distributions import fake_distribution

THIRD_PARTY = '''
import numpy as np
from wsbench import hookimpl
from wsbench.api import Labeler, PseudoLabel

class Dilated(Labeler):
    """Box-fill shrunk by one pixel: a stand-in for an outside paper's labeler."""
    name = "outside-shrunk-box"
    version = "2.3.4"
    consumes = ("box",)
    citation = "Someone et al., An Outside Plugin (2026)"

    def label(self, cases, ctx):
        out = []
        for c in cases:
            t = np.zeros(c.image.shape, np.uint8)
            for b in c.weak.boxes:
                t[b.z, b.y0 + 1:b.y1 - 1, b.x0 + 1:b.x1 - 1] = b.cls
            out.append(PseudoLabel(c.id, t, np.ones(t.shape, np.float32), c.weak.slices))
        return out

@hookimpl
def wsbench_register_labelers():
    return [Dilated]
'''


def test_builtins_register_through_entry_points():
    registry = load_registry()
    assert {"box-fill", "oracle"} <= set(registry.classes("labeler"))
    assert {"unet", "deeplabv3"} <= set(registry.classes("segmenter"))
    assert "synthetic" in registry.classes("dataset")
    assert registry.source("labeler", "oracle") == "core-labelers"
    assert not registry.failures, registry.failures


def test_third_party_package_is_discovered_and_runs_in_a_grid(tmp_path, monkeypatch):
    from wsbench.testing import toy_plugins

    site = fake_distribution(tmp_path / "site", "wsbench-outside", {"outside_plugin": THIRD_PARTY})
    monkeypatch.syspath_prepend(str(site))
    registry = load_registry(extra=[toy_plugins])
    assert registry.get("labeler", "outside-shrunk-box").version == "2.3.4"
    assert registry.source("labeler", "outside-shrunk-box") == "outside_plugin"
    recs = run_grid(
        RunSpec(
            datasets=("toy",),
            labelers=("outside-shrunk-box", "box-fill"),
            segmenters=("toy-threshold",),
            device="cpu",
            out=tmp_path / "out",
        ),
        registry,
    )
    assert [r["status"] for r in recs] == ["done", "done"], [r["error"] for r in recs]
    shrunk, filled = recs
    assert shrunk["provenance"]["plugins"]["labeler"]["version"] == "2.3.4"
    assert shrunk["pseudo"]["dice"] != filled["pseudo"]["dice"]


def test_broken_third_party_plugin_is_reported_not_fatal(tmp_path, monkeypatch):
    site = fake_distribution(
        tmp_path / "site",
        "wsbench-broken",
        {"broken_plugin": "raise ImportError('needs libfoo')\n"},
    )
    monkeypatch.syspath_prepend(str(site))
    registry = load_registry()
    assert "needs libfoo" in registry.failures["broken_plugin"]
    assert "WSBENCH_DISABLE_PLUGINS=broken_plugin" in registry.failures["broken_plugin"]
    assert "oracle" in registry.classes("labeler")  # the rest still loads
    env = {"PYTHONPATH": str(site)}
    proc = subprocess.run(
        [sys.executable, "-m", "wsbench", "plugins"],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, **env},
    )
    assert proc.returncode == 0, proc.stderr
    assert "broken_plugin" in proc.stderr and "oracle" in proc.stdout


def test_disable_env_blocks_plugins(monkeypatch):
    monkeypatch.setenv("WSBENCH_DISABLE_PLUGINS", "core-labelers, acol")
    registry = load_registry()
    assert "box-fill" not in registry.classes("labeler")
    assert "acol" not in registry.classes("labeler")


def test_hook_that_raises_is_reported_by_name():
    mod = types.ModuleType("raising_plugin")

    @hookimpl
    def wsbench_register_labelers():
        raise RuntimeError("boom")

    mod.wsbench_register_labelers = wsbench_register_labelers
    registry = load_registry(extra=[mod])
    assert "oracle" in registry.classes("labeler")
    assert "boom" in registry.failures["raising_plugin"]


def test_misspelled_hook_is_caught():
    mod = types.ModuleType("typo_plugin")

    @hookimpl
    def wsbench_register_labeler():  # missing the s
        return []

    mod.wsbench_register_labeler = wsbench_register_labeler
    registry = load_registry(extra=[mod])
    assert (
        "wsbench_register_labeler, which is not a wsbench hook" in registry.failures["typo_plugin"]
    )
    assert "WSBENCH_DISABLE_PLUGINS=typo_plugin" in registry.failures["typo_plugin"]
    assert "oracle" in registry.classes("labeler")  # the rest still loads


def test_manager_is_not_built_at_import():
    code = (
        "import wsbench, wsbench.api, wsbench.plugins, sys; "
        "print('pluggy' in sys.modules, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert out.split()[1] == "False"  # importing the API does not pull in torch
