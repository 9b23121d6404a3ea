"""The emulator's clock: wall time in ns, never going backwards."""

from __future__ import annotations

import time
from collections.abc import Callable

from mmkit.core.types import NS_PER_MS


class Clock:
    def __init__(self, source: Callable[[], int] = time.time_ns) -> None:
        self._source = source
        self._last = 0

    def now_ns(self) -> int:
        t = self._source()
        if t <= self._last:
            t = self._last + 1
        self._last = t
        return t

    def now_ms(self) -> int:
        return self.now_ns() // NS_PER_MS


__all__ = ["Clock"]
