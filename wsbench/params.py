"""Declared plugin parameters, profiles and the parsing of ``--set`` / ``--sweep`` values."""

from __future__ import annotations

import builtins
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wsbench.errors import ParameterError


@dataclass(frozen=True)
class Param:
    """One documented parameter of a plugin.

    ``check`` returns True for valid values; ``check_doc`` says in words what is
    valid (it appears in error messages and in ``wsbench plugins --params``).
    """

    name: str
    default: Any
    doc: str
    choices: tuple[Any, ...] | None = None
    check: Callable[[Any], bool] | None = None
    check_doc: str = ""
    type: builtins.type | None = None  # the field shadows the builtin in the class body

    @property
    def value_type(self) -> builtins.type | None:
        if self.type is not None:
            return self.type
        return None if self.default is None else type(self.default)

    def parse(self, raw: Any, owner: str) -> Any:
        """Convert ``raw`` (a string from the CLI or a Python value) and validate it."""
        value = _coerce(raw, self.value_type, f"{owner}.{self.name}")
        self.validate(value, owner)
        return value

    def validate(self, value: Any, owner: str) -> None:
        key = f"{owner}.{self.name}"
        if self.choices is not None and value not in self.choices:
            raise ParameterError(
                f"{key}={value!r} is not allowed; choose one of {', '.join(map(str, self.choices))}"
            )
        if self.check is not None and value is not None and not self.check(value):
            raise ParameterError(
                f"{key}={value!r} is out of range; it must be {self.check_doc or 'valid'}"
            )

    def describe(self) -> dict[str, Any]:
        out = {"name": self.name, "default": self.default, "doc": self.doc}
        if self.choices is not None:
            out["choices"] = list(self.choices)
        if self.check_doc:
            out["valid"] = self.check_doc
        return out


def in_range(lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False):
    """A (check, check_doc) pair for ``Param`` from an interval."""

    def check(v: Any) -> bool:
        return (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)

    doc = f"in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
    return {"check": check, "check_doc": doc}


def at_least(lo: float):
    return {"check": lambda v: v >= lo, "check_doc": f">= {lo}"}


def _coerce(raw: Any, typ: type | None, key: str) -> Any:
    if not isinstance(raw, str) or typ in (None, str):
        if typ is float and isinstance(raw, int) and not isinstance(raw, bool):
            return float(raw)
        if raw is not None and typ not in (None, str) and not isinstance(raw, typ):
            raise ParameterError(f"{key}={raw!r} must be of type {typ.__name__}")
        return raw
    text = raw.strip()
    try:
        if typ is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if typ is int:
            return int(text)
        if typ is float:
            return float(text)
        if typ in (list, tuple):
            return (
                typ(json.loads(text))
                if text.startswith("[")
                else typ(_scalar(t) for t in text.split(",") if t)
            )
    except ValueError:
        raise ParameterError(
            f"{key}={raw!r} is not a valid {typ.__name__}; give e.g. {key}={_example(typ)}"
        ) from None
    return raw


def _scalar(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _example(typ: type) -> str:
    return {bool: "true", int: "8", float: "0.5", list: "1,2", tuple: "1,2"}.get(typ, "value")


def resolve(
    owner: str,
    declared: Sequence[Param],
    profiles: Mapping[str, Mapping[str, Any]],
    profile: str,
    overrides: Mapping[str, Any],
) -> dict[str, Any]:
    """Defaults, then the profile's values, then user overrides; every value validated."""
    by_name = {p.name: p for p in declared}
    if profile not in profiles and profiles:
        raise ParameterError(
            f"{owner} has no profile {profile!r}; its profiles are: {', '.join(profiles)}"
        )
    values = {p.name: p.default for p in declared}
    for source in (profiles.get(profile, {}), overrides):
        for key, raw in source.items():
            if key not in by_name:
                raise ParameterError(
                    f"{owner} has no parameter {key!r}; its parameters are: "
                    f"{', '.join(sorted(by_name)) or '(none)'}"
                )
            values[key] = by_name[key].parse(raw, owner)
    return values


def stable_hash(obj: Any, length: int = 12) -> str:
    """A short content hash of a JSON-serialisable object (keys sorted)."""
    blob = json.dumps(obj, sort_keys=True, default=_json_default).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)


def split_key(key: str, known_scopes: Iterable[str]) -> tuple[str, str]:
    """``"acol.delta"`` -> ``("acol", "delta")``; the scope must be a known name."""
    if "." not in key:
        raise ParameterError(
            f"--set/--sweep key {key!r} has no scope; write <plugin>.<param>, weak.<param> "
            "or train.<param>, e.g. acol.delta=0.6"
        )
    scope, name = key.split(".", 1)
    known = sorted(set(known_scopes))
    if scope not in known:
        raise ParameterError(
            f"--set/--sweep key {key!r}: unknown scope {scope!r}; "
            f"valid scopes are: {', '.join(known)}"
        )
    return scope, name


def scoped_sets(pairs: Mapping[str, Any], scopes: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``{"acol.delta": "0.6"}`` -> ``{"acol": {"delta": "0.6"}}``: what ``--set`` means in
    ``run``, ``data check`` and ``data synth`` alike (every key is ``<plugin>.<param>``)."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in pairs.items():
        scope, name = split_key(key, scopes)
        out.setdefault(scope, {})[name] = value
    return out


def parse_assignment(text: str, flag: str) -> tuple[str, str]:
    """``"KEY=VALUE"`` -> ``(KEY, VALUE)`` with a clear error for anything else."""
    if "=" not in text or text.startswith("="):
        raise ParameterError(
            f"{flag} {text!r} must look like KEY=VALUE, e.g. {flag} acol.delta=0.6"
        )
    key, value = text.split("=", 1)
    return key.strip(), value.strip()
