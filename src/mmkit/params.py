"""Typed, validated component parameters.

A component declares its parameters as a dataclass whose fields use :func:`param`::

    @dataclass(frozen=True)
    class KappaParams:
        prior_strength: float = param(10.0, gt=0, help="pseudo-observations of the prior")
        window_s: float = param(600.0, gt=0, help="rolling window of observations")

:func:`build_params` turns a TOML table into an instance, collecting every problem with the
key path and a close-match suggestion for unknown keys. ``mmkit config init`` writes each
component's defaults from the same dataclasses, so the docs, the defaults and the validation
cannot drift apart. This module imports only the standard library (it runs at CLI start).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar, get_args, get_origin

T = TypeVar("T")

_MISSING = dataclasses.MISSING


def param(
    default: Any,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    help: str = "",
    secret: bool = False,
) -> Any:
    """A dataclass field with validation metadata (bounds, help text, secret flag)."""
    meta = {"ge": ge, "gt": gt, "le": le, "lt": lt, "help": help, "secret": secret}
    if isinstance(default, list | dict):
        frozen = list(default) if isinstance(default, list) else dict(default)
        return dataclasses.field(default_factory=lambda: type(frozen)(frozen), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp))
    if origin is list:
        (inner,) = get_args(tp) or (Any,)
        return f"list of {_type_name(inner)}"
    if origin is dict:
        _key, val = get_args(tp) or (str, Any)
        return f"a table of {_type_name(val)}"
    if tp is type(None):
        return "nothing (omit the key)"
    return {float: "a number", int: "an integer", bool: "true or false", str: "a string"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def _coerce(value: Any, tp: Any, path: str) -> tuple[Any, str | None]:
    """Return (value, None) if ``value`` fits ``tp`` (ints widen to float), else (None, why)."""
    origin = get_origin(tp)
    if tp is Any:
        return value, None
    if origin is Literal:
        if value in get_args(tp) and type(value) is type(
            next(a for a in get_args(tp) if a == value)
        ):
            return value, None
        close = difflib.get_close_matches(str(value), [str(a) for a in get_args(tp)], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return None, f"{path}: expected {_type_name(tp)}, got {value!r}{hint}"
    if origin in (typing.Union, types.UnionType):
        for arg in get_args(tp):
            if arg is type(None):
                continue
            v, err = _coerce(value, arg, path)
            if err is None:
                return v, None
        return None, f"{path}: expected {_type_name(tp)}, got {type(value).__name__} {value!r}"
    if origin is list:
        if not isinstance(value, list):
            return None, f"{path}: expected {_type_name(tp)}, got {type(value).__name__} {value!r}"
        (inner,) = get_args(tp) or (Any,)
        out = []
        for i, item in enumerate(value):
            v, err = _coerce(item, inner, f"{path}[{i}]")
            if err is not None:
                return None, err
            out.append(v)
        return out, None
    if origin is dict:  # a TOML sub-table: string keys, each value checked against its type
        if not isinstance(value, dict):
            return None, f"{path}: expected {_type_name(tp)}, got {type(value).__name__} {value!r}"
        _key, val_tp = get_args(tp) or (str, Any)
        table: dict[str, Any] = {}
        for k, item in value.items():
            v, err = _coerce(item, val_tp, f"{path}.{k}")
            if err is not None:
                return None, err
            table[str(k)] = v
        return table, None
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None, f"{path}: expected a number, got {type(value).__name__} {value!r}"
        return float(value), None
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            return None, f"{path}: expected an integer, got {type(value).__name__} {value!r}"
        return value, None
    if tp is bool:
        if not isinstance(value, bool):
            return None, f"{path}: expected true or false, got {type(value).__name__} {value!r}"
        return value, None
    if tp is str:
        if not isinstance(value, str):
            return None, f"{path}: expected a string, got {type(value).__name__} {value!r}"
        return value, None
    if isinstance(tp, type) and isinstance(value, tp):
        return value, None
    return None, f"{path}: expected {_type_name(tp)}, got {type(value).__name__} {value!r}"


def _check_range(value: Any, meta: Mapping[str, Any], path: str) -> str | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return f"{path}: must be a finite number, got {value!r}"
    bounds = []
    ok = True
    if meta.get("ge") is not None:
        bounds.append(f">= {meta['ge']}")
        ok &= value >= meta["ge"]
    if meta.get("gt") is not None:
        bounds.append(f"> {meta['gt']}")
        ok &= value > meta["gt"]
    if meta.get("le") is not None:
        bounds.append(f"<= {meta['le']}")
        ok &= value <= meta["le"]
    if meta.get("lt") is not None:
        bounds.append(f"< {meta['lt']}")
        ok &= value < meta["lt"]
    if not ok:
        return f"{path}: {value!r} is out of range (must be {' and '.join(bounds)})"
    return None


def option_problems(values: Mapping[str, Any], **bounds: float | None) -> list[str]:
    """Command-line options checked against bounds (``ge``, ``gt``, ``le``, ``lt``) as a
    parameter's value is: ``option_problems({"--tick": -1.0}, gt=0)`` is ``["--tick: -1.0
    is out of range (must be > 0)"]``; NaN and infinities are refused, and an option that
    was not given (``None``) passes."""
    found = (_check_range(v, bounds, k) for k, v in values.items() if v is not None)
    return [p for p in found if p is not None]


def type_hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def build_params(
    cls: type[T],
    data: Mapping[str, Any],
    path: str,
    source: Callable[[str], str] | None = None,
) -> tuple[T | None, list[str]]:
    """Validate ``data`` against the dataclass ``cls``.

    ``path`` is the dotted key path of the table (``"estimators.kappa"``); ``source(key)``
    names where a key's value came from (a file, an environment variable, a flag) and is
    prefixed to each problem. Returns ``(instance, [])`` or ``(None, problems)``.
    """
    src = source or (lambda _k: "")
    problems: list[str] = []
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    hints = type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        full = f"{path}.{key}" if path else key
        where = src(full)
        prefix = f"{where}: " if where else ""
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            known = "" if close else f" (known keys: {', '.join(sorted(fields))})"
            problems.append(f"{prefix}[{path}] unknown key {key!r}{hint}{known}")
            continue
        f = fields[key]
        v, err = _coerce(value, hints[key], full)
        if err is None:
            err = _check_range(v, f.metadata, full)
        if err is not None:
            problems.append(prefix + err)
            continue
        kwargs[key] = v
    if problems:
        return None, problems
    try:
        return cls(**kwargs), []
    except (TypeError, ValueError) as exc:  # __post_init__ cross-field checks
        return None, [f"[{path}] {exc}"]


def defaults_of(cls: type) -> dict[str, Any]:
    """The default values of a params dataclass as a TOML-ready dict (None values omitted)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.default is not _MISSING:
            v = f.default
        elif f.default_factory is not _MISSING:
            v = f.default_factory()
        else:
            continue
        if v is None:
            continue
        if isinstance(v, tuple):
            v = list(v)
        out[f.name] = v.value if hasattr(v, "value") and not isinstance(v, int | float | str) else v
    return out


def describe_fields(cls: type) -> list[tuple[str, str, str, str]]:
    """(name, type, default, help) rows for docs and ``mmkit plugins --params``."""
    hints = type_hints(cls)
    rows = []
    for f in dataclasses.fields(cls):
        default = defaults_of(cls).get(f.name, "")
        rows.append(
            (f.name, _type_name(hints[f.name]), repr(default), str(f.metadata.get("help", "")))
        )
    return rows


def secret_keys(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls) if f.metadata.get("secret")}


@dataclasses.dataclass(frozen=True)
class NoParams:
    """For components that take no parameters."""
