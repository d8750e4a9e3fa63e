"""The plugin-manager factory and the typed registry around it.

Plugins are untrusted code. ``load_registry()`` builds a pluggy manager on demand (never at
import), loads every entry point of group ``wsbench`` (built-ins included) and skips what
``WSBENCH_DISABLE_PLUGINS`` lists (comma separated: an entry-point name blocks the whole
entry point, ``entry-point:plugin`` blocks one plugin class it registers). A plugin that
fails to import (even with ``sys.exit``), implements a hook that does not exist, or whose
register hook raises is recorded in ``Registry.failures`` and left out; the rest loads.
Two plugins of one kind with one name are a ``PluginError`` naming both distributions.
A ``wsbench_cell_finished`` implementation that raises is reported once and disabled for
the rest of the run. Core code talks to the ``Registry``; it is the only caller of hooks.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

import pluggy

from wsbench import hookspecs
from wsbench.api import PLUGIN_KINDS, Plugin, Reported, register_hook
from wsbench.errors import PluginError, UnknownPluginError

GROUP = "wsbench"
DISABLE_ENV = "WSBENCH_DISABLE_PLUGINS"

_KINDS: dict[str, tuple[str, type[Plugin]]] = {
    kind: (register_hook(kind), base) for kind, base in PLUGIN_KINDS.items()
}


def _stderr_warning(line: str) -> None:
    print(f"warning: {line}", file=sys.stderr)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


@dataclass
class Registry:
    """Typed access to what the loaded plugins provide."""

    pm: pluggy.PluginManager
    failures: dict[str, str] = field(default_factory=dict)  # plugin name -> one-line error
    dists: dict[str, str] = field(default_factory=dict)  # plugin name -> distribution
    blocked: set[str] = field(default_factory=set)  # "entry-point:plugin" choices
    warn: Callable[[str], None] = _stderr_warning  # where a hook failing mid-run is reported
    _cache: dict[str, dict[str, type]] = field(default_factory=dict)
    _source: dict[str, str] = field(default_factory=dict)  # "kind:name" -> plugin name
    _muted: set[str] = field(default_factory=set)  # plugins whose cell hook raised

    def classes(self, kind: str) -> dict[str, type[Plugin]]:
        """Every plugin class of ``kind``, by name; PluginError when two share a name."""
        if kind not in _KINDS:
            raise UnknownPluginError("plugin kind", kind, _KINDS)
        if kind not in self._cache:
            hook_name, base = _KINDS[kind]
            found: dict[str, type] = {}
            # pluggy calls the last registered (and tryfirst) implementation first
            for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls()):
                plugin_name = self.pm.get_name(impl.plugin) or "?"
                try:
                    result = list(impl.function() or [])
                except (Exception, SystemExit) as exc:  # a broken plugin must not stop the CLI
                    self.failures[plugin_name] = (
                        f"plugin {plugin_name!r}: {hook_name} raised {_describe(exc)}; it is "
                        f"left out; fix or uninstall it, or set {DISABLE_ENV}={plugin_name}"
                    )
                    continue
                for cls in result:
                    if not (isinstance(cls, type) and issubclass(cls, base)):
                        self.failures[plugin_name] = (
                            f"plugin {plugin_name!r}: {hook_name} returned {cls!r}, which is "
                            f"not a {base.__name__} subclass; it is left out"
                        )
                        continue
                    if f"{plugin_name}:{cls.name}" in self.blocked:
                        continue
                    if cls.name in found:
                        self._duplicate(kind, cls.name, plugin_name)
                    found[cls.name] = cls
                    self._source[f"{kind}:{cls.name}"] = plugin_name
            self._cache[kind] = dict(sorted(found.items()))
        return self._cache[kind]

    def _duplicate(self, kind: str, name: str, plugin_name: str) -> None:
        first = self._source[f"{kind}:{name}"]
        where = [f"{p!r} (package {self.dists.get(p, p)!r})" for p in (first, plugin_name)]
        raise PluginError(
            f"two {kind}s are named {name!r}: from entry point {where[0]} and {where[1]}; "
            f"choose one with {DISABLE_ENV}={first}:{name} or {DISABLE_ENV}={plugin_name}:{name}"
            ", or uninstall one"
        )

    def get(self, kind: str, name: str) -> type[Plugin]:
        classes = self.classes(kind)
        if name not in classes:
            raise UnknownPluginError(kind, name, classes)
        return classes[name]

    def source(self, kind: str, name: str) -> str:
        self.classes(kind)
        return self._source.get(f"{kind}:{name}", "?")

    def all_plugins(self) -> list[tuple[str, type[Plugin]]]:
        return [(kind, cls) for kind in _KINDS for cls in self.classes(kind).values()]

    def reported(self) -> list[Reported]:
        """Every reported number that any plugin declares."""
        seen: list[Reported] = []
        for _, cls in self.all_plugins():
            for r in cls.reported:
                if r not in seen:
                    seen.append(r)
        return seen

    def cell_finished(self, cell: Any, record: dict) -> None:
        """Call every ``wsbench_cell_finished``; one that raises is reported once and muted."""
        for impl in reversed(self.pm.hook.wsbench_cell_finished.get_hookimpls()):
            plugin_name = self.pm.get_name(impl.plugin) or "?"
            if plugin_name in self._muted:
                continue
            try:
                impl.function(cell=cell, record=record)
            except (Exception, SystemExit) as exc:
                self._muted.add(plugin_name)
                line = (
                    f"plugin {plugin_name!r}: wsbench_cell_finished raised {_describe(exc)}; "
                    f"it is disabled for the rest of this run (results are kept); fix it or "
                    f"set {DISABLE_ENV}={plugin_name}"
                )
                self.failures[plugin_name] = line
                self.warn(line)


def disabled_names(env: dict[str, str] | None = None) -> set[str]:
    raw = (env if env is not None else os.environ).get(DISABLE_ENV, "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def _unknown_hooks(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    """Names of hooks ``plugin`` implements that no spec declares (misspellings)."""
    return sorted(
        caller.name
        for caller in pm.get_hookcallers(plugin) or []
        if caller.spec is None
        and any(not i.optionalhook for i in caller.get_hookimpls() if i.plugin is plugin)
    )


def _same(obj: object) -> object:
    return obj


def _register(
    pm: pluggy.PluginManager, load: Callable[[], object], name: str, dist: str
) -> str | None:
    """Load and register one plugin; the one-line failure, or None when it registered."""
    fix = f"fix or uninstall it, or set {DISABLE_ENV}={name}"
    try:
        plugin = load()
    except (Exception, SystemExit) as exc:  # untrusted import code; Ctrl-C still stops us
        return f"plugin {name!r} from package {dist!r} failed to load: {_describe(exc)}; {fix}"
    try:
        pm.register(plugin, name=name)
    except (ValueError, pluggy.PluginValidationError) as exc:
        return f"plugin {name!r} from package {dist!r} cannot register: {_describe(exc)}; {fix}"
    unknown = _unknown_hooks(pm, plugin)
    if unknown:
        pm.unregister(plugin)
        return (
            f"plugin {name!r} from package {dist!r} implements {', '.join(unknown)}, which is "
            f"not a wsbench hook (misspelled?); it is left out; {fix}"
        )
    return None


def load_registry(
    extra: Iterable[ModuleType | Any] = (),
    *,
    entrypoints: bool = True,
    disable: set[str] | None = None,
) -> Registry:
    """Build a fresh manager: entry points of group ``wsbench`` plus ``extra`` plugin objects."""
    pm = pluggy.PluginManager("wsbench")
    pm.add_hookspecs(hookspecs)
    blocked = disabled_names() if disable is None else set(disable)
    failures: dict[str, str] = {}
    dists: dict[str, str] = {}
    if entrypoints:
        for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
            if ep.name in blocked or pm.get_plugin(ep.name) is not None:
                continue
            dists[ep.name] = getattr(ep.dist, "name", None) or "?"
            failure = _register(pm, ep.load, ep.name, dists[ep.name])
            if failure:
                failures[ep.name] = failure
    for obj in extra:
        name = getattr(obj, "__name__", None) or type(obj).__name__
        if name in blocked:
            continue
        dists[name] = name
        failure = _register(pm, functools.partial(_same, obj), name, name)
        if failure:
            failures[name] = failure
    return Registry(pm=pm, failures=failures, dists=dists, blocked={b for b in blocked if ":" in b})
