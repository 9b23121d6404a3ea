"""Backtest cadences: how often the engine runs while the market is replayed.

Light at import (no numpy, no engine), so the CLI and the sweep file parser can validate a
cadence before anything heavy loads.

* ``event``: the engine sees every market event (requotes limited by the executor's minimum
  interval);
* ``timer``: the engine requotes every ``--requote-ms``; the simulated exchange applies the
  market in bulk in between.

``kernel`` was removed: it was a second, simplified strategy in one numba kernel that
bypassed the configured plugins (no estimators, gates or executor), so its figures were
never the engine's. It survives as a benchmark reference in ``benchmarks/_fast_glft.py``.
"""

from __future__ import annotations

from typing import Literal

from mmkit.errors import ConfigError

Cadence = Literal["event", "timer"]

#: the cadences ``mmkit backtest --cadence`` and ``[sweep] cadence`` accept
CADENCES: tuple[Cadence, ...] = ("event", "timer")

#: removed cadences -> why, and what to use instead
REMOVED: dict[str, str] = {
    "kernel": (
        "was removed: it ran a separate simplified numba strategy that bypassed the "
        "configured plugins (estimators, gates, executor), so its figures were not the "
        "engine's; use 'timer' (the engine, market applied in bulk between requotes; "
        "the simplified strategy remains a benchmark reference in benchmarks/_fast_glft.py)"
    )
}


def check_cadence(value: object, where: str = "--cadence") -> Cadence:
    """``value`` as a :data:`Cadence`, or a :class:`ConfigError` that names ``where`` (the
    option or config key the value came from) and the accepted values."""
    if isinstance(value, str) and value in CADENCES:
        return value  # narrowed to Cadence by the membership test
    if isinstance(value, str) and value in REMOVED:
        raise ConfigError([f"{where} {value!r} {REMOVED[value]}"])
    raise ConfigError([f"{where} {value!r}: choose {' or '.join(CADENCES)}"])


#: the longest requote period a backtest takes (ms; ~116 days): the engine's clock is an
#: int64 of nanoseconds, which a 1e300 ms step overflowed at once (this one needs hundreds)
MAX_REQUOTE_MS = 1e10
#: the shortest: one nanosecond, the engine clock's unit (a shorter step never advances it)
MIN_REQUOTE_MS = 1e-6


def _real(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def check_requote_ms(value: object, where: str = "--requote-ms") -> float | None:
    """A backtest's requote period in ms (None: the engine's ``timer_ms``), or a
    :class:`ConfigError` naming ``where``: a negative, zero, NaN or sub-nanosecond period
    never advances the clock (the run would not end), an enormous one overflows it."""
    if value is None:
        return None
    ms = _real(value)
    if ms is None or not MIN_REQUOTE_MS <= ms <= MAX_REQUOTE_MS:
        raise ConfigError(
            [
                f"{where} {value!r}: a period in milliseconds from {MIN_REQUOTE_MS:g} "
                f"(one nanosecond) to {MAX_REQUOTE_MS:g}"
            ]
        )
    return ms


def check_duration_s(value: object, where: str = "--duration") -> float:
    """A backtest's length cap in simulated seconds (None: all of the data, ``inf``), or a
    :class:`ConfigError` naming ``where`` for a value that is not a number > 0."""
    if value is None:
        return float("inf")
    s = _real(value)
    if s is None or not s > 0:  # NaN fails this too
        raise ConfigError([f"{where} {value!r}: a number of seconds > 0 (omit it for all data)"])
    return s
