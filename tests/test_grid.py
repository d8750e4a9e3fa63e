"""Grid planning: names, parameters and compatibility are checked before any work."""

import pytest

from wsbench.errors import ParameterError, UnknownPluginError
from wsbench.grid import RunSpec, parse_sets, parse_sweeps, plan


def test_unknown_labeler_lists_valid_names(toy_registry):
    with pytest.raises(UnknownPluginError) as err:
        plan(RunSpec(datasets=("toy",), labelers=("nope",)), toy_registry)
    assert "unknown labeler 'nope'" in str(err.value)
    assert "toy-oracle" in str(err.value)


@pytest.mark.parametrize(
    "sets, fragment",
    [
        ({"train.epochs": "abc"}, "train.epochs='abc' is not a valid int"),
        ({"bogus.x": "1"}, "unknown scope 'bogus'"),
        ({"toy-threshold.nope": "1"}, "has no parameter 'nope'"),
        ({"train.nope": "1"}, "train.nope is not a parameter of segmenter 'toy-threshold'"),
    ],
)
def test_bad_set_values(toy_registry, sets, fragment):
    spec = RunSpec(
        datasets=("toy",), labelers=("toy-oracle",), segmenters=("toy-threshold",), sets=sets
    )
    with pytest.raises(ParameterError) as err:
        plan(spec, toy_registry)
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


def test_assignment_syntax_errors():
    with pytest.raises(ParameterError, match="KEY=VALUE"):
        parse_sets(["acol.delta"])
    with pytest.raises(ParameterError, match="lists no values"):
        parse_sweeps(["weak.alpha="])


def test_cells_expand_over_seeds_and_sweeps(toy_registry):
    spec = RunSpec(
        datasets=("toy",),
        labelers=("toy-oracle",),
        segmenters=("toy-threshold",),
        seeds=(0, 1, 2),
        sweeps={"toy.n_cases": ["4", "5"]},
    )
    p = plan(spec, toy_registry)
    assert len(p.cells) == 6
    assert len({c.id for c in p.cells}) == 6


def test_incompatible_labeler_is_skipped_with_reason(toy_registry):
    spec = RunSpec(
        datasets=("toy",),
        labelers=("toy-oracle", "box-fill"),
        segmenters=("toy-threshold",),
        weak="tags",
    )
    p = plan(spec, toy_registry)
    assert {c.labeler for c in p.cells} == {"toy-oracle"}
    ((what, why),) = p.skipped
    assert what == "toy/box-fill" and "consumes box" in why


def test_unrelated_set_does_not_change_cell_ids(toy_registry):
    base = RunSpec(datasets=("toy",), labelers=("toy-oracle",), segmenters=("toy-threshold",))
    other = RunSpec(
        datasets=("toy",),
        labelers=("toy-oracle",),
        segmenters=("toy-threshold",),
        sets={"box.looseness": "0.1"},
    )
    assert [c.id for c in plan(base, toy_registry).cells] == [
        c.id for c in plan(other, toy_registry).cells
    ]


def test_labeler_and_protocol_may_share_a_name():
    from wsbench.plugins import load_registry

    spec = RunSpec(
        datasets=("synthetic",),
        labelers=("partial", "smile"),
        segmenters=("unet",),
        weak="partial",
        sets={"weak.alpha": "0.5"},
        sweeps={"partial.slices": ["all", "organ"]},
    )
    p = plan(spec, load_registry())
    assert p.targets["synthetic"] == "organs"  # partial needs several classes
    cell = p.cells[0]
    assert cell.params_for("protocol", "partial") == {"alpha": "0.5", "slices": "all"}
    assert cell.params_for("labeler", "partial") == {}


def test_a_plugin_out_of_the_default_grid_runs_only_when_named():
    from wsbench.grid import RunSpec, plan
    from wsbench.plugins import load_registry

    registry = load_registry()
    default = plan(RunSpec(labelers=("box-fill",)), registry)
    assert "deeplabv3plus" not in {c.segmenter for c in default.cells}
    assert any(what == "deeplabv3plus" and "--segmenter" in why for what, why in default.skipped)
    named = plan(RunSpec(labelers=("box-fill",), segmenters=("deeplabv3plus",)), registry)
    assert {c.segmenter for c in named.cells} == {"deeplabv3plus"}


@pytest.mark.parametrize(
    "profile, sets, expected",
    [
        ("paper", {}, {"partial": "ce", "smile": "bce", "smiler": "bce"}),
        ("paper", {"train.loss": "dice"}, {"partial": "dice", "smile": "dice", "smiler": "dice"}),
        ("quick", {}, {"partial": "auto", "smile": "auto", "smiler": "auto"}),
    ],
)
def test_a_labeler_sets_its_papers_training_loss_under_a_profile(profile, sets, expected):
    """Labeler.train_profiles: SMILE's BCE and the baseline's CE under --profile paper, over
    the segmenter's own paper profile (deeplabv3: Dice); the user's --set still wins."""
    from wsbench.grid import segmenter_params
    from wsbench.plugins import load_registry

    registry = load_registry()
    spec = RunSpec(
        datasets=("synthetic",),
        labelers=("partial", "smile", "smiler"),
        segmenters=("deeplabv3",),
        weak="partial",
        profile=profile,
        sets=sets,
    )
    cells = plan(spec, registry).cells
    for cell in cells:
        over = segmenter_params(cell, registry, profile)
        segmenter = registry.get("segmenter", cell.segmenter)(profile=profile, **over)
        assert segmenter.p["loss"] == expected[cell.labeler], cell.labeler
    # what a run builds: the resolved job's segmenter (cell and ctx.new_segmenter())
    from wsbench.execution.jobs import resolve_jobs

    for job in resolve_jobs(cells[:3], spec, registry):
        built = job.segmenter.build(registry)
        assert built.p["loss"] == expected[job.cell.labeler], job.cell.labeler
