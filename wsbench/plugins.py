"""The plugin-manager factory and the typed registry around it.

``load_registry()`` builds a pluggy manager on demand (never at import), loads every
entry point of group ``wsbench`` (built-ins included), skips names listed in
``WSBENCH_DISABLE_PLUGINS`` (comma separated), and records plugins that fail to
load instead of raising. Core code talks to the ``Registry``; it is the only
caller of ``pm.hook``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
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


@dataclass
class Registry:
    """Typed access to what the loaded plugins provide."""

    pm: pluggy.PluginManager
    failures: dict[str, str] = field(default_factory=dict)  # plugin name -> one-line error
    _cache: dict[str, dict[str, type]] = field(default_factory=dict)
    _source: dict[str, str] = field(default_factory=dict)  # class qualname -> package

    def classes(self, kind: str) -> dict[str, type[Plugin]]:
        """Every plugin class of ``kind``, by name (first registration wins)."""
        if kind not in _KINDS:
            raise UnknownPluginError("plugin kind", kind, _KINDS)
        if kind not in self._cache:
            hook_name, base = _KINDS[kind]
            found: dict[str, type] = {}
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                plugin_name = self.pm.get_name(impl.plugin) or "?"
                try:
                    result = impl.function() or []
                except Exception as exc:  # a broken plugin must not take down the CLI
                    self.failures[plugin_name] = f"{hook_name} raised {type(exc).__name__}: {exc}"
                    continue
                for cls in result:
                    if not (isinstance(cls, type) and issubclass(cls, base)):
                        self.failures[plugin_name] = (
                            f"{hook_name} returned {cls!r}, which is not a {base.__name__} subclass"
                        )
                        continue
                    found.setdefault(cls.name, cls)
                    self._source.setdefault(f"{kind}:{cls.name}", plugin_name)
            self._cache[kind] = dict(sorted(found.items()))
        return self._cache[kind]

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
        self.pm.hook.wsbench_cell_finished(cell=cell, record=record)


def disabled_names(env: dict[str, str] | None = None) -> set[str]:
    raw = (env if env is not None else os.environ).get(DISABLE_ENV, "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def load_registry(
    extra: Iterable[ModuleType | Any] = (),
    *,
    entrypoints: bool = True,
    disable: set[str] | None = None,
) -> Registry:
    """Build a fresh manager: entry points of group ``wsbench`` plus ``extra`` plugin objects."""
    pm = pluggy.PluginManager("wsbench")
    pm.add_hookspecs(hookspecs)
    blocked = disabled_names() if disable is None else disable
    failures: dict[str, str] = {}
    if entrypoints:
        for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
            if ep.name in blocked or pm.get_plugin(ep.name) is not None:
                continue
            try:
                pm.register(ep.load(), name=ep.name)
            except Exception as exc:
                dist = getattr(ep.dist, "name", "?")
                failures[ep.name] = (
                    f"plugin {ep.name!r} from package {dist!r} failed to load: "
                    f"{type(exc).__name__}: {exc}; fix or uninstall it, or set "
                    f"{DISABLE_ENV}={ep.name}"
                )
    for obj in extra:
        name = getattr(obj, "__name__", None) or type(obj).__name__
        if name not in blocked:
            pm.register(obj, name=name)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"a plugin implements a hook that does not exist: {exc}") from exc
    return Registry(pm=pm, failures=failures)
