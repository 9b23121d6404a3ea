"""``mmkit backtest`` on market data: the live engine and plugins over the simulated exchange.

The engine is built exactly as for live trading (:func:`mmkit.assembly.build_engine`, same
registry, same config and ``--params`` layers); the venue is the simulated side of the
configured venue plugin (``components.venue``, by default ``sim`` with its queue and latency
models from ``[venues.sim]``), built on the data's tick unless its own config sets one
(:func:`build_venue`).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mmkit.assembly import build_engine
from mmkit.backtest.cadence import Cadence, check_cadence
from mmkit.backtest.recording import BacktestObserver, PathRecorder
from mmkit.backtest.report import BacktestReport, markouts, max_drawdown, sharpe_daily
from mmkit.components import BulkReplayVenue, Venue
from mmkit.config.loader import Settings
from mmkit.core.events import ActionResult, Event, EventKind
from mmkit.core.types import NS_PER_MS, NS_PER_S
from mmkit.data.market_stream import load_market, open_records
from mmkit.errors import ConfigError
from mmkit.plugin_manager import PluginHost
from mmkit.runtime.heap import frozen_heap, settle
from mmkit.runtime.paper_run import build_simulated_venue
from mmkit.runtime.session import Session


@dataclass
class BacktestOptions:
    cadence: Cadence = "event"
    requote_ms: float | None = None  # timer period (default: engine.timer_ms)
    duration_s: float = math.inf
    data_format: str = "auto"
    tick: float | None = None
    path_every_ms: float = 100.0


@dataclass
class BacktestResult:
    report: BacktestReport
    path: dict[str, Any]
    session: Session


class BacktestSession(Session):
    """A session that also counts the venue's rejections by reason."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reject_reasons: Counter[str] = Counter()

    def dispatch(self, ev: Event, now_ns: int) -> list[Any]:
        if ev.kind is EventKind.ACTION_RESULT:
            assert isinstance(ev, ActionResult)
            if ev.outcome.value == "rejected":
                self.reject_reasons[ev.reason.value] += 1
        return super().dispatch(ev, now_ns)


def _with_requote(settings: Settings, requote: Literal["event", "timer"]) -> Settings:
    return dataclasses.replace(
        settings, engine=dataclasses.replace(settings.engine, requote=requote)
    )


def build_venue(settings: Settings, host: PluginHost, tick: float, cadence: str = "event") -> Venue:
    """The configured venue's simulated side for a backtest on data of price tick ``tick``.

    Chosen by capability: a venue without a simulated side is a configuration error
    ("venue 'hyperliquid' ... is live-only; backtests need a simulated venue"). The venue
    is built with the instrument of the recorded market, i.e. the configured instrument with
    the data's tick when that is a valid tick (a venue's own parameters may still fix its
    tick, as ``[venues.sim] tick`` does); the engine keeps quoting on the configured grid.
    ``--cadence timer`` also needs :class:`~mmkit.components.BulkReplayVenue`."""
    inst = settings.instrument
    if math.isfinite(tick) and tick > 0 and abs(inst.tick - tick) > 1e-12:
        inst = dataclasses.replace(inst, tick=tick)
    venue = build_simulated_venue(settings, host, purpose="backtests", instrument=inst)
    if cadence == "timer" and not isinstance(venue, BulkReplayVenue):
        name = settings.components.venue
        raise ConfigError(
            [
                f"components.venue: venue {name!r} ({type(venue).__name__}) cannot run "
                "--cadence timer (it has no run_market/book_snapshot); use --cadence event"
            ]
        )
    return venue


def run_backtest(
    settings: Settings,
    host: PluginHost,
    data: Sequence[Path],
    options: BacktestOptions | None = None,
) -> BacktestResult:
    """One backtest; the objects alive when it starts stay out of the collector's passes
    until it ends (:func:`~mmkit.runtime.heap.frozen_heap`)."""
    with frozen_heap(collect_during_setup=False):
        return _run(settings, host, data, options or BacktestOptions())


