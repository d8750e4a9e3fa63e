"""A labeler's output is checked against the pseudo-label contract before it is cached: a
bad one fails its cell with one line, the grid goes on, and nothing bad is cached."""

from __future__ import annotations

import types

import numpy as np
import pytest
from conftest import toy_run

from wsbench import hookimpl
from wsbench.api import Param, PseudoLabel
from wsbench.grid import RunSpec
from wsbench.runner import run_grid
from wsbench.testing import toy_plugins
from wsbench.testing.distributions import fake_distribution


class Sloppy(toy_plugins.ToyOracle):
    """The toy oracle with one deliberate breach of the contract."""

    name = "sloppy"
    params = (Param("breach", "none", "which breach"),)

    def label(self, cases, ctx):
        out = super().label(cases, ctx)
        breach, lab = self.p["breach"], out[0]
        z = lab.target.shape[0]
        if breach == "slice out of range":
            lab.slices = np.array([0, z + 5])
        elif breach == "negative slice":
            lab.slices = np.array([-1])
        elif breach == "class 9":
            lab.target[0, 0, 0] = 9
        elif breach == "NaN weights":
            lab.weight[0, 0, :3] = np.nan
        elif breach == "negative weights":
            lab.weight[0, 0, 0] = -1.0
        elif breach == "wrong shape":
            lab.target = lab.target[:, :-1]
        elif breach == "weight shape":
            lab.weight = lab.weight[:-1]
        elif breach == "missing case":
            out = out[1:]
        elif breach == "wrong case id":
            out[0] = PseudoLabel("nobody", lab.target, lab.weight, lab.slices)
        elif breach == "float slices":
            lab.slices = lab.slices.astype(float) + 0.5
        elif breach == "not a list":
            return {"labels": out}
        return out


BREACHES = {
    "slice out of range": "slice index",
    "negative slice": "slice index -1 outside",
    "class 9": "target value 9 outside 0..1 (1 class(es))",
    "NaN weights": "3 NaN or infinite weights",
    "negative weights": "negative weight -1.0",
    "wrong shape": "expected",
    "weight shape": "and weight",
    "missing case": "pseudo labels for",
    "wrong case id": "no PseudoLabel with this case_id",
    "float slices": "slices must be a 1D integer array",
    "not a list": "returned dict pseudo labels",
}


@pytest.fixture
def registry():
    from wsbench.plugins import load_registry

    mod = types.ModuleType("sloppy_plugin")
    mod.wsbench_register_labelers = hookimpl(lambda: [Sloppy])
    return load_registry(extra=[toy_plugins, mod])


@pytest.mark.parametrize("breach", list(BREACHES))
def test_bad_pseudo_labels_fail_the_cell_and_are_not_cached(tmp_path, registry, breach):
    spec = RunSpec(
        datasets=("toy",),
        labelers=("sloppy", "toy-oracle"),
        segmenters=("toy-threshold",),
        device="cpu",
        out=tmp_path / "o",
        sets={"sloppy.breach": breach},
    )
    bad, good = run_grid(spec, registry)
    assert bad["status"] == "failed" and good["status"] == "done", bad["error"]
    assert "\n" not in bad["error"]
    assert "labeler 'sloppy' broke the pseudo-label contract" in bad["error"]
    assert BREACHES[breach] in bad["error"], bad["error"]
    assert "fix the labeler" in bad["error"]
    cached = list((tmp_path / "o").rglob("manifest.json"))
    assert len(cached) == 1  # the good labeler's entry only


def test_bad_labeler_exits_1_with_one_line(cli, tmp_path, monkeypatch):
    source = (
        "import numpy as np\nfrom wsbench import hookimpl\n"
        "from wsbench.testing.toy_plugins import ToyOracle\n"
        "class Nine(ToyOracle):\n    name = 'nine'\n"
        "    def label(self, cases, ctx):\n        out = super().label(cases, ctx)\n"
        "        out[0].target[0, 0, 0] = 9\n        return out\n"
        "@hookimpl\ndef wsbench_register_labelers():\n    return [Nine]\n"
    )
    site = fake_distribution(tmp_path / "site-nine", "wsbench-nine", {"nine_labeler": source})
    monkeypatch.syspath_prepend(str(site))
    args = toy_run(tmp_path / "o")
    args[args.index("toy-oracle")] = "nine"
    res = cli(*args)
    assert res.exit_code == 1, res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "1 of 1 cells failed" in lines[0], lines
    assert "nine x toy-threshold: labeler 'nine' broke the pseudo-label contract" in lines[0]
    assert "target value 9 outside 0..1" in lines[0]
