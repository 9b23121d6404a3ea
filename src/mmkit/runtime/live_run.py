"""``mmkit trade --venue hyperliquid`` (or ``--url`` at the loopback emulator)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmkit import __version__
from mmkit.assembly import build_component, build_engine
from mmkit.config.loader import Settings
from mmkit.core.types import NS_PER_MS
from mmkit.plugin_manager import PluginHost
from mmkit.runtime.heap import frozen_heap
from mmkit.runtime.journal import Journal, new_run_path, resume_point
from mmkit.runtime.live import AsyncVenue, LiveRunner
from mmkit.runtime.observer import RunObserver
from mmkit.runtime.paper_run import config_dump
from mmkit.runtime.session import Session

log = logging.getLogger("mmkit.live")


@dataclass
class LiveOutcome:
    session: Session
    stopped_by: str
    journal_path: Path | None
    wall_s: float


async def run_live(
    settings: Settings,
    host: PluginHost,
    venue: AsyncVenue,
    *,
    journal_dir: Path | None,
    duration_s: float | None,
    dashboard: bool = False,
    stop: asyncio.Event | None = None,
) -> LiveOutcome:
    journal = None
    identity = {
        "coin": settings.instrument.coin,
        "network": settings.venue.network,
        "url": settings.venue.url or "(default)",
        "account": (settings.venue.vault or settings.venue.account).lower(),
    }
    if journal_dir is not None:
        resume = resume_point(journal_dir, "live", identity)
        if resume is not None and hasattr(venue, "resume_fills"):
            venue.resume_fills = resume
            log.info(
                "resuming after the previous run: fills since %d ns, %d already journaled",
                resume[0],
                len(resume[1]),
            )
        journal = Journal(new_run_path(journal_dir, "live"))
        journal.set_meta("mmkit_version", __version__)
        journal.set_meta("mode", "live")
        for key, value in identity.items():
            journal.set_meta(key, value)
        journal.set_meta("config", config_dump(settings))
    observer = RunObserver(journal, host.observer_hooks())
    engine = build_engine(settings, host, observer=observer)
    session = Session(engine, observer, journal)
    observer.run = session
    runner = LiveRunner(session, venue, timer_ns=settings.engine.timer_ms * NS_PER_MS)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set():
            sys.stderr.write("\nsecond signal: exiting immediately\n")
            raise SystemExit(130)
        log.warning("signal received: kill switch, final reconciliation, journal flush")
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, on_signal)
    wall0 = time.monotonic()
    refresher: asyncio.Task[None] | None = None
    dash: Any = None
    if dashboard:
        from mmkit.runtime.dashboard import Dashboard

        dash = Dashboard(
            session, f"mmkit live · {settings.venue.network} · {settings.instrument.coin}"
        )
        dash.__enter__()

        async def refresh() -> None:
            while True:
                dash.refresh()
                await asyncio.sleep(0.25)

        refresher = asyncio.create_task(refresh())
    signal_tasks = []
    for name in settings.components.signal_feeds:
        sig = build_component(host.registry, settings, "feed", name)
        run_fn = getattr(sig, "run", None)
        if callable(run_fn):  # a live signal source (e.g. the Binance leader feed)
            signal_tasks.append(asyncio.create_task(run_fn()))
    reason = "error"
    try:
        with frozen_heap():  # start-up objects: out of the GC's passes while trading
            reason = await runner.run(stop, duration_s)
    finally:
        for task in signal_tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        session.close()
        if refresher is not None:
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher
            dash.__exit__(None, None, None)
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)
        if journal is not None:
            journal.set_meta("stopped_by", reason)
            journal.close()
    return LiveOutcome(session, reason, journal.path if journal else None, time.monotonic() - wall0)


def run_live_from_cli(
    settings: Settings,
    host: PluginHost,
    *,
    mainnet_flag: bool,
    journal_dir: Path | None,
    duration_s: float | None,
    dashboard: bool,
) -> LiveOutcome:
    from mmkit.venues.hyperliquid.venue import live_venue

    venue = live_venue(settings, mainnet_flag=mainnet_flag)
    return asyncio.run(
        run_live(
            settings,
            host,
            venue,
            journal_dir=journal_dir,
            duration_s=duration_s,
            dashboard=dashboard,
        )
    )
