"""The fake venue's Hyperliquid semantics and fault knobs."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmkit.components import Venue
from mmkit.core.actions import (
    Cancel,
    CancelAll,
    Modify,
    Place,
    QueryOrder,
    SyncState,
    make_cloid,
)
from mmkit.core.events import (
    ActionResult,
    OrderStatus,
    OrderUpdate,
    OwnFill,
    PositionSnapshot,
    Trade,
)
from mmkit.core.outcomes import Outcome, RejectReason
from mmkit.core.types import NS_PER_MS, Instrument, Side, Tif
from mmkit.errors import ConfigError
from mmkit.testing.fake_venue import FakeVenue, book, reason_from_message
from mmkit.venues.faults import POST_ONLY_MESSAGE
from mmkit.venues.hyperliquid.errors import reason_of

C1, C2 = make_cloid(1), make_cloid(2)
T = 1_000_000_000


def venue() -> FakeVenue:
    v = FakeVenue(Instrument(), latency_ns=NS_PER_MS)
    v.on_market(book(99.5, 100.5, T), T)
    return v


def results(evs: list) -> list[ActionResult]:  # type: ignore[type-arg]
    return [e for e in evs if isinstance(e, ActionResult)]


def test_is_a_venue() -> None:
    assert isinstance(FakeVenue(), Venue)


def test_place_rests_after_latency() -> None:
    v = venue()
    v.submit([Place(1, C1, Side.BUY, 99.0, 0.2)], T)
    assert v.drain(T) == []
    evs = v.drain(T + NS_PER_MS)
    r = results(evs)[0]
    assert r.outcome is Outcome.RESTING and r.oid == 1001 and r.cloid == C1
    assert any(isinstance(e, OrderUpdate) and e.status is OrderStatus.OPEN for e in evs)


def test_alo_cross_rejected_with_venue_string() -> None:
    v = venue()
    v.submit([Place(1, C1, Side.BUY, 101.0, 0.2)], T)
    r = results(v.drain(T + NS_PER_MS))[0]
    assert r.outcome is Outcome.REJECTED and r.reason is RejectReason.POST_ONLY_WOULD_CROSS
    assert r.message.startswith(
        "Post only order would have immediately matched, bbo was 99.5@100.5"
    )


def test_gtc_cross_fills_as_taker() -> None:
    v = venue()
    v.submit([Place(1, C1, Side.BUY, 101.0, 0.2, Tif.GTC)], T)
    evs = v.drain(T + NS_PER_MS)
    assert results(evs)[0].outcome is Outcome.FILLED
    fill = next(e for e in evs if isinstance(e, OwnFill))
    assert fill.px == 100.5 and fill.crossed and v.position == pytest.approx(0.2)


def test_modify_is_cancel_replace_with_new_oid() -> None:
    v = venue()
    v.submit([Place(1, C1, Side.BUY, 99.0, 0.2)], T)
    v.submit([Modify(2, C1, 1001, Side.BUY, 98.0, 0.3)], T)
    evs = v.drain(T + NS_PER_MS)
    r = results(evs)[-1]
    assert r.outcome is Outcome.RESTING and r.oid == 1002
    ups = [(e.oid, e.status) for e in evs if isinstance(e, OrderUpdate)]
    assert (1001, OrderStatus.CANCELED) in ups and (1002, OrderStatus.OPEN) in ups
    (o,) = v.open_orders()
    assert o.cloid == C1 and o.px == 98.0 and o.sz == 0.3


@pytest.mark.parametrize(
    ("kind", "reason", "prefix"),
    [
        ("target_filled", RejectReason.MODIFY_TARGET_CANCELED, "Cannot modify canceled or filled"),
        ("target_canceled", RejectReason.MODIFY_TARGET_CANCELED, "Cannot modify canceled"),
        ("place_failed", RejectReason.MODIFY_PLACE_FAILED, "Error placing new order during modify"),
    ],
)
def test_modify_failures(kind: str, reason: RejectReason, prefix: str) -> None:
    v = venue()
    v.submit([Place(1, C1, Side.BUY, 99.0, 0.2)], T)
    v.fail_next_modify(kind)
    v.submit([Modify(2, C1, 1001, Side.BUY, 98.0, 0.2)], T)
    r = results(v.drain(T + NS_PER_MS))[-1]
    assert r.outcome is Outcome.REJECTED and r.reason is reason and r.message.startswith(prefix)
    assert v.open_orders() == []  # the original is gone in every case
    assert v.position == (pytest.approx(0.2) if kind == "target_filled" else 0.0)


def test_cancel_gone_and_cancel_all() -> None:
    v = venue()
    v.submit([Place(1, C1, Side.BUY, 99.0, 0.2), Place(2, C2, Side.SELL, 101.0, 0.2)], T)
    v.submit([Cancel(3, None, 999), CancelAll(4, "test")], T)
    rs = {r.request_id: r for r in results(v.drain(T + NS_PER_MS))}
    assert rs[3].reason is RejectReason.ORDER_GONE
    assert rs[3].message.startswith("Order was never placed, already canceled, or filled.")
    assert rs[4].outcome is Outcome.CANCELED and v.open_orders() == []


def test_sync_and_query() -> None:
    v = venue()
    v.submit([Place(1, C1, Side.BUY, 99.0, 0.2), SyncState(2, "startup")], T)
    v.submit([QueryOrder(3, C1, None), QueryOrder(4, make_cloid(99), None)], T)
    # + 1 ns: what follows a snapshot is applied one ns after it (its fills are not in it)
    evs = v.drain(T + NS_PER_MS + 1)
    snap = next(e for e in evs if isinstance(e, PositionSnapshot))
    assert snap.startup and snap.open_orders is not None and len(snap.open_orders) == 1
    q, unknown = [e for e in evs if isinstance(e, OrderUpdate)][-2:]
    assert q.oid == 1001 and q.status is OrderStatus.OPEN
    assert unknown.raw_status == "unknownOid" and unknown.status is OrderStatus.REJECTED
    assert unknown.oid == -1 and unknown.cloid == make_cloid(99)


def test_partial_fill_from_trade_and_fill_through() -> None:
    v = venue()
    v.submit([Place(1, C1, Side.BUY, 99.0, 0.3)], T)
    v.on_market(Trade(T, 98.5, 0.1, Side.SELL), T)
    assert v.open_orders()[0].sz == pytest.approx(0.2)
    v.on_market(book(98.0, 98.9, T), T)  # the ask moved through our bid
    assert v.open_orders() == [] and v.position == pytest.approx(0.3)
    fills = [e for e in v.drain(T + NS_PER_MS) if isinstance(e, OwnFill)]
    assert [f.sz for f in fills] == pytest.approx([0.1, 0.2]) and fills[0].px == 99.0


def test_lost_delayed_reordered_and_disconnected() -> None:
    v = venue()
    v.lose_next_acks(1, applied=False)
    v.submit([Place(1, C1, Side.BUY, 99.0, 0.2)], T)
    assert results(v.drain(T + NS_PER_MS))[0].outcome is Outcome.UNKNOWN and not v.open_orders()
    v.lose_next_acks(1, applied=True)
    v.delay_next_acks(1, 5 * NS_PER_MS)
    v.submit([Place(2, C2, Side.BUY, 98.0, 0.2)], T)
    evs = v.drain(T + NS_PER_MS)
    assert not results(evs) and len(v.open_orders()) == 1
    assert results(v.drain(T + 6 * NS_PER_MS))[0].outcome is Outcome.UNKNOWN
    v.disconnect()
    v.submit([Cancel(3, C2, None)], T)
    v.fill_order(cloid=C2, now_ns=T)  # happens, but its events are lost
    evs = v.drain(T + NS_PER_MS)
    assert [type(e) for e in evs] == [ActionResult] and evs[0].outcome is Outcome.UNKNOWN  # type: ignore[union-attr]
    assert v.position == pytest.approx(0.2)


def test_rate_limit_knob_and_ip_limit() -> None:
    """The knob and the IP limit refuse requests, and a request is what the venue client
    sends: one submission's places are one batch (weight 1), refused or admitted whole;
    separate submissions are separate requests."""
    v = FakeVenue(ip_limit=3)
    v.rate_limit_next(1, retry_after_s=2)
    v.submit([Place(i, make_cloid(i), Side.BUY, 99.0, 0.2) for i in range(1, 6)], T)
    rs = results(v.drain(T + NS_PER_MS))
    assert len(rs) == 5 and all(r.reason is RejectReason.RATE_LIMITED_IP for r in rs)
    assert all("Retry-After: 2" in r.message for r in rs) and v.ip_peak == 0
    for i in range(6, 10):
        v.submit([Place(i, make_cloid(i), Side.BUY, 99.0, 0.2)], T)
    rs = results(v.drain(T + NS_PER_MS))
    assert [r.outcome for r in rs[:3]] == [Outcome.RESTING] * 3
    assert rs[3].reason is RejectReason.RATE_LIMITED_IP and v.ip_rejections == 1
    assert v.ip_peak == 3


def test_one_submission_is_charged_as_the_clients_requests() -> None:
    """Cancels, modifies and places of one submission are three requests of weight 1; 40
    places are a batch of 39 and a batch of 1 (the client's MAX_BATCH)."""
    v = FakeVenue(ip_limit=1_000)
    v.submit([Place(i, make_cloid(i), Side.BUY, 99.0, 0.2) for i in range(1, 41)], T)
    assert v.ip_peak == 2
    rs = results(v.drain(T + NS_PER_MS))
    oids = [r.oid for r in rs]
    acts: list[Any] = [Cancel(100 + i, make_cloid(1 + i), oids[i]) for i in range(3)]
    acts += [
        Modify(200 + i, make_cloid(10 + i), oids[9 + i], Side.BUY, 98.0, 0.2) for i in range(5)
    ]
    acts += [Place(300 + i, make_cloid(300 + i), Side.BUY, 97.0, 0.2) for i in range(4)]
    v.submit(acts, T + 2 * NS_PER_MS)
    assert v.ip_peak == 2 + 3


@pytest.mark.parametrize(
    ("msg", "reason"),
    [
        ("Cannot modify canceled or filled order", RejectReason.MODIFY_TARGET_CANCELED),
        ("Cannot modify canceled or filled order.", RejectReason.MODIFY_TARGET_CANCELED),
        (
            "Error placing new order during modify: Post only order would have immediately "
            "matched, bbo was 2440.1@2440.2",
            RejectReason.MODIFY_PLACE_FAILED,
        ),
        (
            "Post only order would have immediately matched, bbo was 1@2. asset=4",
            RejectReason.POST_ONLY_WOULD_CROSS,
        ),
        ("Insufficient margin to place order. asset=4", RejectReason.INSUFFICIENT_MARGIN),
        ("Order must have minimum value of $10. asset=4", RejectReason.MIN_NOTIONAL),
        ("Order was never placed, already canceled, or filled. asset=4", RejectReason.ORDER_GONE),
        (
            "Too many cumulative requests sent (97460 > 97456) for cumulative volume traded",
            RejectReason.RATE_LIMITED_ADDRESS,
        ),
        ("Reduce only order would increase position. asset=4", RejectReason.REDUCE_ONLY),
        ("Order has invalid price.", RejectReason.INVALID_PRICE),
        ("Invalid nonce: duplicate nonce 1700000000000", RejectReason.NONCE),
        ("something new", RejectReason.OTHER),
    ],
)
def test_reason_from_message(msg: str, reason: RejectReason) -> None:
    assert reason_from_message(msg) is reason


@given(st.text(max_size=80))
def test_reason_from_message_never_raises(msg: str) -> None:
    assert isinstance(reason_from_message(msg), RejectReason)


def test_drop_next_acks_applies_without_answer() -> None:
    v = venue()
    v.drop_next_acks(1)
    v.submit([Place(1, C1, Side.BUY, 99.0, 0.2), Place(2, C2, Side.BUY, 98.0, 0.2)], T)
    rs = results(v.drain(T + NS_PER_MS))
    assert [r.request_id for r in rs] == [2] and len(v.open_orders()) == 2


def test_maintenance_post_only_refuses_non_alo() -> None:
    v = venue()
    v.maintenance_post_only()
    v.submit([Place(1, C1, Side.BUY, 99.0, 0.2, Tif.GTC), Place(2, C2, Side.BUY, 98.0, 0.2)], T)
    rs = {r.request_id: r for r in results(v.drain(T + NS_PER_MS))}
    assert rs[1].outcome is Outcome.REJECTED and rs[1].message == POST_ONLY_MESSAGE
    assert rs[2].outcome is Outcome.RESTING
    v.maintenance_post_only(False)
    v.submit([Place(3, make_cloid(3), Side.BUY, 97.0, 0.2, Tif.GTC)], T)
    assert results(v.drain(T + NS_PER_MS))[0].outcome is Outcome.RESTING


@pytest.mark.parametrize(
    ("knob", "args"),
    [
        ("reject_next", (-1,)),
        ("lose_next_acks", (1.5,)),
        ("drop_next_acks", (True,)),
        ("delay_next_acks", (1, -5)),
        ("rate_limit_next", (1, float("nan"))),
        ("fail_next_modify", ("target_vanished",)),
    ],
)
def test_knob_arguments_are_checked(knob: str, args: tuple[object, ...]) -> None:
    with pytest.raises((ConfigError, ValueError), match=knob.split("_")[0] + "|modify failure"):
        getattr(venue(), knob)(*args)


_ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(["place", "alo_cross", "tiny", "modify", "cancel", "reject", "fail"]),
        st.integers(1, 4),
        st.sampled_from(["target_filled", "target_canceled", "place_failed"]),
    ),
    max_size=25,
)


