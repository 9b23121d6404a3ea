"""The two ways a backtest drives the engine over the simulated exchange.

* :func:`run_events` — event-driven: every market event goes through the engine (which may
  requote on it, rate-limited by the executor's minimum requote interval) and the
  simulated venue (any :class:`~mmkit.components.Venue`), with the paper runner's
  discrete-event loop.
* :func:`run_timer` — requote every ``step_ns``: between requotes the market is applied in
  bulk by the venue (:class:`~mmkit.components.BulkReplayVenue`: ``run_market``, as the
  ``sim`` venue's kernels do), so every level change and
  trade still meets our resting orders; at each requote the engine gets the exchange's
  answers (acks, fills), the market trades since the last requote (for the estimators), the
  simulated book as a snapshot, then a timer event on which it requotes. Python runs per
  requote and per trade, not per level change.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from mmkit.backtest.recording import PathRecorder
from mmkit.components import BulkReplayVenue, Venue
from mmkit.core.actions import Action
from mmkit.core.events import Event, Timer, TradeBatch
from mmkit.core.types import NS_PER_S
from mmkit.runtime.paper import PaperRunner, event_time
from mmkit.runtime.session import Session
from mmkit.venues.sim import _layout as lay
from mmkit.venues.sim.arrays import MarketArrays

SETTLE_NS = 2 * NS_PER_S


def run_events(
    session: Session,
    venue: Venue,
    events: Iterable[Event],
    *,
    timer_ns: int,
    duration_ns: int,
    path: PathRecorder,
) -> tuple[int, int, str]:
    runner = PaperRunner(session, venue, timer_ns=timer_ns, speed=None, settle_ns=SETTLE_NS)
    eng = session.engine
    res = runner.run(events, duration_ns=duration_ns, on_progress=lambda now: path.sample(eng, now))
    return res.start_ns, res.end_ns, res.stopped_by


def receive_times(times: npt.NDArray[np.int64], now: int, monotone: bool) -> npt.NDArray[np.int64]:
    """When a step's trades reach the engine: each at its own time, never before the clock
    ``now``, never before the trade ahead of it (``np.maximum.accumulate(np.maximum(times,
    now))``). ``monotone``: ``times`` never go back (the caller checked), so no running
    maximum is needed, and none is lifted when the first is not before the clock (``times``
    itself is returned then; nothing writes to a batch's columns)."""
    if not monotone:
        out: npt.NDArray[np.int64] = np.maximum.accumulate(np.maximum(times, now))
        return out
    if times[0] >= now:
        return times
    lifted: npt.NDArray[np.int64] = np.maximum(times, now)
    return lifted


class _TimerDriver:
    def __init__(self, session: Session, venue: Venue) -> None:
        self.session = session
        self.venue = venue
        self.now = 0

    def dispatch(self, ev: Event, now: int) -> None:
        self.now = max(self.now, now)
        acts: list[Action] = self.session.dispatch(ev, self.now)
        if acts:
            self.venue.submit(acts, self.now)

    def drain(self, until: int) -> None:
        for _ in range(10_000):
            evs = self.venue.drain(until)
            if not evs:
                return
            for r in evs:
                self.dispatch(r, min(until, max(self.now, event_time(r))))
        raise RuntimeError("venue produced events without end while draining")


def run_timer(
    session: Session,
    venue: BulkReplayVenue,
    market: MarketArrays,
    *,
    step_ns: int,
    duration_ns: int,
    path: PathRecorder,
    book_depth: int = 20,
) -> tuple[int, int, str]:
    n = len(market)
    if n == 0:
        return 0, 0, "feed empty"
    d = _TimerDriver(session, venue)
    eng = session.engine
    t0 = int(market.ts[0])
    end = t0 + duration_ns
    # the trade rows, gathered once: each step takes a slice of them (views, no copies)
    rows = np.flatnonzero(market.kind == lay.EV_TRADE)
    tr_ts, tr_px, tr_sz, tr_side = (
        market.ts[rows],
        market.px[rows],
        market.sz[rows],
        market.side[rows],
    )
    # trade times that never go back (a loaded market's are clamped so): then the clock
    # only lifts a batch's first rows and no running maximum is needed
    tr_monotone = len(tr_ts) < 2 or bool((tr_ts[1:] >= tr_ts[:-1]).all())
    k = 0
    i = venue.run_market(market, 0, t0)
    d.now = t0
    d.dispatch(Timer(t0, "startup", local_ts=t0), t0)
    d.drain(t0)
    t = t0
    stopped = "feed ended"
    while i < n:
        t += step_ns
        if t > end:
            stopped = "duration"
            break
        j = venue.run_market(market, i, t)
        d.drain(t)
        if j > i:
            k_end = int(rows.searchsorted(j))  # trade rows before market row j
            if k_end > k:
                times = tr_ts[k:k_end]
                recv = receive_times(times, d.now, tr_monotone)
                # sides were checked when the market was loaded; recv is monotone
                batch = TradeBatch.checked_by_caller(
                    times, tr_px[k:k_end], tr_sz[k:k_end], tr_side[k:k_end], recv
                )
                d.dispatch(batch, int(recv[-1]))
                k = k_end
            i = j
        d.dispatch(venue.book_snapshot(t, book_depth), t)
        d.dispatch(Timer(t, local_ts=t), t)
        path.sample(eng, t)
    # shutdown: kill switch, let the venue answer, final position sync
    now = d.now
    acts = eng.shutdown(now)
    session.record_actions(acts, now)
    if acts:
        venue.submit(acts, now)
    d.drain(now + SETTLE_NS)
    d.now = now + SETTLE_NS
    sync = session.sync_request("final")
    session.record_actions([sync], d.now)
    venue.submit([sync], d.now)
    d.drain(d.now + SETTLE_NS)
    return t0, d.now, stopped
