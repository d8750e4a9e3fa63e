"""Make a throw-away installed distribution with ``wsbench`` entry points, for tests.

``fake_distribution(root, "wsbench-myplugin", {"myplugin": source})`` writes the module
and a ``.dist-info`` folder under ``root``; put ``root`` on ``sys.path`` (pytest's
``monkeypatch.syspath_prepend``) or ``PYTHONPATH`` and wsbench discovers the plugin
exactly as it would after ``pip install wsbench-myplugin``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path


def fake_distribution(
    root: Path,
    dist_name: str,
    modules: dict[str, str],
    entry_points: dict[str, str] | None = None,
    version: str = "0.1.0",
) -> Path:
    """Write ``modules`` (name -> source) and a dist-info declaring ``entry_points``
    (entry-point name -> module) in group ``wsbench``. Returns ``root``."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for name, source in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist_name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: {version}\n"
    )
    eps = entry_points or {name: name for name in modules}
    (info / "entry_points.txt").write_text(
        "[wsbench]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items())
    )
    return root
