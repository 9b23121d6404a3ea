"""Comparing a component's outputs with its twin's (what ``twins.equivalence`` asserts).

Exact by default: floats compare with ``==`` and NaN equals NaN. A twin module may state
``TWIN_TOLERANCE`` (relative, with its reason in the module) for floating-point
reassociation; :func:`tolerance_of` reads it and every float comparison then allows it.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any


def tolerance_of(twin: object) -> float:
    """The relative tolerance the twin's module states (``TWIN_TOLERANCE``), 0.0 if none;
    a stated value that is not a finite number in [0, 1e-6] counts as 0.0 (exact): a twin
    cannot buy itself a loose comparison."""
    mod = sys.modules.get(type(twin).__module__)
    tol = getattr(mod, "TWIN_TOLERANCE", 0.0)
    if isinstance(tol, float | int) and math.isfinite(tol) and 0.0 <= tol <= 1e-6:
        return float(tol)
    return 0.0


def same(a: Any, b: Any, tol: float = 0.0) -> bool:
    """``a`` equals ``b``: floats exactly (NaN equal to NaN) or within ``tol`` relative;
    anything else with ``==``."""
    if isinstance(a, float) and isinstance(b, float):
        if a != a or b != b:
            return a != a and b != b
        return a == b or (tol > 0.0 and math.isclose(a, b, rel_tol=tol, abs_tol=0.0))
    if type(a) is not type(b) and not (isinstance(a, int | float) and isinstance(b, int | float)):
        return False
    return bool(a == b)


def identical(a: Any, b: Any) -> bool:
    """Equal and of the same type, floats bit for bit in value: NaN equals NaN, and a zero
    equals a zero of the same sign only; tuples and lists element by element. The strictest
    comparison, for a twin's attributes (``same`` is the one for outputs)."""
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return (
            type(a) is type(b)
            and len(a) == len(b)
            and all(identical(x, y) for x, y in zip(a, b, strict=True))
        )
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if a != a:
            return bool(b != b)
        return bool(a == b) and math.copysign(1.0, a) == math.copysign(1.0, b)
    return bool(a == b)


def estimates_diff(
    ref: Any, twin: Any, tol: float = 0.0, names: tuple[str, str] = ("reference", "twin")
) -> list[str]:
    """Fields and extras in which two :class:`~mmkit.components.Estimates` differ, each side
    called by its name in ``names``."""
    a_is, b_is = names
    out = [
        f"{name}: {a_is} {getattr(ref, name)!r} != {b_is} {getattr(twin, name)!r}"
        for name in ref.__slots__
        if name != "extras" and not same(getattr(ref, name), getattr(twin, name), tol)
    ]
    for key in sorted(set(ref.extras) | set(twin.extras)):
        a, b = ref.extras.get(key, "(absent)"), twin.extras.get(key, "(absent)")
        if not same(a, b, tol):
            out.append(f"extras[{key!r}]: {a_is} {a!r} != {b_is} {b!r}")
    return out


def decision_diff(
    ref: Any, twin: Any, tol: float = 0.0, names: tuple[str, str] = ("reference", "twin")
) -> str:
    """How two gate decisions (or None: open) differ, each side called by its name in
    ``names``; "" when they agree."""
    differ = f"{names[0]} {ref!r} != {names[1]} {twin!r}"
    if ref is None or twin is None:
        return "" if ref is twin else differ
    same_head = (ref.gate, ref.reason, ref.mode, ref.emergency) == (
        twin.gate,
        twin.reason,
        twin.mode,
        twin.emergency,
    )
    same_detail = _mapping_same(ref.detail, twin.detail, tol)
    return "" if same_head and same_detail else differ


def _mapping_same(a: Mapping[str, Any], b: Mapping[str, Any], tol: float) -> bool:
    return set(a) == set(b) and all(same(a[k], b[k], tol) for k in a)


def ladder_diff(ref: Any, twin: Any, tol: float = 0.0) -> str:
    """How two ladders differ (side by side, level by level); "" when they agree."""
    for side, a, b in (("bids", ref.bids, twin.bids), ("asks", ref.asks, twin.asks)):
        if len(a) != len(b):
            return f"{side}: reference has {len(a)} levels, twin {len(b)}: {a!r} != {b!r}"
        for qa, qb in zip(a, b, strict=True):
            if not (
                qa.side is qb.side
                and qa.level == qb.level
                and same(qa.px, qb.px, tol)
                and same(qa.sz, qb.sz, tol)
            ):
                return f"{side} level {qa.level}: reference {qa!r} != twin {qb!r}"
    return ""


def _fields(obj: Any) -> dict[str, Any]:
    """An object's fields by name: a dataclass's (or a tuple record's) declared fields,
    else its slots, else its attributes."""
    if dataclasses.is_dataclass(obj):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    slots = getattr(type(obj), "__slots__", None)
    if slots is not None:
        names: Sequence[str] = [slots] if isinstance(slots, str) else list(slots)
        return {n: getattr(obj, n) for n in names if hasattr(obj, n)}
    return dict(vars(obj))


def actions_diff(ref: Sequence[Any], twin: Sequence[Any], tol: float = 0.0) -> str:
    """How two action lists differ (type, order and every field); "" when they agree."""
    if len(ref) != len(twin):
        return f"reference sent {len(ref)} actions, twin {len(twin)}: {ref!r} != {twin!r}"
    for i, (a, b) in enumerate(zip(ref, twin, strict=True)):
        if type(a) is not type(b):
            return f"action {i}: reference {a!r} != twin {b!r}"
        fa, fb = _fields(a), _fields(b)
        if set(fa) != set(fb) or not all(_value_same(fa[k], fb[k], tol) for k in fa):
            return f"action {i}: reference {a!r} != twin {b!r}"
    return ""


def _value_same(a: Any, b: Any, tol: float) -> bool:
    # dataclasses first: an action is a tuple record, compared by class and field, never
    # element by element with a record of another class
    if hasattr(a, "__dataclass_fields__") or hasattr(b, "__dataclass_fields__"):
        if type(a) is not type(b):
            return False
        fa, fb = _fields(a), _fields(b)
        return all(_value_same(fa[k], fb[k], tol) for k in fa)
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(_value_same(x, y, tol) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return set(a) == set(b) and all(_value_same(a[k], b[k], tol) for k in a)
    return same(a, b, tol)
