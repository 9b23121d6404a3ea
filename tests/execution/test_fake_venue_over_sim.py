"""The harness's fake venue is the simulated exchange plus faults: it has no matcher of its own.

* differential: a :class:`FakeVenue` and a bare :class:`SimVenue` with the harness's parameters,
  driven by the same random market and actions (no fault knobs), end with the same open
  orders, position and fills, and deliver the same events;
* the rules are the simulator's, which are Hyperliquid's where the old in-house matcher was
  not: an IOC that matches nothing is refused, a crossing order pays the taker fee and takes
  the book's depth up to its limit, a modify whose target filled is refused as
  ``MODIFY_TARGET_CANCELED`` (the venue's one string);
* the venue-side faults go through the simulator's venue-side event API.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.audit.harness import FakeVenue, book, harness_params
from mmkit.core.actions import Action, Cancel, Modify, Place, QueryOrder, SyncState, make_cloid
from mmkit.core.events import (
    ActionResult,
    BookSnapshot,
    Event,
    OrderStatus,
    OrderUpdate,
    OwnFill,
    PositionSnapshot,
    Trade,
    levels,
)
from mmkit.core.outcomes import Outcome, RejectReason
from mmkit.core.types import NS_PER_MS, Instrument, Side, Tif
from mmkit.venues.sim.venue import SimVenue

INST = Instrument(sz_decimals=3)
T = 1_000_000_000
C1, C2 = make_cloid(1), make_cloid(2)


def results(evs: list[Event]) -> list[ActionResult]:
    return [e for e in evs if isinstance(e, ActionResult)]


def fills(evs: list[Event]) -> list[OwnFill]:
    return [e for e in evs if isinstance(e, OwnFill)]


def venue(sz: float = 1.0) -> FakeVenue:
    v = FakeVenue(INST, latency_ns=NS_PER_MS)
    v.on_market(book(99.5, 100.5, T, sz), T)
    return v


# ------------------------------------------------------------------------------------------
# differential: FakeVenue == SimVenue(harness_params) without faults
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """One step of a random run: a market event or one of our actions."""

    kind: str  # place | modify | cancel | trade | book | sync
    side: Side
    px: float
    sz: float
    tif: Tif
    k: int  # which cloid (modify, cancel); the book's spread in 0.1 steps


_steps = st.builds(
    Step,
    st.sampled_from(["place", "modify", "cancel", "trade", "book", "sync"]),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(960, 1040).map(lambda k: k / 10),
    st.integers(1, 30).map(lambda k: k / 100),
    st.sampled_from(list(Tif)),
    st.integers(1, 6),
)


def _actions(s: Step, rid: int) -> list[Action]:
    if s.kind == "place":
        return [Place(rid, make_cloid(rid % 6), s.side, s.px, s.sz, s.tif)]
    if s.kind == "modify":
        return [Modify(rid, make_cloid(s.k), None, s.side, s.px, s.sz)]
    if s.kind == "cancel":
        return [Cancel(rid, make_cloid(s.k), None)]
    if s.kind == "sync":
        return [SyncState(rid, "check")]
    return []


def _market(s: Step, now: int) -> Event | None:
    if s.kind == "trade":
        return Trade(now, s.px, s.sz, s.side, local_ts=now)
    if s.kind == "book":
        ask = round(s.px + s.k / 10, 1)
        one = levels([s.sz])
        return BookSnapshot(now, levels([s.px]), one, levels([ask]), one, local_ts=now)
    return None


@settings(max_examples=40, deadline=None)
@given(st.lists(_steps, min_size=1, max_size=25))
def test_fake_venue_is_the_simulator(steps: list[Step]) -> None:
    fake = FakeVenue(INST, latency_ns=NS_PER_MS)
    sim = SimVenue(harness_params(INST, NS_PER_MS, maker_fee=-0.00002, taker_fee=0.00045), INST, 0)
    now = T
    for v in (fake, sim):
        v.on_market(book(99.5, 100.5, now), now)
    got: dict[str, list[Event]] = {"fake": [], "sim": []}
    for rid, step in enumerate(steps, start=1):
        now += NS_PER_MS
        ev = _market(step, now)
        for name, v in (("fake", fake), ("sim", sim)):
            if ev is not None:
                v.on_market(ev, now)
            acts = _actions(step, rid)
            if acts:
                v.submit(acts, now)
            got[name] += v.drain(now)
    for name, v in (("fake", fake), ("sim", sim)):
        got[name] += v.drain(now + 10 * NS_PER_MS)
    assert fake.open_orders() == list(sim.open_orders())
    assert fake.position == sim.position
    assert fills(got["fake"]) == fills(got["sim"])
    # the one rewrite: a refusal's reason is the catalogue's reading of the venue's string
    norm = [
        replace(e, reason=RejectReason.MODIFY_TARGET_CANCELED)
        if isinstance(e, ActionResult) and e.reason is RejectReason.MODIFY_TARGET_FILLED
        else e
        for e in got["sim"]
    ]
    assert got["fake"] == norm


# ------------------------------------------------------------------------------------------
# the simulator's rules (where the old in-house matcher differed)
# ------------------------------------------------------------------------------------------
def test_ioc_that_cannot_match_is_refused() -> None:
    """The old fake answered FILLED with nothing filled; Hyperliquid refuses it."""
    v = venue()
    v.submit([Place(1, C1, Side.BUY, 99.0, 0.2, Tif.IOC)], T)
    (r,) = results(v.drain(T + NS_PER_MS))
    assert r.outcome is Outcome.REJECTED and r.reason is RejectReason.IOC_NO_MATCH
    assert r.message.startswith("Order could not immediately match")


def test_crossing_order_pays_taker_fee_and_walks_the_depth() -> None:
    """The old fake filled the whole size at the touch with the maker fee."""
    v = venue(sz=0.1)
    v.submit([Place(1, C1, Side.BUY, 101.0, 0.3, Tif.GTC)], T)
    evs = v.drain(T + NS_PER_MS)
    (f,) = fills(evs)
    assert f.px == 100.5 and f.sz == pytest.approx(0.1) and f.crossed
    assert f.fee == pytest.approx(100.5 * 0.1 * 0.00045)  # taker fee
    (rest,) = v.open_orders()  # the rest of a GTC rests at its limit
    assert rest.px == 101.0 and rest.sz == pytest.approx(0.2)


def test_modify_of_a_filled_target_reads_as_canceled() -> None:
    v = venue()
    v.submit([Place(1, C1, Side.BUY, 99.0, 0.2)], T)
    v.fail_next_modify("target_filled")
    v.submit([Modify(2, C1, 1001, Side.BUY, 98.0, 0.2)], T)
    (r,) = [x for x in results(v.drain(T + NS_PER_MS)) if x.request_id == 2]
    assert r.reason is RejectReason.MODIFY_TARGET_CANCELED
    assert r.message == "Cannot modify canceled or filled order"
    assert v.position == pytest.approx(0.2)


def test_front_queue_a_trade_at_our_price_fills_us() -> None:
    """We stand first at our level: the 5 displayed ahead of us do not delay the fill."""
    v = venue(sz=5.0)
    v.submit([Place(1, C1, Side.BUY, 99.5, 0.2)], T)
    v.on_market(Trade(T, 99.5, 0.05, Side.SELL), T)
    (f,) = fills(v.drain(T + NS_PER_MS))
    assert f.sz == pytest.approx(0.05) and f.px == 99.5 and not f.crossed


# ------------------------------------------------------------------------------------------
# venue-side faults through the simulator's venue-side event API
# ------------------------------------------------------------------------------------------
def test_venue_side_cancel_fill_and_external_fill() -> None:
    v = venue()
    v.submit([Place(1, C1, Side.BUY, 99.0, 0.2), Place(2, C2, Side.SELL, 101.0, 0.2)], T)
    assert v.fill_order(cloid=C1, sz=0.05) == pytest.approx(0.05)
    assert v.cancel_order_externally(1002)
    assert not v.cancel_order_externally(1002)
    v.external_fill(Side.SELL, 0.5, 100.0, liquidation=True)
    v.external_fill(Side.SELL, 0.1, 100.0, emit=False)
    evs = v.drain(T + NS_PER_MS)
    ups = {(e.oid, e.status) for e in evs if isinstance(e, OrderUpdate)}
    assert (1002, OrderStatus.OTHER_CANCELED) in ups
    liq = [f for f in fills(evs) if f.liquidation]
    assert len(liq) == 1 and liq[0].oid == 1003 and liq[0].cloid is None
    assert len(fills(evs)) == 2  # the silent one moved the position only
    assert v.position == pytest.approx(0.05 - 0.6)
    assert v.filled_by_cloid == {C1: pytest.approx(0.05)}
    assert v.history[1001].sz == pytest.approx(0.15) and v.history[1001].cloid == C1
    v.submit([SyncState(3, "startup"), QueryOrder(4, None, 1002)], T + NS_PER_MS)
    # + 1 ns: what follows a snapshot is applied one ns after it (its fills are not in it)
    evs = v.drain(T + 2 * NS_PER_MS + 1)
    (snap,) = [e for e in evs if isinstance(e, PositionSnapshot)]
    assert snap.startup and snap.position == pytest.approx(v.position)
    (q,) = [e for e in evs if isinstance(e, OrderUpdate)]
    assert q.status is OrderStatus.OTHER_CANCELED


def test_bad_market_price_is_a_clear_error() -> None:
    """Prices off the instrument's price step are refused by name, never matched."""
    from mmkit.errors import DataError

    v = venue()
    with pytest.raises(DataError, match="not a multiple of the tick"):
        v.on_market(Trade(T, 99.50005, 0.1, Side.SELL), T)
    assert math.isfinite(v.bid)


