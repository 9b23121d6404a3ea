"""JSON decoding that refuses what no honest producer sends, before it can hurt later.

Every parser of outside input (venue replies and frames, capture files, request bodies)
decodes through :func:`loads`, which refuses, with a :class:`JsonRefused` (a ``ValueError``):

* integers outside signed 64 bits (``[-2**63, 2**63 - 1]``): ids and times are journaled in
  SQLite and stored in int64 columns, where a larger value would raise ``OverflowError``
  far from where it came in;
* number literals that are not finite as floats (``1e400``), and the non-standard
  ``NaN`` / ``Infinity`` constants Python's decoder accepts by default: a price or size that
  is not finite must never reach an event;
* nesting deeper than :data:`MAX_DEPTH` levels (the venue's deepest message nests 5): deep
  input otherwise ends in ``RecursionError`` in the decoder, ``repr`` or ``json.dumps``.

:func:`check_depth` applies the same depth rule to an already-decoded object.
"""

from __future__ import annotations

import json
import math
from typing import Any

#: the signed 64-bit range: SQLite INTEGER columns and the event store's int64 columns
I64_MIN = -(2**63)
I64_MAX = 2**63 - 1
#: deepest nesting of arrays/objects accepted (the deepest venue message nests about 5)
MAX_DEPTH = 64


class JsonRefused(ValueError):
    """Decodable but unacceptable JSON (or not JSON at all): the message says why."""


def in_i64(value: int) -> bool:
    """True when ``value`` fits a signed 64-bit integer."""
    return I64_MIN <= value <= I64_MAX


def _parse_int(text: str) -> int:
    # a 20-digit literal can still fit; more digits cannot (and int() of thousands of digits
    # is itself refused by Python), so refuse long literals before converting them
    if len(text.lstrip("-")) > 19:
        raise JsonRefused(f"integer literal of {len(text)} characters is outside 64 bits")
    value = int(text)
    if not in_i64(value):
        raise JsonRefused(f"integer {value} is outside the signed 64-bit range")
    return value


def _parse_float(text: str) -> float:
    if len(text) > 400:
        raise JsonRefused(f"number literal of {len(text)} characters refused")
    value = float(text)
    if not math.isfinite(value):
        raise JsonRefused(f"number {text[:40]} is not finite as a float")
    return value


def _parse_constant(name: str) -> Any:
    raise JsonRefused(f"{name} is not a JSON number")


def check_depth(obj: object, limit: int = MAX_DEPTH) -> None:
    """Raise :class:`JsonRefused` when ``obj`` nests lists/dicts deeper than ``limit``.

    Iterative (never recurses itself), and stops at the first too-deep container.
    """
    stack: list[tuple[object, int]] = [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list | tuple):
            children = node
        else:
            continue
        if depth > limit:
            raise JsonRefused(f"nested deeper than {limit} levels")
        for child in children:
            if isinstance(child, dict | list | tuple):
                stack.append((child, depth + 1))


def loads(text: str | bytes | bytearray) -> Any:
    """Decode one JSON document under the rules above; :class:`JsonRefused` otherwise.

    Cost: the stdlib decoder plus a Python call per integer literal; the depth walk runs
    only when the text holds more than :data:`MAX_DEPTH` opening brackets.
    """
    try:
        obj = json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
        )
    except JsonRefused:
        raise
    except RecursionError:
        raise JsonRefused(f"nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, TypeError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise JsonRefused(f"not JSON: {exc}") from None
    opening = (b"[", b"{") if isinstance(text, bytes | bytearray) else ("[", "{")
    if text.count(opening[0]) + text.count(opening[1]) > MAX_DEPTH:  # type: ignore[arg-type]
        check_depth(obj)
    return obj


__all__ = ["I64_MAX", "I64_MIN", "MAX_DEPTH", "JsonRefused", "check_depth", "in_i64", "loads"]
