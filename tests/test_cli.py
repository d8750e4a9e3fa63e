"""The CLI: one clear line and a non-zero exit for bad input; finished cells survive."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from wsbench.cli import main
from wsbench.store import Store
from wsbench.testing import toy_plugins
from wsbench.testing.distributions import fake_distribution

TOY = Path(toy_plugins.__file__).read_text()


@pytest.fixture
def cli(tmp_path, monkeypatch):
    site = fake_distribution(tmp_path / "site", "wsbench-toy", {"toy_cli_plugins": TOY})
    monkeypatch.syspath_prepend(str(site))
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


def _run_args(tmp_path, *extra):
    return [
        "run",
        "--dataset",
        "toy",
        "--labeler",
        "toy-oracle",
        "--segmenter",
        "toy-threshold",
        "--device",
        "cpu",
        "--out",
        str(tmp_path / "out"),
        *extra,
    ]


def test_run_prints_leaderboard_and_writes_tables(cli, tmp_path):
    res = cli(*_run_args(tmp_path, "--seeds", "0,1"))
    assert res.exit_code == 0, res.output
    assert "wsbench leaderboard" in res.output and "toy-oracle" in res.output
    board = tmp_path / "out" / "leaderboard"
    data = json.loads((board / "toy.json").read_text())
    (row,) = data["rows"]
    assert row["seeds"] == [0, 1] and row["dice_mean"] > 0.9
    assert (board / "toy.md").read_text().count("| toy-oracle |") == 1
    assert (board / "toy.csv").exists()


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--labeler", "nope"], "unknown labeler 'nope'; valid labelers are:"),
        (["--set", "train.epochs=many"], "train.epochs='many' is not a valid int"),
        (["--set", "toy-threshold.explode=maybe"], "is not a valid bool"),
        (["--sweep", "weak.alpha"], "must look like KEY=VALUE"),
        (["--target", "spleen"], "--target 'spleen' is not a target of dataset 'toy'"),
        (["--weak", "nonsense"], "unknown protocol 'nonsense'"),
    ],
)
def test_bad_input_is_one_clear_line(cli, tmp_path, args, fragment):
    res = cli(*_run_args(tmp_path, *args))
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), res.output
    assert fragment in lines[0]


def test_plugin_that_raises_fails_its_cells_only(cli, tmp_path):
    assert cli(*_run_args(tmp_path)).exit_code == 0
    res = cli(*_run_args(tmp_path, "--seeds", "1", "--set", "toy-threshold.explode=true"))
    assert res.exit_code == 1
    assert "exploded on purpose" in res.output
    with Store(tmp_path / "out" / "results.sqlite") as store:
        assert sorted(r["status"] for r in store.records()) == ["done", "failed"]


def test_corrupt_nifti_is_named(cli, tmp_path):
    from wsbench.data.phantom import write_lits_layout

    data = tmp_path / "lits"
    write_lits_layout(data, n_patients=4)
    victims = sorted(data.glob("volume-*.nii*"))
    for victim in victims:  # truncated: whichever the split loads first must be named
        victim.write_bytes(victim.read_bytes()[:200])
    res = cli(
        "run",
        "--dataset",
        "lits",
        "--data-dir",
        str(data),
        "--labeler",
        "box-fill",
        "--segmenter",
        "toy-threshold",
        "--device",
        "cpu",
        "--out",
        str(tmp_path / "o"),
    )
    assert res.exit_code == 1
    assert any(v.name in res.output and "truncated" in res.output for v in victims), res.output


def test_plugins_listing(cli):
    res = cli("plugins", "--json")
    assert res.exit_code == 0
    doc = json.loads(res.output)
    kinds = {(p["kind"], p["name"]) for p in doc["plugins"]}
    assert ("labeler", "toy-oracle") in kinds and ("segmenter", "unet") in kinds
    res = cli("plugins", "--params", "nope")
    assert res.exit_code == 2 and "unknown plugin 'nope'" in res.output
    res = cli("plugins", "--params", "toy-threshold")
    assert res.exit_code == 0 and "explode" in res.output


def test_leaderboard_needs_results(cli, tmp_path):
    res = cli("leaderboard", "--results", str(tmp_path / "none"), "--to", str(tmp_path / "b"))
    assert res.exit_code == 2 and "no results.sqlite" in res.output


def test_set_means_plugin_dot_param_in_the_data_commands(cli, tmp_path):
    """``--set`` takes ``<plugin>.<param>`` in ``data synth`` and ``data check`` as in ``run``."""
    out = tmp_path / "synth"
    small = ("synthetic.n_patients=2", "synthetic.size=24", "synthetic.n_slices=2")
    res = cli("data", "synth", str(out), *(a for s in small for a in ("--set", s)))
    assert res.exit_code == 0, res.output
    assert len(list(out.glob("volume-*.nii"))) == 2
    res = cli("data", "synth", str(out), "--set", "n_patients=2")
    assert res.exit_code == 2 and "has no scope; write <plugin>.<param>" in res.output
    res = cli("data", "check", "--dataset", "lits", "--data-dir", str(out), "--set", "x.y=1")
    assert res.exit_code == 2 and "unknown scope 'x'; valid scopes are: lits" in res.output
    res = cli("data", "check", "--dataset", "lits", "--data-dir", str(out), "--set", "lits.x=1")
    assert res.exit_code == 2 and "'x'" in res.output
