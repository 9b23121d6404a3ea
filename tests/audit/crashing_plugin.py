"""A test plugin: the estimator ``segfault_vol`` crashes the process at its 40th estimate,
as a plugin's compiled code can (a read of address 0: SIGSEGV, no Python exception)."""

from __future__ import annotations

import ctypes
import itertools
from typing import Any

from mmkit import hookimpl
from mmkit.components import Estimates
from mmkit.core.events import Event

CRASH_AT = 40


class SegfaultVol:
    """Publishes nothing; its ``CRASH_AT``-th estimate reads address 0."""

    def __init__(self) -> None:
        self._estimates = itertools.count(1)

    def on_event(self, event: Event, now_ns: int) -> None:
        return None

    def estimate(self, out: Estimates, now_ns: int) -> None:
        if next(self._estimates) == CRASH_AT:
            ctypes.string_at(0)  # the process dies of SIGSEGV


@hookimpl
def register_estimators(register: Any) -> None:
    register("segfault_vol", lambda ctx: SegfaultVol(), description="dies at its 40th estimate")
