"""The market the emulator runs: a feed replayed against the wall clock.

Events of the synthetic market (default) or of a replayed capture/store are re-stamped to the
emulator's wall clock, ``speed`` market seconds per wall second, and handed to a listener
(the accounts' simulated exchanges and the WebSocket publisher). The true book is kept in a
:class:`~mmkit.core.market.MarketState`; faults change only what is *published*.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mmkit.core.events import BBO, BookDelta, BookSnapshot, Event, Trade, TradeBatch, levels
from mmkit.core.market import MarketState
from mmkit.core.types import NS_PER_S, Instrument
from mmkit.errors import ConfigError
from mmkit.venues.emulator.clock import Clock
from mmkit.venues.emulator.config import EmulatorConfig

Listener = Callable[[Event], None]
#: a driver further behind than this stops sleeping and catches up
MAX_LAG_S = 1.0
SYNTHETIC_CHUNK_S = 30.0
SYNTHETIC_DURATION_S = 7 * 86_400.0


def _synthetic_events(cfg: EmulatorConfig, inst: Instrument) -> Iterator[Event]:
    from mmkit.data.params import calm_market
    from mmkit.data.synthetic import SyntheticFeed

    # the calm market (no informed flow, the order flow of before): the emulator is a
    # protocol fake, and the loopback live tests size their tolerances (the mid's drift
    # during a restart, fills within a short run) on it
    params = calm_market(seed=cfg.seed, duration_s=SYNTHETIC_DURATION_S, chunk_s=SYNTHETIC_CHUNK_S)
    return SyntheticFeed(params, inst, cfg.seed).events()


def _replay_feed(cfg: EmulatorConfig) -> Any:
    from mmkit.data.replay import ReplayFeed

    path = Path(cfg.data)
    if not path.exists():
        raise ConfigError([f"emulator --data {cfg.data!r}: no such file"])
    return ReplayFeed([str(path)], cfg.data_format)


def _decimals(x: float) -> int:
    for d in range(9):
        if abs(x * 10**d - round(x * 10**d)) < 1e-6:
            return d
    return 8


def infer_tick(events: list[Event]) -> float:
    """The finest decimal step of the prices in ``events`` (at least 1e-8)."""
    d = 0
    for ev in events:
        if isinstance(ev, BookSnapshot | BookDelta):
            for px in np.concatenate((ev.bid_px, ev.ask_px)).tolist()[:40]:
                d = max(d, _decimals(px))
        elif isinstance(ev, Trade):
            d = max(d, _decimals(ev.px))
    return float(10.0**-d)


def _is_market(ev: Event) -> bool:
    return isinstance(ev, BookSnapshot | BookDelta | Trade | BBO)


class MarketDriver:
    """Replays market events at ``speed`` and keeps the true book."""

    def __init__(self, cfg: EmulatorConfig, clock: Clock) -> None:
        self.cfg = cfg
        self.clock = clock
        self.state = MarketState()
        self.listeners: list[Listener] = []
        self.events_applied = 0
        self.volume_usd = 0.0
        self.finished = False
        #: called with :meth:`end_lines` when the replayed data ends (the command prints them)
        self.on_finished: Callable[[list[str]], None] | None = None
        self._feed: Any = None
        base = Instrument(coin=cfg.coin, sz_decimals=cfg.sz_decimals, min_notional=cfg.min_notional)
        if cfg.data:
            self._feed = _replay_feed(cfg)
            src = self._feed.events()
            head: list[Event] = []
            for ev in src:
                if _is_market(ev):
                    head.append(ev)
                if len(head) >= 50:
                    break
            if not head:
                raise ConfigError([f"emulator --data {cfg.data!r}: no market events"])
            self.instrument = dataclasses.replace(base, tick=infer_tick(head))
            self._events: Iterator[Event] = _chain(head, src)
        else:
            self.instrument = base
            self._events = _synthetic_events(cfg, base)
        self._bbo: BBO | None = None

    def prime(self) -> None:
        """Apply the first market events (up to the first book) before serving anything."""
        for ev in self._events:
            if not _is_market(ev):
                continue
            self._t0 = ev.ts
            self._wall0 = self.clock.now_ns()
            self._apply(ev)
            if isinstance(ev, BookSnapshot | BookDelta):
                return
        self.finished = True

    def _apply(self, ev: Event) -> None:
        if isinstance(ev, TradeBatch):  # the venue serves trades one by one
            for tr, _ in ev.trades():
                self._apply(tr)
            return
        ts = self.clock.now_ns()
        stamped = dataclasses.replace(ev, ts=ts, local_ts=-1)
        self.state.apply(stamped, ts)
        if isinstance(stamped, Trade):
            self.volume_usd += stamped.px * stamped.sz
        elif isinstance(stamped, BBO):
            self._bbo = stamped
        self.events_applied += 1
        for listen in self.listeners:
            listen(stamped)

    @property
    def book(self) -> BookSnapshot | None:
        st = self.state
        if not (st.bid_px.size or st.ask_px.size):
            b = self._bbo  # a feed without depth: its best levels
            if b is None:
                return None
            return BookSnapshot(
                b.ts, levels([b.bid_px]), levels([b.bid_sz]), levels([b.ask_px]), levels([b.ask_sz])
            )
        return BookSnapshot(
            st.book_ts if st.book_ts >= 0 else 0, st.bid_px, st.bid_sz, st.ask_px, st.ask_sz
        )

    @property
    def mid(self) -> float:
        m = self.state.mid
        if not math.isfinite(m) and self._bbo is not None:
            m = 0.5 * (self._bbo.bid_px + self._bbo.ask_px)
        return m if math.isfinite(m) else self.state.last_trade_px

    async def run(self) -> None:
        """Apply every event at its (scaled) time; returns when the feed ends."""
        speed = self.cfg.speed
        for ev in self._events:
            if not _is_market(ev):
                continue
            target = self._wall0 + (ev.ts - self._t0) / speed
            delay = (target - self.clock.now_ns()) / NS_PER_S
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -MAX_LAG_S:  # far behind (slow generation): re-anchor, do not burst
                self._wall0 -= int(delay * NS_PER_S)
                await asyncio.sleep(0)
            self._apply(ev)
        self.finished = True
        if self.on_finished is not None:
            self.on_finished(self.end_lines())

    def end_lines(self) -> list[str]:
        """What to say once the replayed data has ended: that it did (the book stays as it
        was, orders rest, nothing trades), and what was wrong in it (a truncated capture:
        :meth:`ReplayFeed.problems`); nothing for the synthetic market or before the end."""
        if self._feed is None or not self.finished:
            return []
        out = [
            f"emulator: the replayed data ended after {self.events_applied:,} market events; "
            "the book stays as it was (no market trades)"
        ]
        out += [f"emulator: input data problems: {p}" for p in self._feed.problems()]
        return out


def _chain(head: list[Event], rest: Iterator[Event]) -> Iterator[Event]:
    yield from head
    yield from rest


__all__ = ["MarketDriver", "infer_tick"]
