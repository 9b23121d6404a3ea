"""Live trading: ``mmkit trade`` with a venue's live side (``--venue hyperliquid``, or
``--url`` at the loopback emulator).

The venue is built through the registry from the live factory its plugin registered
(:func:`build_live_venue`), never imported by name: any installed venue plugin with a live
side runs here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmkit import __version__
from mmkit.assembly import build_component, build_engine
from mmkit.components import AsyncVenue
from mmkit.config.loader import Settings
from mmkit.core.types import NS_PER_MS
from mmkit.deferred_kernels import compile_deferred
from mmkit.plugin_manager import PluginHost
from mmkit.registry import BuildContext, LiveContext, VenueSide
from mmkit.runtime.heap import frozen_heap
from mmkit.runtime.journal import Journal, discarded_on_failure, new_run_path, resume_point
from mmkit.runtime.live import LiveClock, LiveRunner, StartupAborted
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
    #: the live path's own lines for the summary (dead-man's switch, order lanes, shutdown)
    extras: dict[str, str] = field(default_factory=dict)


async def run_live(
    settings: Settings,
    host: PluginHost,
    venue: AsyncVenue,
    *,
    journal_dir: Path | None,
    duration_s: float | None,
    dashboard: bool = False,
    stop: asyncio.Event | None = None,
    clock: Callable[[], int] | None = None,
    metrics_port: int | None = None,
) -> LiveOutcome:
    """Trade live until a signal, ``duration_s`` (wall s, start-up included) or a failure.

    ``clock`` is the engine's clock (ns, a :class:`~mmkit.runtime.live.LiveClock` by
    default; give the venue the same one). ``metrics_port`` serves Prometheus metrics on
    127.0.0.1. First SIGINT/SIGTERM: stop (kill switch, final sync, journal flush); second:
    finish sooner (the cancels and the sync bounded by a short deadline, what is skipped is
    journaled as ``shutdown_skipped``). ``stopped_by`` is ``signal SIGINT``/``signal
    SIGTERM``, ``duration``, ``stop requested`` or ``start-up: ...``."""
    # the port first: one that cannot be bound leaves no journal of a run that never ran
    metrics: Any = None
    if metrics_port:
        from mmkit.runtime.metrics import Metrics

        metrics = Metrics()
        metrics.serve(metrics_port)
        log.info("metrics on http://127.0.0.1:%d/metrics", metrics_port)
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
    # a set-up that fails from here (a configuration the engine refuses) leaves no journal
    with discarded_on_failure(journal):
        observer = RunObserver(journal, host.observer_hooks(), metrics)
        health = getattr(venue, "health", None)
        if health is not None and journal is not None:
            health.listeners.append(link_journaler(journal))
        engine = build_engine(settings, host, observer=observer)
        compile_deferred()  # now, not at the first quote (mmkit.deferred_kernels)
    session = Session(engine, observer, journal)
    observer.run = session
    runner = LiveRunner(session, venue, timer_ns=settings.engine.timer_ms * NS_PER_MS, clock=clock)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals: list[str] = []

    def on_signal(sig: signal.Signals) -> None:
        signals.append(sig.name)
        if len(signals) == 1:
            log.warning("signal received: kill switch, final reconciliation, journal flush")
            stop.set()
            return
        sys.stderr.write(
            "\nsecond signal: finishing sooner (cancels and final sync bounded by "
            f"{runner.emergency_deadline_s:g} s; anything skipped is journaled)\n"
        )
        runner.hurry()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, on_signal, sig)
    wall0 = time.monotonic()
    refresher: asyncio.Task[None] | None = None
    dash: Any = None
    if dashboard:
        from mmkit.runtime.dashboard import Dashboard

        dash = Dashboard(
            session,
            f"mmkit live · {settings.venue.network} · {settings.instrument.coin}",
            extra=lambda: live_status(runner, venue),
        )
        dash.__enter__()
    if dash is not None or metrics is not None:

        async def refresh() -> None:
            while True:
                if dash is not None:
                    dash.refresh()
                if metrics is not None:
                    publish_metrics(metrics, session, runner)
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
        if signals and reason == "stop requested":
            reason = f"signal {signals[0]}"
    except StartupAborted as exc:
        reason = f"start-up: {exc}"
        raise
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
        if dash is not None:
            dash.__exit__(None, None, None)
        if metrics is not None:
            metrics.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)
        if journal is not None:
            journal.set_meta("stopped_by", reason)
            journal.set_meta("shutdown_skipped", ",".join(runner.shutdown_skipped) or "none")
            deadman = getattr(venue, "deadman", None)
            journal.set_meta(
                "deadman", deadman.describe() if deadman is not None else "not available"
            )
            journal.set_meta("orders_not_sent", str(runner.dropped))
            journal.close()
    extras = live_status(runner, venue)
    if runner.shutdown_skipped:
        extras["shutdown skipped"] = ", ".join(runner.shutdown_skipped)
    return LiveOutcome(
        session, reason, journal.path if journal else None, time.monotonic() - wall0, extras
    )


def build_live_venue(
    settings: Settings,
    host: PluginHost,
    name: str,
    *,
    mainnet_flag: bool,
    clock_ns: Callable[[], int],
    environ: Mapping[str, str] | None = None,
) -> AsyncVenue:
    """The live side of venue ``name``, built by its plugin's live factory and checked
    against :class:`~mmkit.components.AsyncVenue`. Its parameters are the
    ``[venues.<name>]`` table; the connection (the core ``[venue]`` section), the
    ``--mainnet`` opt-in and the engine's clock (ns) reach it in ``ctx.live``. A venue
    without a live side is a configuration error naming it and its plugin."""
    spec = host.registry.venue(name, VenueSide.LIVE, purpose="live trading")
    ctx = BuildContext(
        kind="venue",
        name=name,
        params=settings.component_params("venue", name),
        instrument=settings.instrument,
        risk=settings.risk,
        seed=settings.engine.seed,
        config=settings.merged,
        live=LiveContext(
            clock_ns=clock_ns,
            mainnet_flag=mainnet_flag,
            connection=settings.venue,
            settings=settings,
            environ=environ,
        ),
    )
    venue: AsyncVenue = spec.build_live(ctx)
    return venue


def run_live_from_cli(
    settings: Settings,
    host: PluginHost,
    *,
    mainnet_flag: bool,
    journal_dir: Path | None,
    duration_s: float | None,
    dashboard: bool,
    metrics_port: int | None = None,
    venue_name: str | None = None,
) -> LiveOutcome:
    """Build the live venue ``venue_name`` (default: ``components.venue``) and trade live.

    The venue is built first (the key, the network and mainnet's double opt-in are checked
    then, and nothing connects yet), so that a refusal is said at once; then a cold numba
    cache is compiled, before anything connects: compiled inside the first quoting cycles,
    the twins would stall the session for seconds while its feed queues up."""
    from mmkit.runtime.precompile import warm_up_for_command

    name = venue_name or settings.components.venue
    clock = LiveClock()  # one clock for the engine and the venue's local stamps
    venue = build_live_venue(
        settings,
        host,
        name,
        mainnet_flag=mainnet_flag,
        clock_ns=clock,
    )
    warm_up_for_command("trade", settings, host, show=not settings.trade.log_json, venue=name)
    return asyncio.run(
        run_live(
            settings,
            host,
            venue,
            journal_dir=journal_dir,
            duration_s=duration_s,
            dashboard=dashboard,
            clock=clock,
            metrics_port=metrics_port,
        )
    )


def live_status(runner: LiveRunner, venue: Any) -> dict[str, str]:
    """What the live path adds to the dashboard and summary: the dead-man's switch and the
    order lanes."""
    deadman = getattr(venue, "deadman", None)
    st = runner.status()
    out = {
        "dead-man's switch": deadman.describe() if deadman is not None else "not available",
        "orders not sent (gated)": str(st["dropped_not_sent"]),
        "emergency requests (timed out)": (f"{st['emergency_sent']} ({st['emergency_timeouts']})"),
    }
    health = getattr(venue, "health", None)
    if health is not None:
        out["venue links"] = describe_links(health.status())
    return out


def describe_links(status: dict[str, Any]) -> str:
    """One line for the dashboard and summary: each link's state and outage count, e.g.
    ``market connected (1 outage, longest 2.9 s) · user connected · account connected``."""
    links = status.get("links", {})
    parts = []
    for name in ("market", "user", "account"):
        link = links.get(name)
        if not isinstance(link, dict):
            continue
        text = f"{name} {link.get('state', '?')}"
        outages = int(link.get("outages", 0) or 0)
        if outages:
            longest = float(link.get("longest_outage_s", 0.0) or 0.0)
            text += f" ({outages} outage{'s' if outages != 1 else ''}, longest {longest:.1f} s)"
        parts.append(text)
    return " · ".join(parts) if parts else "unknown"


def link_journaler(journal: Journal) -> Callable[[Any], None]:
    """A health listener that journals every change of a venue link (a note per transition,
    stamped with wall time like every journal row)."""

    def note(tr: Any) -> None:
        fault = f" [{tr.fault.value}]" if tr.fault is not None else ""
        level = "warning" if tr.connected_changed else "info"
        journal.note(
            time.time_ns(),
            level,
            f"link {tr.link}: {tr.before.value} -> {tr.after.value}{fault}: {tr.detail}",
        )

    return note


def publish_metrics(metrics: Any, session: Session, runner: LiveRunner) -> None:
    """Refresh the Prometheus gauges (estimates, PnL, executor figures, the order lanes)."""
    from mmkit.runtime.status import numeric_values, session_status

    values = numeric_values(session_status(session))
    for k, v in runner.status().items():
        values[f"live_{k}"] = float(v)
    deadman = getattr(runner.venue, "deadman", None)
    if deadman is not None:
        values["live_deadman_armed"] = 1.0 if deadman.state.state == "armed" else 0.0
    metrics.set_values(values)
