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
from mmkit.backtest.cadence import Cadence, check_cadence, check_duration_s, check_requote_ms
from mmkit.backtest.recording import PathRecorder
from mmkit.backtest.report import BacktestReport, markouts, max_drawdown
from mmkit.components import BulkReplayVenue, Venue
from mmkit.config.loader import Settings
from mmkit.core.events import OwnFill
from mmkit.core.outcomes import RejectReason
from mmkit.core.types import NS_PER_MS, NS_PER_S
from mmkit.data.clock import ClockAlignment, venue_feed_latency_ms
from mmkit.data.market_stream import MarketLoad, load_market, open_records
from mmkit.errors import ConfigError
from mmkit.faults import FaultCategory
from mmkit.plugin_manager import PluginHost
from mmkit.reports.run import account_run
from mmkit.reports.stats import equity_stats, fill_stats_of
from mmkit.reports.summary import warmup_info
from mmkit.runtime.heap import frozen_heap, settle
from mmkit.runtime.observer import RunObserver
from mmkit.runtime.paper_run import build_simulated_venue
from mmkit.runtime.session import Session
from mmkit.twins import summary as twin_summary

#: window of the report's Sharpe / Sortino (seconds); stated in the report with the ratio
STATS_WINDOW_S = 60.0


@dataclass
class BacktestOptions:
    cadence: Cadence = "event"
    requote_ms: float | None = None  # timer period (default: engine.timer_ms)
    duration_s: float = math.inf
    data_format: str = "auto"
    tick: float | None = None
    path_every_ms: float = 100.0
    #: timer cadence: read / keep the converted market in the cache
    #: (:mod:`mmkit.data.market_cache`)
    market_cache: bool = True


@dataclass
class BacktestResult:
    report: BacktestReport
    path: dict[str, Any]
    session: Session
    #: every fill the engine applied, in order, stamped with the engine time it was applied
    #: at (the clock of ``path``; see RunObserver.engine_clock_fills)
    fills: list[OwnFill] = dataclasses.field(default_factory=list)


def plot_series(result: BacktestResult) -> dict[str, Any]:
    """What ``backtest.png`` draws for ``result`` (see
    :func:`mmkit.reports.backtest_plot.plot_series`)."""
    from mmkit.reports import backtest_plot

    r = result.report
    return backtest_plot.plot_series(
        result.path, result.fills, r.run, title=f"mmkit backtest ({r.quoter}, {r.mode})"
    )


class BacktestSession(Session):
    """A session whose report counts the venue's rejections by reason together with the
    actions dropped before sending (``not_sent``: a gate closed in between)."""

    @property
    def reject_reasons(self) -> Counter[str]:
        st = self.stats
        reasons = Counter(st.reject_reasons)
        if st.not_sent:
            reasons[RejectReason.NOT_SENT.value] += st.not_sent
        return reasons


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


