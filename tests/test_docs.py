"""Docs are checked where they can be: every hook documented, every README command valid."""

import re
import shlex
from pathlib import Path

import click
import pytest

from wsbench import hookspecs
from wsbench.cli import main

ROOT = Path(__file__).resolve().parents[1]
HOOKS = sorted(n for n in dir(hookspecs) if n.startswith("wsbench_"))


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented(hook):
    text = (ROOT / "CONTRIBUTING.md").read_text()
    assert f"### `{hook}`" in text, f"{hook} has no section in CONTRIBUTING.md"
    assert getattr(hookspecs, hook).__doc__, f"{hook} has no docstring"


def _readme_commands():
    docs = [ROOT / "README.md", *sorted((ROOT / "plugins").glob("*/README.md"))]
    for doc in docs:
        for block in re.findall(r"```(?:bash|console|sh)?\n(.*?)```", doc.read_text(), re.S):
            for line in block.replace("\\\n", " ").splitlines():
                line = line.strip().removeprefix("$ ")
                if line.startswith("wsbench "):
                    yield pytest.param(line, id=f"{doc.parent.name}:{line[:60]}")


@pytest.mark.parametrize("command", list(_readme_commands()))
def test_readme_commands_parse(command):
    """Each documented command names real subcommands and options (it is not executed)."""
    args = shlex.split(command, comments=True)[1:]
    cmd, name = main, "wsbench"
    while isinstance(cmd, click.Group):
        name = args.pop(0)
        cmd = cmd.get_command(click.Context(main), name)
        assert cmd is not None, f"no subcommand {name!r}"
    cmd.make_context(name, args)  # raises UsageError on an unknown option or a bad value


def test_changelog_has_an_entry_for_this_version():
    import wsbench

    assert f"## {wsbench.__version__}" in (ROOT / "CHANGELOG.md").read_text()
