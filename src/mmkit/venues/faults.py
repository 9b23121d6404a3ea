"""The one catalogue of exchange faults: names, parameters, validation and texts.

Two layers inject faults into an mmkit stack, and both describe them from this module:

* the loopback **emulator** (:mod:`mmkit.venues.emulator.faults`): timed faults switched on by
  ``POST /_control`` or by scenario files, over real sockets;
* the in-process **audit harness** (:class:`mmkit.audit.harness.FakeVenue`): deterministic
  knobs that act on the next requests.

:data:`FAULTS` lists every fault once, with its emulator parameters (``defaults``; ``timed``
faults also take ``duration`` in seconds), the harness knob that produces the same effect in
process (``knob``, ``None`` when only the emulator has it) and what it does. ``layers`` says
who implements it. :func:`check_fault` validates an emulator fault's parameters;
:func:`check_count`, :func:`check_retry_after_s`, :func:`check_extra_ns` and
:func:`check_modify_failure` validate the harness knobs' arguments. The texts a faulty
exchange answers with (HTTP 429, a lost reply, a dropped connection, maintenance) are here
too, so a test that matches on them and the layer that produces them share one spelling.

Standard library and :mod:`mmkit.errors` only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from mmkit.errors import ConfigError

Layer = Literal["emulator", "harness"]

#: reason phrase of HTTP 429 (the status line's text)
HTTP_429_TEXT = "429 Too Many Requests"
#: an action refused with HTTP 429, as the harness reports it in ``ActionResult.message``
RATE_LIMITED_TEXT = "HTTP " + HTTP_429_TEXT
#: the request was sent but no reply came (the action may or may not have been applied)
TIMEOUT_TEXT = "timeout"
#: the connection was down: the request never reached the exchange
CONNECTION_LOST_TEXT = "connection lost"
#: maintenance reply to a non-ALO order (the venue's exact text is not documented)
POST_ONLY_MESSAGE = "Only post-only orders are allowed during maintenance."

#: bounds that keep faults finite: the longest hang of ``http_timeout`` and down time of
#: ``restart`` (seconds), and the longest ``duration`` of a timed fault
MAX_HANG_S = 120.0
MAX_DOWN_S = 120.0
MAX_DURATION_S = 3600.0
DEFAULT_DURATION_S = 2.0
#: the longest ``Retry-After`` a harness 429 may carry, and the longest extra reply delay
MAX_RETRY_AFTER_S = 3600.0
MAX_EXTRA_NS = 3_600_000_000_000
#: the most requests one harness knob may affect at once
MAX_COUNT = 1_000_000
WHENS = ("before", "after")
#: how a harness modify can fail (``fail_next_modify``): the target fills first (the
#: emulator's ``fill_race``), the venue cancels it first, or the cancel leg is done and the
#: replacement is refused (``Error placing new order during modify: ...``)
MODIFY_FAILURES = ("target_filled", "target_canceled", "place_failed")


@dataclass(frozen=True)
class Fault:
    """One fault of the catalogue.

    ``defaults`` are the emulator's parameters (a ``timed`` fault also takes ``duration``,
    seconds); ``knob`` is the :class:`~mmkit.audit.harness.FakeVenue` method with the same
    effect in process.
    """

    name: str
    layers: frozenset[Layer]
    text: str
    timed: bool = False
    defaults: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    knob: str | None = None


def _f(
    name: str,
    layers: tuple[Layer, ...],
    text: str,
    *,
    timed: bool = False,
    knob: str | None = None,
    **defaults: Any,
) -> Fault:
    return Fault(name, frozenset(layers), text, timed, MappingProxyType(defaults), knob)


_BOTH: tuple[Layer, ...] = ("emulator", "harness")
_EMU: tuple[Layer, ...] = ("emulator",)
_HARNESS: tuple[Layer, ...] = ("harness",)

#: every fault, emulator and harness, by name
FAULTS: Mapping[str, Fault] = MappingProxyType(
    {
        f.name: f
        for f in (
            _f("ws_drop", _EMU, "every WebSocket connection is cut", abrupt=False),
            _f("stall", _EMU, "connections stay open but mute: no data, no pong", timed=True),
            _f("stale_book", _EMU, "the published book stops updating", timed=True),
            _f("crossed_book", _EMU, "the published book is crossed", timed=True),
            _f(
                "delay_updates",
                _BOTH,
                "replies and user messages arrive late (harness: by extra_ns)",
                timed=True,
                knob="delay_next_acks",
                delay_s=0.5,
            ),
            _f(
                "reorder_updates",
                _BOTH,
                "user messages arrive out of order (harness: every drained batch shuffled)",
                timed=True,
                knob="reorder",
                window_s=0.2,
            ),
            _f(
                "fill_race",
                _BOTH,
                "a cancel or modify of a resting order loses the race against a fill",
                timed=True,
                knob="fail_next_modify",
            ),
            _f(
                "http_429",
                _BOTH,
                f"requests are answered HTTP {HTTP_429_TEXT} (harness: with Retry-After)",
                timed=True,
                knob="rate_limit_next",
            ),
            _f(
                "http_5xx",
                _EMU,
                "REST requests fail with a 5xx status (when = after: applied first)",
                timed=True,
                status=502,
                when="before",
            ),
            _f(
                "post_only",
                _BOTH,
                "maintenance: only post-only (ALO) orders are accepted",
                timed=True,
                knob="maintenance_post_only",
            ),
            _f(
                "restart",
                _BOTH,
                "the exchange is unreachable, then back; orders and positions persist "
                "(harness: disconnect/reconnect, events of the down time are lost)",
                knob="disconnect",
                down_s=1.0,
            ),
            _f(
                "http_timeout",
                _BOTH,
                "no reply comes; when = before: not applied, after: applied "
                "(harness: lose_next_acks(applied=...))",
                timed=True,
                knob="lose_next_acks",
                when="before",
                hang_s=15.0,
            ),
            _f("bad_frame", _EMU, "a frame that is not JSON, then broken messages"),
            _f(
                "dropped_ack",
                _HARNESS,
                "the order action is applied but never answered at all",
                knob="drop_next_acks",
            ),
            _f(
                "reject",
                _HARNESS,
                "the next orders (or every order on a side) are refused with a reason",
                knob="reject_next",
            ),
            _f(
                "ip_weight",
                _HARNESS,
                "requests over the rolling minute's IP weight limit get HTTP 429",
                knob="ip_limit",
            ),
            _f(
                "lost_events",
                _HARNESS,
                "every undelivered event is lost (a restart of our side)",
                knob="drop_pending",
            ),
            _f(
                "external",
                _HARNESS,
                "venue-side fills, cancels and liquidations of our account",
                knob="external_fill",
            ),
        )
    }
)

#: the emulator's faults: name -> (has a duration, default parameters)
CATALOGUE: dict[str, tuple[bool, dict[str, Any]]] = {
    f.name: (f.timed, dict(f.defaults)) for f in FAULTS.values() if "emulator" in f.layers
}


def check_fault(name: str, params: dict[str, Any], where: str) -> dict[str, Any]:
    """An emulator fault's parameters with defaults filled in and every one checked;
    :class:`ConfigError` naming ``where`` and the offending key."""
    if name not in CATALOGUE:
        raise ConfigError([f"{where}: unknown fault {name!r}; known: {', '.join(CATALOGUE)}"])
    timed, defaults = CATALOGUE[name]
    out = dict(defaults)
    problems = []
    for k, v in params.items():
        if k == "duration" and timed:
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v <= MAX_DURATION_S:
                span = f"(0, {MAX_DURATION_S:g}]"
                problems.append(f"{where}: duration {v!r} must be a number of seconds in {span}")
            else:
                out[k] = float(v)
        elif k in defaults:
            if type(v) is not type(defaults[k]) and not (
                isinstance(defaults[k], float) and isinstance(v, int) and not isinstance(v, bool)
            ):
                problems.append(f"{where}: {k} = {v!r} should be a {type(defaults[k]).__name__}")
            out[k] = v
        else:
            allowed = (["duration"] if timed else []) + list(defaults)
            problems.append(f"{where}: fault {name!r} has no parameter {k!r} (has: {allowed})")
    if name == "http_5xx" and not problems and not 500 <= int(out["status"]) <= 599:
        problems.append(f"{where}: status {out['status']} is not a 5xx code")
    if name in ("http_5xx", "http_timeout") and not problems and out["when"] not in WHENS:
        problems.append(f"{where}: when = {out['when']!r} must be 'before' or 'after'")
    for key, bound in (("hang_s", MAX_HANG_S), ("down_s", MAX_DOWN_S)):
        if key in out and not problems and not 0 < float(out[key]) <= bound:
            problems.append(f"{where}: {key} = {out[key]!r} must be seconds in (0, {bound:g}]")
    if problems:
        raise ConfigError(problems)
    if timed:
        out.setdefault("duration", DEFAULT_DURATION_S)
    return out


def check_count(n: object, knob: str) -> int:
    """A harness knob's request count: an int in ``[0, MAX_COUNT]``."""
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_COUNT:
        raise ConfigError([f"fault knob {knob}: n = {n!r} must be an int in [0, {MAX_COUNT}]"])
    return n