def _why_no_orders(settings: Settings, session: Session, path: PathRecorder) -> str:
    """Why a run sent no order, as far as the configuration explains it."""
    arr = path.arrays()
    mids = arr["mid"][np.isfinite(arr["mid"])]
    if not mids.size:
        return "no order was sent: the data never gave a mid price"
    mid = float(np.median(mids))
    inst, risk = settings.instrument, settings.risk
    if risk.order_size * mid < inst.min_notional:
        return (
            f"no order was sent: risk.order_size {risk.order_size:g} x mid {mid:,.2f} = "
            f"{risk.order_size * mid:,.2f} USD is below instrument.min_notional "
            f"{inst.min_notional:g} USD (the configuration is for another coin? set "
            "risk.order_size, risk.max_position and instrument.* for this market)"
        )
    if risk.max_position * mid < inst.min_notional:
        return (
            f"no order was sent: risk.max_position {risk.max_position:g} x mid {mid:,.2f} is "
            f"below instrument.min_notional {inst.min_notional:g} USD"
        )
    ladder = session.engine.last_ladder
    return (
        "no order was sent: the quoter's ladder was empty "
        f"({len(ladder.bids)} bids, {len(ladder.asks)} asks at the end); see the gate timeline"
    )


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
    requote_ms = check_requote_ms(o.requote_ms, "requote_ms")  # a bad period never ends
    duration_s = check_duration_s(o.duration_s, "duration_s")
    wall0 = time.perf_counter()
    step_ms = requote_ms if requote_ms is not None else float(settings.engine.timer_ms)
    if o.cadence == "timer":
        settings = _with_requote(settings, "timer")
    observer = RunObserver(None)
    engine = build_engine(settings, host, observer=observer)
    session = BacktestSession(engine, observer, None)
    observer.run = session
    path = PathRecorder(int(o.path_every_ms * NS_PER_MS))  # its venue is attached below
    duration_ns = min(int(duration_s * NS_PER_S), 2**62) if math.isfinite(duration_s) else 2**62
    t_load = t_run = 0.0
    clock: ClockAlignment | None = None
    market_load = MarketLoad()  # from the converted-market cache or not
    if o.cadence == "timer":
        from mmkit.backtest.loops import run_timer

        market, tick = load_market(
            list(data), o.data_format, o.tick, cache=o.market_cache, info=market_load
        )
        t_load = time.perf_counter() - wall0
        venue = build_venue(settings, host, tick, "timer")
        assert isinstance(venue, BulkReplayVenue)  # checked by build_venue
        path.venue = venue
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
        off_grid = int(getattr(venue, "off_grid_rows", 0))
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
        path.venue = venue
        # one clock: a recorder clock behind the exchange would put the simulated exchange
        # in the strategy's future (mmkit.data.clock)
        clock = ClockAlignment(chunks(), min_latency_ms=venue_feed_latency_ms(settings))
        settle()
        start, end, stopped = run_events(
            session,
            venue,
            events_from_chunks(clock),
            timer_ns=int(step_ms * NS_PER_MS),
            duration_ns=duration_ns,
            path=path,
        )
        events = session.stats.market_events
        requotes = observer.quote_updates
        off_grid = int(getattr(venue, "off_grid_rows", 0))
        # what each input's conversion found wrong in it (as far as the run read it)
        market_load.problems = [said for s in srcs if (said := s.problems()) is not None]
    else:
        raise ConfigError([f"--cadence {o.cadence!r}: choose event or timer"])
    t_run = time.perf_counter() - wall0 - t_load
    report = _report(
        settings, session, observer, path, data, o.cadence, start, end, stopped, events, requotes
    )
    if report.run is not None:
        # faults and rejected input, each distinct message once with its count (as the
        # session's log summary): the only place a backtest shows them besides stderr
        report.run.notes.extend(
            f"{_FAULT_LABEL[e.category]} - {e.describe()}"
            for e in session.engine.fault_log.entries.values()
        )
        said = session.engine.fault_log.headline()
        if said is not None:  # in the report's first line too
            report.run = dataclasses.replace(report.run, headline=f"{report.run.headline}; {said}")
    if report.run is not None and off_grid:
        from mmkit.venues.sim.venue import OFF_GRID_SAID, OFF_GRID_WHY

        said = f"{off_grid:,} {OFF_GRID_SAID}"
        share = f"{off_grid / max(events, 1):.2%} of the market"
        report.run.notes.append(f"{said} ({share}; {OFF_GRID_WHY})")
        report.run = dataclasses.replace(report.run, headline=f"{report.run.headline}; {said}")
    if report.run is not None and market_load.problems:
        # what was wrong in the input itself (a truncated file, malformed lines, gaps):
        # the run used what could be read, and its first line says so
        report.run.notes.extend(f"input data problems: {p}" for p in market_load.problems)
        names = ", ".join(p.split(";", 1)[0] for p in market_load.problems)
        report.run = dataclasses.replace(
            report.run,
            headline=f"{report.run.headline}; input data problems: {names} (see the notes)",
        )
    if report.run is not None:
        report.run.notes.extend(market_load.notes)  # the cache's troubles, if any
    if report.run is not None and session.engine.twin_choices:
        report.run.notes.append(twin_summary(session.engine.twin_choices))
    if clock is not None and clock.note() and report.run is not None:
        report.run.notes.append(clock.note())
    if report.orders_sent == 0 and report.run is not None:
        why = _why_no_orders(settings, session, path)
        report.run.notes.append(why)
        report.run = dataclasses.replace(report.run, headline=f"{report.run.headline} ({why})")
    report.timing = {
        "load_s": t_load,
        "run_s": t_run,
        "wall_s": time.perf_counter() - wall0,
        "market_from_cache": float(market_load.from_cache),
    }
    return BacktestResult(report, path.arrays(), session, observer.engine_clock_fills())


_FAULT_LABEL = {FaultCategory.FAULT: "component fault", FaultCategory.REJECTED: "input rejected"}


def _report(
    settings: Settings,
    session: BacktestSession,
    observer: RunObserver,
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
    fl = observer.engine_clock_fills()  # on the path's clock (see engine_clock_fills)
    bp, px = markouts(fl, arr["ts"], arr["mid"])  # type: ignore[arg-type]
    eq = arr["equity"]
    run_end = observer.shutdown_ns if observer.shutdown_ns >= 0 else int(end)
    run_start = session.stats.first_ts if session.stats.first_ts >= 0 else int(start)
    run_s = max(0, run_end - run_start) / NS_PER_S
    equity = pf.equity(mid) if math.isfinite(mid) else math.nan
    account = account_run(
        start_ns=run_start,
        end_ns=run_end,
        rows=observer.gate_rows,
        warmup=warmup_info(eng),
        quote_ts_ns=arr["ts"],  # type: ignore[arg-type]
        quote_bid=arr["bid"],  # type: ignore[arg-type]
        quote_ask=arr["ask"],  # type: ignore[arg-type]
        fills=fills,
        equity_usd=equity,
        faults=eng.fault_log.counts(),
    )
    fstats = fill_stats_of(
        fl,
        run_s=run_s,
        mids_ts_ns=arr["ts"],  # type: ignore[arg-type]
        mids=arr["mid"],  # type: ignore[arg-type]
    )
    estats = equity_stats(arr["ts"], eq, window_s=STATS_WINDOW_S)  # type: ignore[arg-type]
    unreal = pf.unrealized(mid) if math.isfinite(mid) else 0.0
    reasons = dict(sorted(session.reject_reasons.items()))
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
        unrealized=unreal,
        fees=pf.fees,
        equity=equity,
        fills=fills,
        orders_sent=sent,
        fill_ratio=fills / sent if sent else math.nan,
        volume_usd=pf.volume_usd,
        final_position=pf.position,
        max_abs_position=float(np.max(np.abs(arr["position"]))) if arr["position"].size else 0.0,
        sharpe_daily=estats.sharpe_daily,  # one Sharpe: the stats' (window stated there)
        max_drawdown=max_drawdown(eq),  # type: ignore[arg-type]
        markouts_bp=bp,
        markouts_px=px,
        rejections=session.stats.rejections,
        rejection_reasons=reasons,
        faults=eng.faults,
        actions=counts,
        run=account,
        stats=estats,
        fill_stats=fstats,
        rejections_by_reason=dict(reasons),
        pnl={
            "realized_trading_usd": pf.realized,
            "fees_net_usd": -pf.fees,
            "unrealized_inventory_usd": unreal,
            "equity_usd": equity,
        },
    )
