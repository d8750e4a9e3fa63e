"""pyproject.toml lists every package folder, and the pins the project relies on."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_package_folder_is_listed():
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts) for p in ROOT.glob("wsbench/**/__init__.py")
    }
    found |= {
        "wsbench_plugins" + "".join("." + s for s in p.parent.relative_to(ROOT / "plugins").parts)
        for p in (ROOT / "plugins").glob("**/__init__.py")
    }
    assert found - listed == set(), "add these to [tool.setuptools] packages"


def test_torch_pins():
    deps = _pyproject()["project"]["dependencies"]
    assert "torch==2.14.1" in deps and "torchvision==0.29.1" in deps


def test_entry_point_modules_import():
    import importlib

    for name, target in _pyproject()["project"]["entry-points"]["wsbench"].items():
        module = importlib.import_module(target)
        assert any(n.startswith("wsbench_") for n in dir(module)), f"{name}: no hook in {target}"
