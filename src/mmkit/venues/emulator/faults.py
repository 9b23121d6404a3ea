"""The emulator's faults: their state, and scenario files.

Faults are switched on by the control endpoint (``POST /_control``) or by the timed steps of
a scenario file (TOML)::

    [[step]]
    at = 2.0              # seconds after the emulator started
    fault = "ws_drop"

    [[step]]
    at = 4.0
    fault = "http_5xx"
    duration = 1.5        # seconds; faults with a duration end by themselves
    status = 502
    when = "after"        # the action is applied, then the reply is lost

Catalogue (``duration`` in seconds where it applies):

=================== ==========================================================================
``ws_drop``         every WebSocket connection is cut (``abrupt = true``: no close frame)
``stall``           current connections stay open but mute: no data, no pong (``duration``)
``stale_book``      ``l2Book``/``bbo`` stop updating (``/info l2Book`` too)
``crossed_book``    the published book is crossed (best bid above best ask)
``delay_updates``   ``orderUpdates``/``userFills``/``user`` messages arrive ``delay_s`` late
``reorder_updates`` user messages within ``window_s`` are sent in reverse order
``fill_race``       a cancel or modify of a resting order loses the race against a fill
``http_429``        every REST request is answered HTTP 429 (a 429 storm)
``http_5xx``        REST requests fail with ``status`` (``when = "after"``: applied first)
``post_only``       maintenance: only post-only (ALO) orders are accepted
``restart``         the server restarts: every connection is dropped, REST and WS refuse for
                    ``down_s``; orders and positions persist
``http_timeout``    REST requests hang ``hang_s`` seconds (longer than the client's request
                    timeout) before any answer; ``when = "before"``: the action is *not*
                    applied (the hang ends in HTTP 504), ``"after"``: it is applied, the reply
                    comes only after the hang (a client that timed out never sees it)
``bad_frame``       every WebSocket client gets, once, a frame that is not JSON and then JSON
                    messages of known channels (``l2Book``, ``trades``) with broken fields
=================== ==========================================================================

The names, parameters, validation (:func:`check_fault`) and texts come from the one fault
catalogue, :mod:`mmkit.venues.faults`, which the in-process audit harness shares.

``stale_book`` is the *book-only stall*: the published ``l2Book``/``bbo`` freeze while the
``trades`` channel (and matching against the true book) keeps going, so a client that judges
data freshness by its freshest stream does not notice.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmkit.errors import ConfigError
from mmkit.venues.faults import (
    CATALOGUE,
    MAX_DOWN_S,
    MAX_DURATION_S,
    MAX_HANG_S,
    POST_ONLY_MESSAGE,
    check_fault,
)


@dataclass
class FaultState:
    """Which timed faults are on (until a monotonic deadline) and with which parameters."""

    until: dict[str, float] = field(default_factory=dict)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    history: list[tuple[float, str]] = field(default_factory=list)

    def arm(self, name: str, params: dict[str, Any], now: float) -> None:
        self.params[name] = params
        self.history.append((now, name))
        if "duration" in params:
            self.until[name] = now + float(params["duration"])

    def active(self, name: str, now: float) -> bool:
        t = self.until.get(name)
        if t is None:
            return False
        if now >= t:
            del self.until[name]
            return False
        return True

    def param(self, name: str, key: str) -> Any:
        return self.params.get(name, CATALOGUE[name][1]).get(key, CATALOGUE[name][1].get(key))

    def clear(self, name: str | None = None) -> None:
        if name is None:
            self.until.clear()
        else:
            self.until.pop(name, None)

    def on(self, now: float) -> list[str]:
        return [n for n in list(self.until) if self.active(n, now)]


@dataclass(frozen=True)
class Step:
    at_s: float
    fault: str
    params: dict[str, Any]


def parse_scenario(obj: Any, where: str) -> list[Step]:
    if not isinstance(obj, dict) or not isinstance(obj.get("step"), list):
        raise ConfigError([f"{where}: expected [[step]] tables (at = seconds, fault = name)"])
    steps = []
    for i, raw in enumerate(obj["step"]):
        w = f"{where}: step {i + 1}"
        if not isinstance(raw, dict):
            raise ConfigError([f"{w}: expected a table"])
        at = raw.get("at")
        if isinstance(at, bool) or not isinstance(at, int | float) or not 0 <= at < math.inf:
            raise ConfigError([f"{w}: at = {at!r} must be a number of seconds >= 0"])
        name = raw.get("fault")
        if not isinstance(name, str):
            raise ConfigError([f"{w}: fault = {name!r} must name a fault"])
        params = {k: v for k, v in raw.items() if k not in ("at", "fault")}
        steps.append(Step(float(at), name, check_fault(name, params, w)))
    return sorted(steps, key=lambda s: s.at_s)


#: when a fault named on the command line without ``@seconds`` fires
DEFAULT_AT_S = 3.0

#: one item of an inline scenario: a fault-like name (letters, digits, underscores), then
#: optionally ``@`` and anything up to the next comma (the start, checked as seconds)
_INLINE_ITEM = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:@([^,]*))?")


def inline_scenario(spec: str) -> list[Step] | None:
    """``"ws_drop@5,restart@10"`` (fault names with optional start seconds, default
    parameters) as steps, or None when ``spec`` does not have that shape (a name with a dot
    or a slash, e.g. ``faults.toml``: a file path). A value of that shape is inline, so a
    name that is not a fault is a :class:`ConfigError` listing the known ones."""
    items = [_INLINE_ITEM.fullmatch(part) for part in spec.split(",")]
    if not all(items):
        return None
    where = f"scenario {spec!r}"
    steps, problems = [], []
    for m in items:
        assert m is not None
        name, at = m.group(1), (m.group(2) or "").strip()
        if name not in CATALOGUE:
            problems.append(f"{where}: unknown fault {name!r}; known: {', '.join(CATALOGUE)}")
            continue
        try:
            at_s = float(at) if at else DEFAULT_AT_S
        except ValueError:
            problems.append(f"{where}: {at!r} after '@' is not seconds")
            continue
        if not 0 <= at_s < math.inf:
            problems.append(f"{where}: start {at!r} must be a finite number of seconds >= 0")
            continue
        steps.append(Step(at_s, name, check_fault(name, {}, where)))
    if problems:
        raise ConfigError(problems)
    return sorted(steps, key=lambda s: s.at_s)


def load_scenario(path: str | Path) -> list[Step]:
    """Steps of a TOML scenario file, or of an inline list of fault names (see
    :func:`inline_scenario`). A file by that name is read as a scenario file; otherwise a
    value of the inline shape is inline; anything else is a file path."""
    p = Path(path)
    if not p.exists():
        inline = inline_scenario(str(path))
        if inline is not None:
            return inline
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"scenario {str(p)!r}: cannot read: {exc.strerror}"]) from None
    try:
        obj = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"scenario {str(p)!r}: not valid TOML: {exc}"]) from None
    return parse_scenario(obj, f"scenario {str(p)!r}")


__all__ = [
    "CATALOGUE",
    "MAX_DOWN_S",
    "MAX_DURATION_S",
    "MAX_HANG_S",
    "POST_ONLY_MESSAGE",
    "FaultState",
    "Step",
    "check_fault",
    "inline_scenario",
    "load_scenario",
    "parse_scenario",
]