@given(_ACTIONS)
def test_every_refusal_reads_as_its_reason(
    ops: list[tuple[str, int, str]],
) -> None:
    """Whatever the venue refuses, the reason is the one catalogue's reading of the string
    (knob rejections with a catalogue reason included)."""
    v = venue()
    for rid, (op, k, fail) in enumerate(ops, start=1):
        cloid = make_cloid(k)
        if op == "place":
            v.submit([Place(rid, cloid, Side.BUY, 99.0 - k, 0.2)], T)
        elif op == "alo_cross":
            v.submit([Place(rid, cloid, Side.SELL, 99.0, 0.2)], T)
        elif op == "tiny":
            v.submit([Place(rid, cloid, Side.BUY, 95.0, 0.01)], T)
        elif op == "modify":
            v.submit([Modify(rid, cloid, None, Side.BUY, 90.0 + k, 0.2)], T)
        elif op == "cancel":
            v.submit([Cancel(rid, cloid, None)], T)
        elif op == "reject":
            v.reject_next(1)
        else:
            v.fail_next_modify(fail)
    refused = [r for r in results(v.drain(T + NS_PER_MS)) if r.outcome is Outcome.REJECTED]
    for r in refused:
        assert r.reason is not RejectReason.OTHER and r.reason is reason_of(r.message)
