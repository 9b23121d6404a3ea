"""Run the emulator on its own event loop in a background thread (synchronous clients)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from mmkit.venues.emulator.config import EmulatorConfig
from mmkit.venues.emulator.faults import Step
from mmkit.venues.emulator.server import Emulator


class EmulatorThread:
    """Runs an :class:`Emulator` on its own event loop in a background thread (for
    synchronous clients such as the official SDK). ``call(coro_fn)`` runs a coroutine
    function on the emulator's loop and returns its result."""

    def __init__(
        self, cfg: EmulatorConfig | None = None, *, scenario: list[Step] | None = None
    ) -> None:
        self.cfg = cfg or EmulatorConfig()
        self._scenario = scenario
        self.emulator: Emulator | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self.emulator = Emulator(self.cfg, scenario=self._scenario)
            loop.run_until_complete(self.emulator.start())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self.emulator.stop())
        loop.close()

    def __enter__(self) -> EmulatorThread:
        self._thread = threading.Thread(target=self._main, name="mmkit-emulator", daemon=True)
        self._thread.start()
        self._ready.wait(60)
        if self._error is not None:
            raise self._error
        return self

    @property
    def url(self) -> str:
        assert self.emulator is not None
        return self.emulator.url

    def call(
        self, fn: Callable[[Emulator], Coroutine[Any, Any, Any]], timeout: float = 10.0
    ) -> Any:
        assert self._loop is not None and self.emulator is not None
        return asyncio.run_coroutine_threadsafe(fn(self.emulator), self._loop).result(timeout)

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)


__all__ = ["EmulatorThread"]