# ------------------------------------------------------------------------------------------
# the harness grid at high prices
# ------------------------------------------------------------------------------------------
BTC3 = Instrument(coin="BTC", sz_decimals=3, tick=0.1)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 5),  # sz_decimals
    st.sampled_from([1, 2, 5, 10, 100]),  # tick in units of the finest valid step
    st.floats(0.5, 500_000.0),
    st.integers(0, 10**6),
)
def test_the_grid_tick_divides_every_price_the_harness_can_see(
    szd: int, mult: int, price: float, k: int
) -> None:
    """Whatever tick the harness picks, every valid order price of its range is on it; a
    tick coarser than the finest valid step is picked only for a grid too large to hold,
    then fits, and keeps every market price on a tick or half-way between two ticks."""
    from mmkit.audit.harness.venue import LARGE_GRID, PRICE_RANGE, grid_tick
    from mmkit.rounding import price_step
    from mmkit.venues.sim.state import MAX_TICKS

    price = float(price)
    fine = 10.0 ** -(6 - szd)
    inst = Instrument(sz_decimals=szd, tick=round(fine * mult, 6 - szd))
    tick = grid_tick(inst, price, fine)
    columns = 2 * PRICE_RANGE * price / tick
    assert tick == fine or (tick > fine and 2 * PRICE_RANGE * price / fine > LARGE_GRID)
    # coarsened: at least ten times smaller (one that still cannot fit is refused by the
    # simulator with the figures, as before)
    assert tick == fine or columns * 10 <= 2 * PRICE_RANGE * price / fine * (1 + 1e-9)
    if szd == 3 and inst.tick == 0.1 and price < 250_000:  # BTC on the venue's grid fits
        assert columns <= MAX_TICKS
    lo, hi = price * (1 - PRICE_RANGE), price * (1 + PRICE_RANGE)

    def on(x: float) -> bool:
        return abs(x / tick - round(x / tick)) <= 1e-6 * max(1.0, x / tick)

    valid = price_step(lo, szd) * (k % max(1, int((hi - lo) / price_step(lo, szd))) + 1)
    valid = round(lo / price_step(lo, szd)) * price_step(lo, szd) + valid
    assert on(valid), (tick, valid)
    if tick != fine:
        assert on(inst.tick * (k % 1000) + inst.tick / 2), tick


def test_btc_at_100000_with_three_size_decimals_trades_on_the_harness() -> None:
    """At 0.001 the grid would need 180 million columns and the venue refused to start (the
    twins' warm-up failed on every backtest of such a config and compiled lazily)."""
    v = FakeVenue(BTC3, latency_ns=NS_PER_MS)
    v.on_market(book(99_999.95, 100_000.05, T, 1.0), T)
    assert v.sim.cfg.tick == 0.01
    v.submit(
        [Place(1, C1, Side.BUY, 99_999.0, 0.002), Place(2, C2, Side.SELL, 100_001.0, 0.002)], T
    )
    rs = results(v.drain(T + NS_PER_MS))
    assert [r.outcome for r in rs] == [Outcome.RESTING, Outcome.RESTING]
    v.on_market(Trade(T + 2 * NS_PER_MS, 99_999.0, 0.5, Side.SELL, local_ts=T), T + 2 * NS_PER_MS)
    (f,) = fills(v.drain(T + 3 * NS_PER_MS))
    assert f.px == 99_999.0 and f.sz == pytest.approx(0.002)
