"""Readable counterexamples: drawn event streams with times relative to the stream's start
and every tuple field named.

hypothesis prints a falsifying example as the raw arguments it drew (``ops=[(1250000000,
('trade', nan, 1.0, True))]``); checks ``note()`` :func:`describe_ops` of the same stream so
that a report reads::

    events (time since the drawn stream's start):
      +0.000 s  book(mid_factor=1.02)
      +1.250 s  trade(px=nan, size=1.0, buy=True)

Ops are those of :func:`mmkit.audit.invariants.estimators.adversarial_ops`: ``(time step in
ns, (name, *fields))``; an op this module does not know is shown with numbered fields.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from enum import Enum
from typing import Any

from mmkit.core.types import NS_PER_S

#: the field names of each op, in order (the op's first element is its name)
OP_FIELDS: dict[str, tuple[str, ...]] = {
    "book": ("mid_factor",),
    "raw_book": ("bids", "asks", "sizes"),
    "empty": (),
    "crossed": ("overlap",),
    "delta": ("bids", "asks", "sizes"),
    "bbo": ("bid", "ask"),
    "top": ("bid_offset", "ask_offset", "bid_size", "ask_size"),
    "leader": ("bid_offset", "ask_offset"),
    "feed": ("connected", "gap", "stream"),
    "order": ("status", "px", "size"),
    "result": ("outcome", "reason"),
    "position": ("size",),
    "trade": ("px", "size", "buy"),
    "fill": ("px", "size", "buy"),
    "timer": (),
    "trades": ("rows", "spread"),
}
#: fields holding a duration or offset in ns, shown in seconds
_NS_FIELDS = frozenset({"spread", "exch_skew"})
#: of those, the ones that are durations (no sign)
_DURATIONS = frozenset({"spread"})
#: the fields of one row of a ``trades`` op
TRADE_ROW_FIELDS: tuple[str, ...] = ("px", "size", "buy", "exch_skew")


def rel_time(ns: int) -> str:
    """A time relative to the stream's start, in seconds: ``+1.250 s``, ``-0.500 s``."""
    return f"{ns / NS_PER_S:+.3f} s"


def value_text(v: Any, ns: bool = False) -> str:
    """One field's value: enum members by name, durations in seconds, floats as repr
    (``nan``, ``inf`` and full precision), sequences element by element."""
    if isinstance(v, Enum):
        return v.name
    if isinstance(v, bool):
        return str(v)
    if ns and isinstance(v, int):
        return rel_time(v)
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else str(v)
    if isinstance(v, (list, tuple)) and not dataclasses.is_dataclass(v):  # an action: repr
        return "[" + ", ".join(value_text(x) for x in v) + "]"
    return repr(v)


def describe_op(op: Sequence[Any]) -> str:
    """``name(field=value, ...)`` of one op tuple."""
    if not op:
        return "()"
    name, args = str(op[0]), list(op[1:])
    fields = OP_FIELDS.get(name, ())
    parts = []
    for i, v in enumerate(args):
        field = fields[i] if i < len(fields) else f"arg{i + 1}"
        if name == "trades" and field == "rows" and isinstance(v, (list, tuple)):
            parts.append("rows=[" + ", ".join(_row(r) for r in v) + "]")
        elif field in _DURATIONS and isinstance(v, int) and not isinstance(v, bool):
            parts.append(f"{field}={v / NS_PER_S:.3f} s")
        else:
            parts.append(f"{field}={value_text(v, field in _NS_FIELDS)}")
    return f"{name}({', '.join(parts)})"


def _row(row: Any) -> str:
    if not isinstance(row, (list, tuple)):
        return value_text(row)
    fields = [
        f"{TRADE_ROW_FIELDS[i] if i < len(TRADE_ROW_FIELDS) else f'arg{i + 1}'}="
        f"{value_text(v, i < len(TRADE_ROW_FIELDS) and TRADE_ROW_FIELDS[i] in _NS_FIELDS)}"
        for i, v in enumerate(row)
    ]
    return "(" + ", ".join(fields) + ")"


def describe_ops(ops: Sequence[Any], title: str = "events") -> str:
    """The drawn stream, one op a line, each at its time since the stream's start (the sum of
    the time steps so far; a backwards step shows as an earlier time)."""
    lines = [f"{title} (time since the drawn stream's start):"]
    t = 0
    for item in ops:
        try:
            step, op = item
            t += int(step)
        except (TypeError, ValueError):  # not a (step, op) pair: shown as it is
            lines.append(f"  {value_text(item)}")
            continue
        # an op drawn as a tuple or list is described; a value object (an action: a tuple
        # record) is shown by its repr
        plain = isinstance(op, (tuple, list)) and not dataclasses.is_dataclass(op)
        text = describe_op(op) if plain else repr(op)
        lines.append(f"  {rel_time(t)}  {text}")
    if not ops:
        lines.append("  (none)")
    return "\n".join(lines)
