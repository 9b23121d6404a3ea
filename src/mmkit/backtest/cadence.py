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
