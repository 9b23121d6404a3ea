"""Scenario tests of the simulated exchange's matching rules, through ``SimVenue``."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from mmkit.components import Venue
from mmkit.core.actions import Cancel, CancelAll, Modify, Place, QueryOrder, SyncState
from mmkit.core.events import (
    ActionResult,
    OrderStatus,
    OrderUpdate,
    OwnFill,
    PositionSnapshot,
)
from mmkit.core.outcomes import Outcome, RejectReason
from mmkit.core.types import Side, Tif
from mmkit.errors import DataError
from mmkit.venues.sim.params import SimParams
from mmkit.venues.sim.venue import SimVenue

from ._simkit import INST, MS, book, cl, delta, step, trade, venue

BOOK = book(0, [(100.0, 5.0), (99.0, 3.0)], [(101.0, 4.0), (102.0, 2.0)])


def results(evs: list) -> list[ActionResult]:  # type: ignore[type-arg]
    return [e for e in evs if isinstance(e, ActionResult)]


def fills(evs: list) -> list[OwnFill]:  # type: ignore[type-arg]
    return [e for e in evs if isinstance(e, OwnFill)]


def test_is_a_venue() -> None:
    assert isinstance(venue(), Venue)


def test_queue_position_then_fill_at_our_price() -> None:
    v = venue()
    step(v, 0, market=BOOK)
    (r,) = results(step(v, 1, actions=[Place(1, cl(1), Side.BUY, 100.0, 1.0)]))
    assert r.outcome is Outcome.RESTING and r.oid is not None
    assert v.queue_ahead(r.oid) == 5.0
    assert not fills(step(v, 2, market=trade(2, Side.SELL, 100.0, 2.0)))
    assert v.queue_ahead(r.oid) == 3.0
    (f,) = fills(step(v, 3, market=trade(3, Side.SELL, 100.0, 3.5)))
    assert (f.px, f.sz, f.crossed) == (100.0, 0.5, False)
    assert f.fee == pytest.approx(0.00015 * 100.0 * 0.5)
    (f,) = fills(step(v, 4, market=trade(4, Side.SELL, 100.0, 1.0)))
    assert f.sz == 0.5
    assert v.position == 1.0


def test_trade_through_fills_best_price_first() -> None:
    v = venue()
    step(v, 0, market=BOOK)
    step(
        v, 1, actions=[Place(1, cl(1), Side.BUY, 99.0, 1.0), Place(2, cl(2), Side.BUY, 100.0, 1.0)]
    )
    got = fills(step(v, 2, market=trade(2, Side.SELL, 98.0, 1.5)))
    assert [(f.cloid, f.px, f.sz) for f in got] == [(cl(2), 100.0, 1.0), (cl(1), 99.0, 0.5)]


def test_book_moving_through_our_price_fills_us_as_maker() -> None:
    v = venue()
    step(v, 0, market=BOOK)
    step(v, 1, actions=[Place(1, cl(1), Side.SELL, 102.0, 1.0)])
    (f,) = fills(step(v, 2, market=delta(2, Side.BUY, 102.0, 7.0)))
    assert (f.side, f.px, f.sz, f.crossed) == (Side.SELL, 102.0, 1.0, False)


def test_size_decrease_advances_queue_by_model() -> None:
    for model, expect in (("risk_averse", 5.0), ("power", 5.0 - 4.0 * 25 / 26)):
        v = venue(queue_model=model, queue_power=2.0)
        step(v, 0, market=BOOK)
        (r,) = results(step(v, 1, actions=[Place(1, cl(1), Side.BUY, 100.0, 1.0)]))
        step(v, 2, market=delta(2, Side.BUY, 100.0, 6.0))  # one joins behind us: 5 ahead, 1 behind
        step(v, 3, market=delta(3, Side.BUY, 100.0, 2.0))  # 4 cancelled
        assert r.oid is not None
        # power 2: share ahead = 5^2 / (5^2 + 1^2); ahead never exceeds the level's size
        assert v.queue_ahead(r.oid) == pytest.approx(min(expect, 2.0))


def test_trade_then_depth_decrease_is_not_counted_twice() -> None:
    v = venue(queue_model="power", queue_power=1.0)
    step(v, 0, market=BOOK)
    (r,) = results(step(v, 1, actions=[Place(1, cl(1), Side.BUY, 100.0, 1.0)]))
    step(v, 2, market=trade(2, Side.SELL, 100.0, 2.0))
    step(v, 3, market=delta(3, Side.BUY, 100.0, 3.0))  # the trade's decrease arrives
    assert r.oid is not None and v.queue_ahead(r.oid) == 3.0


def test_post_only_cross_is_rejected_with_venue_string() -> None:
    v = venue()
    step(v, 0, market=BOOK)
    (r,) = results(step(v, 1, actions=[Place(1, cl(1), Side.BUY, 101.0, 1.0)]))
    assert r.outcome is Outcome.REJECTED
    assert r.reason is RejectReason.POST_ONLY_WOULD_CROSS
    assert r.message == ("Post only order would have immediately matched, bbo was 100@101. asset=0")


def test_gtc_takes_liquidity_as_taker_and_rests_the_rest() -> None:
    v = venue()
    step(v, 0, market=BOOK)
    evs = step(v, 1, actions=[Place(1, cl(1), Side.BUY, 102.0, 7.0, tif=Tif.GTC)])
    (f,) = fills(evs)
    assert f.crossed and f.sz == 6.0
    assert f.px == pytest.approx((101.0 * 4 + 102.0 * 2) / 6)
    assert f.fee == pytest.approx(0.00045 * f.px * 6.0)
    (r,) = results(evs)
    assert r.outcome is Outcome.RESTING and r.filled_sz == 6.0
    assert [o.sz for o in v.open_orders()] == [1.0]


def test_ioc_without_match_and_partial_ioc() -> None:
    v = venue()
    step(v, 0, market=BOOK)
    (r,) = results(step(v, 1, actions=[Place(1, cl(1), Side.BUY, 100.0, 1.0, tif=Tif.IOC)]))
    assert r.reason is RejectReason.IOC_NO_MATCH
    assert r.message == "Order could not immediately match against any resting orders. asset=0"
    evs = step(v, 2, actions=[Place(2, cl(2), Side.SELL, 100.0, 8.0, tif=Tif.IOC)])
    (r,) = results(evs)
    assert r.outcome is Outcome.FILLED and r.filled_sz == 5.0
    assert not v.open_orders()


def test_modify_gives_new_oid_and_cancels_old() -> None:
    v = venue()
    step(v, 0, market=BOOK)
    (r,) = results(step(v, 1, actions=[Place(1, cl(1), Side.BUY, 99.0, 1.0)]))
    evs = step(v, 2, actions=[Modify(2, cl(1), r.oid, Side.BUY, 98.0, 2.0)])
    ups = [e for e in evs if isinstance(e, OrderUpdate)]
    assert [(u.oid, u.status) for u in ups] == [
        (r.oid, OrderStatus.CANCELED),
        (ups[1].oid, OrderStatus.OPEN),
    ]
    (m,) = results(evs)
    assert m.outcome is Outcome.RESTING and m.oid == ups[1].oid != r.oid and m.cloid == cl(1)


def test_modify_of_filled_and_cancelled_orders() -> None:
    v = venue()
    step(v, 0, market=BOOK)
    (r,) = results(step(v, 1, actions=[Place(1, cl(1), Side.SELL, 101.0, 1.0)]))
    step(v, 2, market=trade(2, Side.BUY, 102.0, 1.0))
    (m,) = results(step(v, 3, actions=[Modify(2, cl(1), r.oid, Side.SELL, 103.0, 1.0)]))
    assert m.reason is RejectReason.MODIFY_TARGET_FILLED
    assert m.message == "Cannot modify canceled or filled order"
    results(step(v, 4, actions=[Place(3, cl(2), Side.SELL, 103.0, 1.0)]))
    step(v, 5, actions=[Cancel(4, cl(2), None)])
    (m,) = results(step(v, 6, actions=[Modify(5, cl(2), None, Side.SELL, 104.0, 1.0)]))
    assert m.reason is RejectReason.MODIFY_TARGET_CANCELED


def test_modify_to_crossing_price_loses_the_order() -> None:
    v = venue()
    step(v, 0, market=BOOK)
    (r,) = results(step(v, 1, actions=[Place(1, cl(1), Side.BUY, 99.0, 1.0)]))
    (m,) = results(step(v, 2, actions=[Modify(2, cl(1), r.oid, Side.BUY, 101.0, 1.0)]))
    assert m.reason is RejectReason.MODIFY_PLACE_FAILED
    assert m.message.startswith("Error placing new order during modify: Post only order would")
    assert not v.open_orders()


def test_cancel_of_gone_order() -> None:
    v = venue()
    step(v, 0, market=BOOK)
    (r,) = results(step(v, 1, actions=[Cancel(1, None, 12345)]))
    assert r.reason is RejectReason.ORDER_GONE
    assert r.message == "Order was never placed, already canceled, or filled. asset=0"


def test_cancel_all_sync_and_query() -> None:
    v = venue()
    step(v, 0, market=BOOK)
    step(
        v, 1, actions=[Place(1, cl(1), Side.BUY, 99.0, 1.0), Place(2, cl(2), Side.SELL, 102.0, 1.0)]
    )
    step(v, 2, market=trade(2, Side.SELL, 98.0, 1.0))
    evs = step(
        v,
        3,
        actions=[
            SyncState(3, "t"),
            QueryOrder(4, cl(2), None),
            CancelAll(5, "t"),
            SyncState(6, "t"),
            QueryOrder(7, cl(1), None),
        ],
    )
    snaps = [e for e in evs if isinstance(e, PositionSnapshot)]
    assert snaps[0].position == 1.0 and snaps[0].entry_px == 99.0
    assert snaps[0].open_orders is not None and [o.cloid for o in snaps[0].open_orders] == [cl(2)]
    assert snaps[1].open_orders == ()
    queries = [e for e in evs if isinstance(e, OrderUpdate) and e.raw_status != "canceled"]
    assert [q.status for q in queries] == [OrderStatus.OPEN, OrderStatus.FILLED]
    assert (queries[1].side, queries[1].px, queries[1].orig_sz) == (Side.BUY, 99.0, 1.0)


def test_reduce_only_and_min_notional() -> None:
    v = SimVenue(
        SimParams(entry_latency_ms=0, response_latency_ms=0), replace(INST, min_notional=10.0)
    )
    step(v, 0, market=BOOK)
    (r,) = results(step(v, 1, actions=[Place(1, cl(1), Side.SELL, 103.0, 1.0, reduce_only=True)]))
    assert r.reason is RejectReason.REDUCE_ONLY
    assert r.message == "Reduce only order would increase position. asset=0"
    (r,) = results(step(v, 2, actions=[Place(2, cl(2), Side.SELL, 103.0, 0.05)]))
    assert r.reason is RejectReason.MIN_NOTIONAL
    assert r.message == "Order must have minimum value of $10. asset=0"
    (r,) = results(step(v, 3, actions=[Place(3, cl(3), Side.SELL, 103.0, 0.123)]))
    assert r.reason is RejectReason.INVALID_SIZE and r.message == "Order has invalid size."
    (r,) = results(step(v, 4, actions=[Place(4, cl(4), Side.SELL, 103.5, 1.0)]))
    assert r.reason is RejectReason.INVALID_PRICE and r.message == "Order has invalid price."


def test_latency_delays_ack_and_application() -> None:
    v = venue(entry_latency_ms=10.0, response_latency_ms=5.0)
    step(v, 0, market=BOOK)
    assert step(v, 1 * MS, actions=[Place(1, cl(1), Side.BUY, 100.0, 1.0)]) == []
    # a trade before our order arrives (at 11 ms) does not touch it
    step(v, 5 * MS, market=trade(5 * MS, Side.SELL, 100.0, 10.0))
    evs = v.drain(16 * MS)
    (r,) = results(evs)
    assert r.ts == 11 * MS and r.local_ts == 16 * MS and not fills(evs)


def test_off_tick_market_data_is_a_clear_error() -> None:
    v = venue()
    with pytest.raises(DataError, match="not a multiple of the tick"):
        v.on_market(book(0, [(100.5, 1.0)], [(101.0, 1.0)]), 0)


def test_snapshot_replaces_levels() -> None:
    v = venue()
    step(v, 0, market=BOOK)
    step(v, 1, market=book(1, [(99.0, 1.0)], [(100.0, 2.0)]))
    assert (v.best_bid, v.best_ask) == (99.0, 100.0)
    assert math.isfinite(v.best_bid)


def test_actions_before_any_market_data_then_regrid() -> None:
    v = venue()
    (r,) = results(step(v, 0, actions=[Cancel(1, cl(9), None)]))
    assert r.reason is RejectReason.ORDER_GONE
    step(v, 1, market=book(1, [(60000.0, 1.0)], [(60001.0, 1.0)]))
    (r,) = results(step(v, 2, actions=[Place(2, cl(1), Side.BUY, 59990.0, 1.0)]))
    assert r.outcome is Outcome.RESTING
    (r,) = results(step(v, 3, actions=[Place(3, cl(2), Side.BUY, 600.0, 1.0)]))
    assert r.reason is RejectReason.PRICE_TOO_FAR
    assert r.message == "Order price cannot be more than 80% away from the reference price"


def test_a_trade_batch_matches_as_its_trades_one_by_one() -> None:
    """Runners may hand the venue a TradeBatch: it fills exactly as the rows would."""
    from mmkit.core.events import TradeBatch

    rows = [trade(2, Side.SELL, 100.0, 2.0), trade(3, Side.SELL, 100.0, 3.5)]
    out = []
    for batched in (False, True):
        v = venue()
        step(v, 0, market=BOOK)
        step(v, 1, actions=[Place(1, cl(1), Side.BUY, 100.0, 1.0)])
        if batched:
            got = step(v, 3, market=TradeBatch.of(rows))
        else:
            got = step(v, 2, market=rows[0]) + step(v, 3, market=rows[1])
        out.append([(f.px, f.sz, f.crossed) for f in fills(got)])
    assert out[0] == out[1] == [(100.0, 0.5, False)]
