"""Which lane of the live order path the current request belongs to.

The live runner (:mod:`mmkit.runtime.live`) sends emergency cancels (every halt's, the kill
switch's and shutdown's) from a task of their own. That task marks its context with
:data:`EMERGENCY_LANE`; a venue client reads it to let those requests through its *local*
throttles (the wait after an HTTP 429): they are what the rate-limit reserve is for, and a
cancel that is held back leaves orders resting while the system is gated. The venue itself
still decides (a real 429 comes back as a rate-limit rejection).

A context variable (not a keyword argument threaded through every call) keeps the venue
interface unchanged: each asyncio task has its own copy, so a normal request running at the
same time on the other lane is not affected.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

#: True inside the emergency lane's task (and the tasks it starts)
EMERGENCY_LANE: ContextVar[bool] = ContextVar("mmkit_emergency_lane", default=False)


def in_emergency_lane() -> bool:
    """Whether the running code sends on the emergency lane."""
    return EMERGENCY_LANE.get()


@contextlib.contextmanager
def emergency_lane() -> Iterator[None]:
    """Mark the code inside as emergency traffic (restored on exit)."""
    token = EMERGENCY_LANE.set(True)
    try:
        yield
    finally:
        EMERGENCY_LANE.reset(token)


__all__ = ["EMERGENCY_LANE", "emergency_lane", "in_emergency_lane"]
