"""Output folders and file names that are safe to write.

``prepare_out_dir`` turns every way a folder cannot be written (a file in its place, no
permission, a read-only file system) into one ``OutputError`` line before any work starts.
``safe_name`` turns a name taken from untrusted input (a results database, a plugin) into
one path component that cannot leave its folder.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from wsbench.errors import OutputError

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def prepare_out_dir(path: Path, option: str = "--out") -> Path:
    """Create ``path`` (and parents) and prove it writable; OutputError naming it otherwise."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{option} {path}: is a file, not a folder; give a folder path")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):  # access() lies on read-only mounts and for root
            pass
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise OutputError(
            f"{option} {path}: cannot write there ({why}); give a writable folder"
        ) from None
    return path


def safe_name(name: object, fallback: str = "unnamed") -> str:
    """One path component made of letters, digits and ``._+-``, never ``.``/``..``/hidden."""
    text = _UNSAFE.sub("_", str(name)).strip("._") or fallback
    return text[:120]


def is_inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` resolves to a place inside ``folder``."""
    return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(folder))
