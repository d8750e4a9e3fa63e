"""Plugins are untrusted code: whatever a third-party package does, wsbench says which one
it was and how to turn it off, and the rest keeps working."""

from __future__ import annotations

import itertools
import types

import pytest
from conftest import assert_one_line, message_lines, toy_run

from wsbench import hookimpl
from wsbench.plugins import load_registry
from wsbench.testing.distributions import fake_distribution

SHADOW_BOX_FILL = '''
from wsbench.labelers.box_fill import BoxFill

class Impostor(BoxFill):
    """Claims the baseline's name."""
    name = "box-fill"
    version = "9.9.9"

from wsbench import hookimpl

@hookimpl
def wsbench_register_labelers():
    return [Impostor]
'''


_COUNTER = itertools.count()


def _install(tmp_path, monkeypatch, dist: str, module: str, source: str, ep: str | None = None):
    """Install ``source`` as a package; the module name is made unique (imports are cached)."""
    module = f"{module}_{next(_COUNTER)}"
    site = fake_distribution(
        tmp_path / f"site-{module}", dist, {module: source}, {ep or module: module}
    )
    monkeypatch.syspath_prepend(str(site))
    return module


def _warning(result, *fragments: str) -> None:
    lines = [ln for ln in message_lines(result) if ln.startswith("warning:")]
    assert len(lines) == 1, message_lines(result)
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.mark.parametrize(
    "body, cause",
    [
        ("import sys\nsys.exit(3)\n", "SystemExit: 3"),
        ("raise SystemExit('bye')\n", "SystemExit: bye"),
        ("raise ImportError('needs libfoo')\n", "ImportError: needs libfoo"),
        ("1/0\n", "ZeroDivisionError"),
        ("def broken(:\n", "SyntaxError"),
    ],
    ids=["sys-exit", "system-exit-text", "import-error", "zero-division", "syntax-error"],
)
def test_plugin_failing_at_import_is_contained(cli, tmp_path, monkeypatch, body, cause):
    _install(tmp_path, monkeypatch, "wsbench-evil", "evil_import", body, "evil")
    res = cli("plugins")
    assert res.exit_code == 0, res.output
    _warning(res, "plugin 'evil'", "wsbench-evil", cause, "WSBENCH_DISABLE_PLUGINS=evil")
    assert "box-fill" in res.stdout  # the rest still loads


def test_plugin_failing_at_import_is_silenced_by_the_env_var(cli, tmp_path, monkeypatch):
    name = _install(tmp_path, monkeypatch, "wsbench-evil", "quiet", "import sys\nsys.exit(3)\n")
    res = cli("plugins", env={"WSBENCH_DISABLE_PLUGINS": name})
    assert res.exit_code == 0 and not message_lines(res), res.output


def test_misspelled_hook_names_the_entry_point_and_the_env_var(cli, tmp_path, monkeypatch):
    source = (
        "from wsbench import hookimpl\n@hookimpl\ndef wsbench_register_labeler():\n    return []\n"
    )
    _install(tmp_path, monkeypatch, "wsbench-typo", "typo_hook", source, "typo")
    res = cli("plugins")
    assert res.exit_code == 0, res.output
    _warning(
        res,
        "plugin 'typo'",
        "wsbench-typo",
        "wsbench_register_labeler, which is not a wsbench hook",
        "WSBENCH_DISABLE_PLUGINS=typo",
    )


@pytest.mark.parametrize(
    "body, cause",
    [
        ("raise RuntimeError('boom')", "RuntimeError: boom"),
        ("raise SystemExit(4)", "SystemExit: 4"),
        ("return [42]", "returned 42, which is not a Labeler subclass"),
    ],
    ids=["raises", "exits", "returns-junk"],
)
def test_register_hook_that_misbehaves_is_reported(cli, tmp_path, monkeypatch, body, cause):
    source = (
        f"from wsbench import hookimpl\n@hookimpl\ndef wsbench_register_labelers():\n    {body}\n"
    )
    _install(tmp_path, monkeypatch, "wsbench-bad", "bad_register", source, "bad")
    res = cli("plugins")
    assert res.exit_code == 0, res.output
    _warning(res, "plugin 'bad'", cause)
    assert "box-fill" in res.stdout


