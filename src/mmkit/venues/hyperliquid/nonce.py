"""A strictly increasing nonce source, fast-forwarded to the current time in ms.

The venue keeps the 100 highest nonces per signer and wants each new one unused, above the
smallest kept and within (now - 2 days, now + 1 day) (reference §7.3). ``next()`` returns
``max(last + 1, now_ms)``: it follows the clock, never repeats, and never goes backwards even
if the clock does. One source per signing key and process; it is safe to share between
threads and asyncio tasks (no ``await`` inside, a lock around the update).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class NonceSource:
    __slots__ = ("_clock_ms", "_last", "_lock")

    def __init__(self, clock_ms: Callable[[], int] = _wall_ms, start: int = 0) -> None:
        self._clock_ms = clock_ms
        self._last = start
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            n = max(self._last + 1, int(self._clock_ms()))
            self._last = n
            return n

    @property
    def last(self) -> int:
        return self._last

    def observe(self, used: int) -> None:
        """Never hand out ``used`` or anything below it again (e.g. a nonce burnt elsewhere)."""
        with self._lock:
            self._last = max(self._last, used)


__all__ = ["NonceSource"]
