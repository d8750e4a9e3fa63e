"""Exceptions raised by wsbench.

Every message names the file, plugin or value at fault, says what is wrong, and
says what to do. The CLI prints ``str(error)`` on one line and exits with the error's
``exit_code``: 2 for usage and configuration errors, 1 for data errors (and, from
``wsbench run``, for failed cells).

    WsbenchError
    ├── PluginError          a plugin could not be loaded or is not registered
    │   └── UnknownPluginError   a name that no plugin provides (lists valid ones)
    ├── ParameterError       a bad ``--set`` / ``--sweep`` key or value
    ├── OutputError          an output folder or file that cannot or must not be written
    ├── DataError            a corrupt, truncated or inconsistent input file
    ├── WeakLabelError       a weak label that cannot be used (box outside image, ...)
    └── IncompatibleError    a labeler x segmenter x dataset combination that cannot run

A grid cell that fails is not an exception that leaves the runner: the runner stores it as
a failed record (status, one-line error, traceback in its provenance) and goes on.
"""

from __future__ import annotations

from collections.abc import Iterable


class WsbenchError(Exception):
    """Base class of every error wsbench raises on purpose."""

    exit_code = 2  # usage or configuration: the command line or the setup must change


class PluginError(WsbenchError):
    """A plugin could not be loaded, registered or instantiated."""


class UnknownPluginError(PluginError, KeyError):
    """A name that no registered plugin provides."""

    def __init__(self, kind: str, name: str, valid: Iterable[str]):
        self.kind, self.name, self.valid = kind, name, sorted(valid)
        super().__init__(
            f"unknown {kind} {name!r}; valid {kind}s are: {', '.join(self.valid) or '(none)'}"
        )

    def __str__(self) -> str:  # KeyError would add quotes
        return self.args[0]


class ParameterError(WsbenchError, ValueError):
    """A parameter key or value that cannot be used."""


class OutputError(WsbenchError):
    """An output path that cannot be written, or that would overwrite something kept."""


class DataError(WsbenchError):
    """An input file that is unreadable, truncated or inconsistent with its partner."""

    exit_code = 1  # the data must change, not the command


class WeakLabelError(WsbenchError, ValueError):
    """A weak label that a labeler cannot use."""

    exit_code = 1


class IncompatibleError(WsbenchError):
    """A combination of plugins that cannot run together; the message says why."""
