"""The simulator's options for the audit harness, and its venue-side event API.

None of these changes the defaults (backtest and paper): ``queue_model = "power"``, order ids
from 1, actions applied at the next market event or drain. The options are what the audit
harness's :class:`~mmkit.audit.harness.FakeVenue` runs on: ``queue_model = "front"`` (we stand
first at our level: the optimistic bound), ``first_oid``, ``apply_on_submit``; and the
venue-side events (the venue's own cancel, a fill the data do not show, a fill of an order we
never placed) are kernel changes reported as ordinary records.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.core.actions import Modify, Place, QueryOrder, SyncState
from mmkit.core.events import (
    ActionResult,
    Event,
    OrderStatus,
    OrderUpdate,
    OwnFill,
    PositionSnapshot,
)
from mmkit.core.outcomes import Outcome, RejectReason
from mmkit.core.types import Side
from mmkit.errors import VenueError
from mmkit.venues.sim.params import SimParams

from ._simkit import MS, book, cl, step, trade, venue

BOOK = book(0, [(99.0, 5.0)], [(101.0, 5.0)])


def results(evs: list[Event]) -> list[ActionResult]:
    return [e for e in evs if isinstance(e, ActionResult)]


def fills(evs: list[Event]) -> list[OwnFill]:
    return [e for e in evs if isinstance(e, OwnFill)]


def updates(evs: list[Event]) -> list[OrderUpdate]:
    return [e for e in evs if isinstance(e, OrderUpdate)]


def test_defaults_are_unchanged() -> None:
    p = SimParams()
    assert (p.queue_model, p.first_oid, p.apply_on_submit) == ("power", 1, False)
    v = venue()
    step(v, 0, market=BOOK)
    (r,) = results(step(v, 1, actions=[Place(1, cl(1), Side.BUY, 99.0, 1.0)]))
    assert r.oid == 1


def test_first_oid() -> None:
    v = venue(first_oid=1001)
    step(v, 0, market=BOOK)
    evs = step(v, 1, actions=[Place(1, cl(1), Side.BUY, 99.0, 1.0)])
    evs += step(v, 2, actions=[Modify(2, cl(1), 1001, Side.BUY, 98.0, 1.0)])
    assert [r.oid for r in results(evs)] == [1001, 1002]


def test_apply_on_submit_applies_before_any_market_event() -> None:
    """With entry latency, an action waits for its arrival; with ``apply_on_submit`` and
    entry latency 0 it is applied inside ``submit`` (open_orders shows it at once)."""
    lazy = venue(entry_latency_ms=0.0)
    eager = venue(entry_latency_ms=0.0, apply_on_submit=True)
    for v in (lazy, eager):
        step(v, 0, market=BOOK)
        v.submit([Place(1, cl(1), Side.BUY, 99.0, 1.0)], 1)
    assert lazy.open_orders() == () and lazy.state is not None
    assert [o.cloid for o in eager.open_orders()] == [cl(1)]
    assert len(eager.take_events()) == 2  # the answer and the OPEN update, already made


@settings(max_examples=60, deadline=None)
@given(
    level=st.floats(0.5, 20.0),
    ours=st.floats(0.1, 5.0),
    trades=st.lists(st.floats(0.01, 10.0), min_size=1, max_size=6),
)
def test_front_queue_fills_every_trade_at_our_price(
    level: float, ours: float, trades: list[float]
) -> None:
    """``front``: a trade at our price fills us up to its size, whatever rests there; the
    default model puts the displayed size ahead of us, so it never fills more."""
    ours = round(ours, 2)
    got: dict[str, float] = {}
    for model in ("front", "power"):
        v = venue(queue_model=model)
        step(v, 0, market=book(0, [(99.0, level)], [(101.0, 5.0)]))
        step(v, 1, actions=[Place(1, cl(1), Side.BUY, 99.0, ours)])
        evs: list[Event] = []
        for k, q in enumerate(trades):
            evs += step(v, 2 + k, market=trade(2 + k, Side.SELL, 99.0, q))
        got[model] = sum(f.sz for f in fills(evs))
    assert got["front"] == pytest.approx(min(ours, sum(trades)))
    assert got["power"] <= got["front"] + 1e-9
    if sum(trades) <= level:  # nothing got past the displayed size ahead of us
        assert got["power"] == 0.0


def test_venue_cancel_is_other_canceled() -> None:
    v = venue()
    step(v, 0, market=BOOK)
    step(v, 1, actions=[Place(1, cl(1), Side.BUY, 99.0, 1.0)])
    assert v.venue_cancel(2 * MS, cloid=cl(1))
    assert not v.venue_cancel(2 * MS, cloid=cl(1))  # nothing rests any more
    (u,) = updates(v.drain(2 * MS))
    assert (u.status, u.raw_status, u.cloid) == (
        OrderStatus.OTHER_CANCELED,
        "marginCanceled",
        cl(1),
    )
    (q,) = updates(step(v, 3 * MS, actions=[QueryOrder(2, None, u.oid)]))
    assert q.status is OrderStatus.OTHER_CANCELED and q.raw_status == "marginCanceled"
    (r,) = results(step(v, 4 * MS, actions=[Modify(3, cl(1), u.oid, Side.BUY, 98.0, 1.0)]))
    assert r.outcome is Outcome.REJECTED and r.reason is RejectReason.MODIFY_TARGET_CANCELED


def test_venue_fill_partly_then_all() -> None:
    v = venue()
    step(v, 0, market=BOOK)
    step(v, 1, actions=[Place(1, cl(1), Side.BUY, 99.0, 1.0)])
    assert v.venue_fill(2, cloid=cl(1), sz=0.25) == pytest.approx(0.25)
    assert v.venue_fill(3, cloid=cl(1)) == pytest.approx(0.75)
    assert v.venue_fill(4, cloid=cl(1)) == 0.0
    evs = v.drain(4)
    assert [(f.sz, f.px, f.crossed) for f in fills(evs)] == [
        (0.25, 99.0, False),
        (0.75, 99.0, False),
    ]
    assert updates(evs)[-1].status is OrderStatus.FILLED and v.position == pytest.approx(1.0)
    assert v.fees == pytest.approx(99.0 * SimParams().maker_fee)


def test_account_fill_moves_the_position_with_a_fresh_oid() -> None:
    v = venue(first_oid=50)
    step(v, 0, market=BOOK)
    oid = v.account_fill(Side.SELL, 2.0, 100.0, 1)
    assert oid == 50 and v.position == pytest.approx(-2.0)
    (f,) = fills(v.drain(1))
    assert (f.oid, f.cloid, f.side, f.sz, f.crossed) == (50, None, Side.SELL, 2.0, True)
    (snap,) = [
        e for e in step(v, 2, actions=[SyncState(1, "test")]) if isinstance(e, PositionSnapshot)
    ]
    assert snap.position == pytest.approx(-2.0) and snap.entry_px == pytest.approx(100.0)
    with pytest.raises(VenueError, match="not a trade"):
        v.account_fill(Side.BUY, float("nan"), 100.0, 3)