def test_two_plugins_with_one_name_are_an_error_naming_both(cli, tmp_path, monkeypatch):
    _install(tmp_path, monkeypatch, "wsbench-impostor", "impostor", SHADOW_BOX_FILL, "aaa-first")
    res = cli(*toy_run(tmp_path / "o"))
    assert_one_line(
        res,
        2,
        "two labelers are named 'box-fill'",
        "'core-labelers' (package 'wsbench')",
        "'aaa-first' (package 'wsbench-impostor')",
        "WSBENCH_DISABLE_PLUGINS=aaa-first:box-fill",
    )
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("choice", ["aaa-first", "aaa-first:box-fill", "core-labelers:box-fill"])
def test_user_chooses_between_two_plugins_of_one_name(tmp_path, monkeypatch, choice):
    _install(tmp_path, monkeypatch, "wsbench-impostor", "impostor2", SHADOW_BOX_FILL, "aaa-first")
    registry = load_registry(disable={choice})
    cls = registry.get("labeler", "box-fill")
    assert (cls.version == "9.9.9") == choice.startswith("core-labelers")


def test_registration_follows_pluggys_order_so_tryfirst_works():
    calls: list[str] = []

    def plugin(name: str, **marks):
        mod = types.ModuleType(name)

        @hookimpl(**marks)
        def wsbench_cell_finished(cell, record):
            calls.append(name)

        mod.wsbench_cell_finished = wsbench_cell_finished
        return mod

    mods = [plugin("first"), plugin("eager", tryfirst=True), plugin("last")]
    registry = load_registry(extra=mods, entrypoints=False)
    registry.pm.hook.wsbench_cell_finished(cell=None, record={})
    pluggy_order, calls[:] = list(calls), []
    registry.cell_finished(None, {})
    assert calls == pluggy_order == ["eager", "last", "first"]


def test_raising_cell_hook_is_reported_once_and_disabled(tmp_path, toy_registry):
    from wsbench.grid import RunSpec
    from wsbench.runner import run_grid

    mod = types.ModuleType("noisy_notifier")
    calls = []

    @hookimpl
    def wsbench_cell_finished(cell, record):
        calls.append(cell.seed)
        raise ConnectionError("webhook unreachable")

    mod.wsbench_cell_finished = wsbench_cell_finished
    toy_registry.pm.register(mod, name="noisy_notifier")
    warnings: list[str] = []
    toy_registry.warn = warnings.append
    spec = RunSpec(
        datasets=("toy",),
        labelers=("toy-oracle",),
        segmenters=("toy-threshold",),
        seeds=(0, 1, 2),
        device="cpu",
        out=tmp_path / "o",
    )
    records = run_grid(spec, toy_registry)
    assert [r["status"] for r in records] == ["done"] * 3
    assert calls == [0] and len(warnings) == 1
    assert (
        "'noisy_notifier'" in warnings[0] and "ConnectionError: webhook unreachable" in warnings[0]
    )
    assert "disabled for the rest of this run" in warnings[0]


def test_raising_cell_hook_does_not_abort_the_cli_grid(cli, tmp_path, monkeypatch):
    source = (
        "from wsbench import hookimpl\n@hookimpl\n"
        "def wsbench_cell_finished(cell, record):\n    raise SystemExit(9)\n"
    )
    _install(tmp_path, monkeypatch, "wsbench-notify", "notify_exit", source, "notify")
    res = cli(*toy_run(tmp_path / "o", "--seeds", "0,1"))
    assert res.exit_code == 0, res.output
    _warning(res, "plugin 'notify'", "SystemExit: 9", "disabled for the rest of this run")


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--labeler", "nope"], ["unknown labeler 'nope'", "valid labelers are:", "box-fill"]),
        (["--segmenter", "unett"], ["unknown segmenter 'unett'", "unet"]),
        (["--dataset", "litz"], ["unknown dataset 'litz'", "lits"]),
        (["--weak", "boxes"], ["unknown protocol 'boxes'", "box"]),
    ],
    ids=["labeler", "segmenter", "dataset", "protocol"],
)
def test_unknown_plugin_names_list_the_valid_ones(cli, tmp_path, args, fragments):
    out = tmp_path / "o"
    res = cli(*toy_run(out)[:1], *args, "--device", "cpu", "--out", out)
    assert_one_line(res, 2, *fragments)
    assert not out.exists()


def test_unknown_plugin_in_params_listing(cli):
    assert_one_line(cli("plugins", "--params", "nope"), 2, "unknown plugin 'nope'")
