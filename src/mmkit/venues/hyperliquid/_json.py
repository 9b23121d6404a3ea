"""Checked access to venue JSON: every failure is a VenueError naming endpoint and field."""

from __future__ import annotations

import math
import reprlib
from collections.abc import Mapping, Sequence
from typing import Any

from mmkit import safejson
from mmkit.core.types import Side
from mmkit.errors import VenueError


class ReplyError(VenueError):
    """A venue reply that does not have the documented shape."""

    def __init__(self, endpoint: str, field: str, problem: str) -> None:
        self.endpoint = endpoint
        self.field = field
        super().__init__(f"Hyperliquid {endpoint}: field {field or '(root)'}: {problem}")


_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxstring = 60
_REPR.maxlong = 40
_REPR.maxother = 60


def _show(value: object) -> str:
    """A short, bounded rendering of a bad value (never recurses into deep input)."""
    try:
        text = _REPR.repr(value)
    except (RecursionError, ValueError):  # ValueError: int too long to render
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 80 else text[:77] + "..."


class Reader:
    """Reads one reply of ``endpoint``; ``path`` names the field for error messages."""

    __slots__ = ("endpoint",)

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def fail(self, path: str, problem: str) -> ReplyError:
        return ReplyError(self.endpoint, path, problem)

    def loads(self, text: str | bytes, what: str = "body") -> Any:
        """Decode ``text`` with :func:`mmkit.safejson.loads` (64-bit integers, finite
        numbers, bounded nesting); any refusal is a :class:`ReplyError` of this endpoint."""
        try:
            return safejson.loads(text)
        except safejson.JsonRefused as exc:
            raise self.fail("", f"{what} refused: {exc} ({_show(text[:60])})") from None

    def obj(self, value: object, path: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(path, f"expected an object, got {_show(value)}")
        return value

    def arr(self, value: object, path: str) -> Sequence[Any]:
        if not isinstance(value, list | tuple):
            raise self.fail(path, f"expected a list, got {_show(value)}")
        return value

    def get(self, d: Mapping[str, Any], key: str, path: str) -> Any:
        if key not in d:
            raise self.fail(f"{path}.{key}" if path else key, "missing")
        return d[key]

    def string(self, d: Mapping[str, Any], key: str, path: str) -> str:
        v = self.get(d, key, path)
        if not isinstance(v, str):
            raise self.fail(f"{path}.{key}", f"expected a string, got {_show(v)}")
        return v

    def integer(self, d: Mapping[str, Any], key: str, path: str) -> int:
        v = self.get(d, key, path)
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.fail(f"{path}.{key}", f"expected an integer, got {_show(v)}")
        if not safejson.in_i64(v):
            raise self.fail(f"{path}.{key}", "integer outside the signed 64-bit range")
        return v

    def time_ns(self, d: Mapping[str, Any], key: str, path: str) -> int:
        """A venue time in ms (integer, >= 0) as ns, refused unless the ns fit 64 bits."""
        ms = self.integer(d, key, path)
        if not 0 <= ms <= safejson.I64_MAX // 1_000_000:
            raise self.fail(f"{path}.{key}", f"time {ms} ms is outside [0, 2^63) ns")
        return ms * 1_000_000

    def boolean(self, d: Mapping[str, Any], key: str, path: str, default: bool = False) -> bool:
        if key not in d or d[key] is None:
            return default
        v = d[key]
        if not isinstance(v, bool):
            raise self.fail(f"{path}.{key}", f"expected true/false, got {_show(v)}")
        return v

    def decimal(self, d: Mapping[str, Any], key: str, path: str) -> float:
        """A decimal string (the venue's number format) as a finite float."""
        v = self.get(d, key, path)
        if isinstance(v, bool) or not isinstance(v, str | int | float):
            raise self.fail(f"{path}.{key}", f"expected a decimal string, got {_show(v)}")
        if isinstance(v, str) and len(v) > 64:
            raise self.fail(f"{path}.{key}", f"decimal string of {len(v)} characters refused")
        try:
            x = float(v)
        except (ValueError, OverflowError):  # OverflowError: an int beyond float range
            raise self.fail(f"{path}.{key}", f"not a number: {_show(v)}") from None
        if not math.isfinite(x):
            raise self.fail(f"{path}.{key}", f"not finite: {_show(v)}")
        return x

    def side(self, d: Mapping[str, Any], key: str, path: str) -> Side:
        v = self.get(d, key, path)
        if v == "B":
            return Side.BUY
        if v == "A":
            return Side.SELL
        raise self.fail(f"{path}.{key}", f"expected 'B' or 'A', got {_show(v)}")

    def cloid(self, d: Mapping[str, Any], key: str, path: str) -> str | None:
        v = d.get(key)
        if v is None:
            return None
        if not isinstance(v, str):
            raise self.fail(f"{path}.{key}", f"expected a cloid string, got {_show(v)}")
        return v


def ms_to_ns(ms: int) -> int:
    """Venue milliseconds as ns (callers reading JSON use :meth:`Reader.time_ns`, which
    checks the range)."""
    return ms * 1_000_000


__all__ = ["Reader", "ReplyError", "ms_to_ns"]