def check_retry_after_s(s: object, knob: str = "rate_limit_next") -> float | None:
    """``Retry-After`` of a harness 429 in seconds (``None``: the reply carries none)."""
    if s is None:
        return None
    if (
        isinstance(s, bool)
        or not isinstance(s, int | float)
        or not math.isfinite(s)
        or not 0 <= s <= MAX_RETRY_AFTER_S
    ):
        span = f"[0, {MAX_RETRY_AFTER_S:g}]"
        raise ConfigError([f"fault knob {knob}: retry_after_s = {s!r} must be seconds in {span}"])
    return float(s)


def check_extra_ns(ns: object, knob: str = "delay_next_acks") -> int:
    """An extra reply delay of the harness in nanoseconds: an int in ``[0, MAX_EXTRA_NS]``."""
    if isinstance(ns, bool) or not isinstance(ns, int) or not 0 <= ns <= MAX_EXTRA_NS:
        raise ConfigError(
            [f"fault knob {knob}: extra_ns = {ns!r} must be an int of ns in [0, {MAX_EXTRA_NS}]"]
        )
    return ns


def check_modify_failure(kind: object) -> str:
    """A harness modify failure: one of :data:`MODIFY_FAILURES`."""
    if not isinstance(kind, str) or kind not in MODIFY_FAILURES:
        raise ValueError(f"unknown modify failure {kind!r}; known: {', '.join(MODIFY_FAILURES)}")
    return kind


def rate_limited_message(retry_after_s: float | None = None) -> str:
    """The harness's text of an action refused with HTTP 429 (``Retry-After: <s>`` when given)."""
    if retry_after_s is None:
        return RATE_LIMITED_TEXT
    return f"{RATE_LIMITED_TEXT} Retry-After: {retry_after_s:g}"


__all__ = [
    "CATALOGUE",
    "CONNECTION_LOST_TEXT",
    "DEFAULT_DURATION_S",
    "FAULTS",
    "HTTP_429_TEXT",
    "MAX_DOWN_S",
    "MAX_DURATION_S",
    "MAX_HANG_S",
    "MODIFY_FAILURES",
    "POST_ONLY_MESSAGE",
    "RATE_LIMITED_TEXT",
    "TIMEOUT_TEXT",
    "WHENS",
    "Fault",
    "check_count",
    "check_extra_ns",
    "check_fault",
    "check_modify_failure",
    "check_retry_after_s",
    "rate_limited_message",
]
