"""Every paper plugin under plugins/ follows the layout written in CONTRIBUTING.md."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAPERS = sorted(p.parent.name for p in (ROOT / "plugins").glob("*/plugin.py"))
HEADINGS = [
    "Citation",
    "What is implemented",
    "Deviations",
    "Reported numbers",
    "Claim and command",
    "Result",
    "Analysis",
]


def test_both_paper_plugins_are_checked():
    assert {"acol", "smile"} <= set(PAPERS)


@pytest.mark.parametrize("name", PAPERS)
def test_readme_has_the_fixed_headings_in_order(name):
    text = (ROOT / "plugins" / name / "README.md").read_text()
    assert re.findall(r"(?m)^## (.+)$", text) == HEADINGS


@pytest.mark.parametrize("name", PAPERS)
def test_plugin_py_holds_hooks_only(name):
    tree = ast.parse((ROOT / "plugins" / name / "plugin.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        assert isinstance(node, ast.FunctionDef), f"{name}/plugin.py: {ast.dump(node)[:60]}"
        assert node.name.startswith("wsbench_"), node.name
        assert any(ast.unparse(d).endswith("hookimpl") for d in node.decorator_list), node.name


@pytest.mark.parametrize("name", PAPERS)
def test_paper_py_holds_citation_numbers_and_claim(name):
    from wsbench.api import Reported

    paper = importlib.import_module(f"wsbench_plugins.{name}.paper")
    assert re.search(r"\b(19|20)\d\d\b", paper.CITATION), "the citation names its year"
    assert all(isinstance(r, Reported) for r in paper.REPORTED)
    assert paper.CLAIM and paper.COMMAND.startswith("wsbench run ")
    readme = (ROOT / "plugins" / name / "README.md").read_text().replace("\\\n", " ")
    assert " ".join(paper.COMMAND.split()) in " ".join(readme.split()), "COMMAND is in README"


@pytest.mark.parametrize("name", PAPERS)
def test_tests_folder(name):
    tests = ROOT / "plugins" / name / "tests"
    assert any(tests.glob("test_*claims.py")) and any(tests.glob("test_*.py"))


def test_papers_are_named_by_author_and_year_not_by_number():
    """No "paper 000" or "000 §2.3": numbers of the papers folder mean nothing outside it."""
    pattern = re.compile(r"\b[Pp]aper[- ]00[0-4]\b|(?<![\w.-])00[0-4](?:'s| §| Eq\.| Table|: )")
    files = [*(ROOT / "plugins").rglob("*.py"), *(ROOT / "plugins").rglob("*.md")]
    found = [
        f"{f.relative_to(ROOT)}: {m.group(0)}"
        for f in files
        for m in pattern.finditer(f.read_text())
    ]
    assert not found, found