def _run(
    settings: Settings, host: PluginHost, data: Sequence[Path], o: BacktestOptions
) -> BacktestResult:
    check_cadence(o.cadence)  # before the engine is built: "kernel" was removed
    wall0 = time.perf_counter()
    step_ms = o.requote_ms if o.requote_ms else float(settings.engine.timer_ms)
    if o.cadence == "timer":
        settings = _with_requote(settings, "timer")
    observer = BacktestObserver()
    engine = build_engine(settings, host, observer=observer)
    session = BacktestSession(engine, observer, None)
    observer.run = session
    path = PathRecorder(int(o.path_every_ms * NS_PER_MS))
    duration_ns = int(o.duration_s * NS_PER_S) if math.isfinite(o.duration_s) else 2**62
    t_load = t_run = 0.0
    if o.cadence == "timer":
        from mmkit.backtest.loops import run_timer

        market, tick = load_market(list(data), o.data_format, o.tick)
        t_load = time.perf_counter() - wall0
        venue = build_venue(settings, host, tick, "timer")
        assert isinstance(venue, BulkReplayVenue)  # checked by build_venue
        settle()
        start, end, stopped = run_timer(
            session,
            venue,
            market,
            step_ns=int(step_ms * NS_PER_MS),
            duration_ns=duration_ns,
            path=path,
        )
        events = len(market)
        requotes = int((end - start) // int(step_ms * NS_PER_MS))
    elif o.cadence == "event":
        from mmkit.backtest.loops import run_events
        from mmkit.data.adapter import events_from_chunks

        srcs = [open_records(Path(p), o.data_format) for p in data]
        first = next(srcs[0].chunks, None)
        tick = o.tick or srcs[0].tick

        def chunks() -> Any:
            if first is not None:
                yield first
            for s in srcs[:1]:
                yield from s.chunks
            for s in srcs[1:]:
                yield from s.chunks

        venue = build_venue(settings, host, tick)
        settle()
        start, end, stopped = run_events(
            session,
            venue,
            events_from_chunks(chunks()),
            timer_ns=int(step_ms * NS_PER_MS),
            duration_ns=duration_ns,
            path=path,
        )
        events = session.stats.market_events
        requotes = observer.quote_updates
    else:
        raise ConfigError([f"--cadence {o.cadence!r}: choose event or timer"])
    t_run = time.perf_counter() - wall0 - t_load
    report = _report(
        settings, session, observer, path, data, o.cadence, start, end, stopped, events, requotes
    )
    report.timing = {"load_s": t_load, "run_s": t_run, "wall_s": time.perf_counter() - wall0}
    return BacktestResult(report, path.arrays(), session)


def _report(
    settings: Settings,
    session: BacktestSession,
    observer: BacktestObserver,
    path: PathRecorder,
    data: Sequence[Path],
    mode: str,
    start: int,
    end: int,
    stopped: str,
    events: int,
    requotes: int,
) -> BacktestReport:
    eng = session.engine
    pf = eng.portfolio
    arr = path.arrays()
    mid = float(arr["mid"][-1]) if arr["mid"].size else eng.market.mid
    counts = dict(sorted(session.stats.action_counts.items()))
    sent = counts.get("Place", 0) + counts.get("Modify", 0)
    fills = len(observer.fill_log)
    bp, px = markouts(observer.fill_log, arr["ts"], arr["mid"])  # type: ignore[arg-type]
    eq = arr["equity"]
    return BacktestReport(
        mode=mode,
        seed=settings.engine.seed,
        quoter=settings.components.quoter,
        data=[str(p) for p in data],
        start_ns=int(start),
        end_ns=int(end),
        stopped_by=stopped,
        market_events=int(events),
        requotes=int(requotes),
        realized=pf.realized,
        unrealized=pf.unrealized(mid) if math.isfinite(mid) else 0.0,
        fees=pf.fees,
        equity=pf.equity(mid) if math.isfinite(mid) else math.nan,
        fills=fills,
        orders_sent=sent,
        fill_ratio=fills / sent if sent else math.nan,
        volume_usd=pf.volume_usd,
        final_position=pf.position,
        max_abs_position=float(np.max(np.abs(arr["position"]))) if arr["position"].size else 0.0,
        sharpe_daily=sharpe_daily(arr["ts"], eq),  # type: ignore[arg-type]
        max_drawdown=max_drawdown(eq),  # type: ignore[arg-type]
        markouts_bp=bp,
        markouts_px=px,
        rejections=session.stats.rejections,
        rejection_reasons=dict(sorted(session.reject_reasons.items())),
        faults=eng.faults,
        actions=counts,
    )
