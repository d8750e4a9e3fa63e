"""One writer per output folder: an OS-level lock on ``<out>/.wsbench.lock``.

The lock is ``flock`` on an open file, so the kernel releases it when the holder
exits, however it exits (SIGKILL included): a stale lock file never blocks a run.
The file holds the holder's pid, host, start time and command, for the error message.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wsbench.errors import WsbenchError

LOCK_NAME = ".wsbench.lock"


class OutputLocked(WsbenchError):
    """Another process is writing the same output folder."""


class OutLock:
    """``with OutLock(out, wait=False):`` holds ``out`` for one run."""

    def __init__(self, out: Path, wait: bool = False, poll_s: float = 0.5):
        self.path = Path(out) / LOCK_NAME
        self.wait = wait
        self.poll_s = poll_s
        self._file: Any = None

    def __enter__(self) -> OutLock:
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "a+")
        while not _try_lock(f):
            if not self.wait:
                holder = _holder(self.path)
                f.close()
                raise OutputLocked(
                    f"--out {self.path.parent} is in use by another wsbench run ({holder}); "
                    "wait for it to finish, pass --wait to queue behind it, or use another --out"
                )
            time.sleep(self.poll_s)
        f.seek(0)
        f.truncate()
        f.write(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "started": datetime.now(UTC).isoformat(timespec="seconds"),
                    "command": " ".join(sys.argv),
                }
            )
        )
        f.flush()
        self._file = f

    def release(self) -> None:
        if self._file is not None:
            _unlock(self._file)
            self._file.close()
            self._file = None


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "a process that is just starting"
    return (
        f"pid {info.get('pid')} on {info.get('host')}, started {info.get('started')}: "
        f"{info.get('command', '')}"
    ).strip()


try:
    import fcntl

    def _try_lock(f: Any) -> bool:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def _unlock(f: Any) -> None:
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)

except ImportError:  # pragma: no cover - Windows
    import msvcrt

    def _try_lock(f: Any) -> bool:
        try:
            f.seek(0)
            msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock(f: Any) -> None:
        f.seek(0)
        msvcrt.locking(f.fileno(), msvcrt.LK_UNLCK, 1)
