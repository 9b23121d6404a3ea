"""Proactive rate tracking: weights, the rolling minute, throttling before the limit."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmkit.core.actions import Action, Cancel, CancelAll, Modify, Place, QueryOrder, SyncState
from mmkit.core.types import NS_PER_S, Side, Tif
from mmkit.execution.rate_limit import (
    RateTracker,
    RequoteInterval,
    address_weight,
    batch_ip_weight,
    exchange_weight,
    ip_weight,
    requests_of,
)

C = "0x" + "0" * 31 + "1"


def test_weights_from_the_protocol_reference() -> None:
    assert exchange_weight(1) == 1 and exchange_weight(39) == 1 and exchange_weight(79) == 2
    assert ip_weight(Place(1, C, Side.BUY, 100.0, 1.0)) == 1
    assert ip_weight(Modify(1, C, 5, Side.BUY, 100.0, 1.0)) == 1
    assert ip_weight(Cancel(1, C, 5)) == 1
    assert ip_weight(CancelAll(1, "x")) == 21
    assert ip_weight(SyncState(1, "t")) == 22
    assert ip_weight(SyncState(1, "t", orders=False)) == 2
    assert ip_weight(QueryOrder(1, C, None)) == 2
    assert address_weight(SyncState(1, "t")) == 0 and address_weight(Cancel(1, C, 1)) == 1


def test_throttles_before_the_limit_and_keeps_room_for_emergencies() -> None:
    r = RateTracker(ip_limit=100, throttle_frac=0.9, warn_frac=0.8)
    p: list[Action] = [Place(1, C, Side.BUY, 100.0, 1.0)]
    sent = 0
    while r.allows(p, 0):
        r.record(p, 0)
        sent += 1
    assert sent == 90 and r.ip_warning(0)
    cancel: list[Action] = [Cancel(2, C, 1, emergency=True)]
    for _ in range(10):
        assert r.allows(cancel, 0, emergency=True)
        r.record(cancel, 0)
    assert not r.allows(cancel, 0, emergency=True)  # never past the hard limit
    assert r.allows(p, 60 * NS_PER_S)  # the minute rolled


@given(st.lists(st.tuples(st.integers(0, 5 * NS_PER_S), st.integers(1, 100)), max_size=300))
def test_rolling_minute_never_exceeds_limit(sends: list[tuple[int, int]]) -> None:
    """Whatever is sent, the rolling minute's weight (n places sent together: requests of
    at most 39 orders, each of weight 1 + 39 // 40 = 1, protocol §6) stays within the
    limit."""
    r = RateTracker(ip_limit=30)
    t = 0
    events: list[tuple[int, int]] = []
    for dt, n in sends:
        t += dt
        batch: list[Action] = [Place(i, C, Side.BUY, 1.0, 1.0) for i in range(n)]
        if r.allows(batch, t, emergency=True):
            r.record(batch, t)
            events.append((t, -(-n // 39)))
            window = sum(w for (u, w) in events if t - u < 60 * NS_PER_S)
            assert window <= 30
            assert window == r.ip_used(t)


def test_address_budget_then_one_per_ten_seconds() -> None:
    r = RateTracker(address_initial=3, exhausted_interval_s=10.0)
    p: list[Action] = [Place(1, C, Side.BUY, 100.0, 1.0)]
    for _ in range(3):
        assert r.allows(p, 0)
        r.record(p, 0)
    assert r.allows(p, 0)  # the first over-budget request is the 1-per-10s one
    r.record(p, 0)
    assert not r.allows(p, 5 * NS_PER_S)
    assert r.allows(p, 10 * NS_PER_S)
    assert r.allows([Cancel(1, C, 1)], 5 * NS_PER_S)  # cancels have a larger cap
    r.on_fill_volume(100.0)
    assert r.address_cap == 103 and r.allows(p, 5 * NS_PER_S)


def test_min_requote_interval() -> None:
    q = RequoteInterval(100.0)
    assert q.can_requote(0)
    q.mark(0)
    assert not q.can_requote(99_999_999)
    assert q.can_requote(100_000_000)
    assert q.skipped == 1


def test_ip_warning_is_logged_once_per_episode(caplog: pytest.LogCaptureFixture) -> None:
    from mmkit.core.actions import make_cloid

    rt = RateTracker()
    caplog.set_level("WARNING", logger="mmkit")
    now = 0
    for i in range(2_000):  # hover around the 80 % line for minutes
        now += 50_000_000
        if rt.ip_used(now) < 0.82 * rt.ip_limit:
            rt.record([Place(i, make_cloid(i + 1), Side.BUY, 1.0, 1.0)], now)
    warnings = [r for r in caplog.records if "IP rate limit warning" in r.message]
    assert rt.warnings > 10 and len(warnings) == 1


_kinds = st.sampled_from(["modify", "alo", "gtc", "cancel_oid", "cancel_cloid", "sync", "query"])


def _action(k: int, kind: str) -> Action:
    if kind == "modify":
        return Modify(k, C, k, Side.BUY, 1.0, 1.0)
    if kind in ("alo", "gtc"):
        return Place(k, C, Side.SELL, 1.0, 1.0, Tif.ALO if kind == "alo" else Tif.GTC)
    if kind == "cancel_oid":
        return Cancel(k, None, k)
    if kind == "cancel_cloid":
        return Cancel(k, C, None)
    if kind == "sync":
        return SyncState(k, "t", orders=k % 2 == 0)
    return QueryOrder(k, C, None)


@given(
    st.one_of(
        st.lists(_kinds, max_size=260),
        st.lists(st.just("modify"), max_size=260),  # modifies only: their own short path
    )
)
def test_a_batch_weighs_its_requests(kinds: list[str]) -> None:
    """batch_ip_weight (the tracker's) and requests_of (the fake venue's) agree, and both
    follow the protocol: per kind, requests of at most 39 orders or 200 cancels, each
    weighing 1 + n // 40; every other action its own info weight."""
    acts = [_action(k, kind) for k, kind in enumerate(kinds)]
    weight, n, cancels_only = batch_ip_weight(acts)
    of, weights = requests_of(acts)
    assert sum(weights) == weight and len(of) == len(acts)
    expected = 0
    for kind, per in (
        ("modify", 39), ("alo", 39), ("gtc", 39), ("cancel_oid", 200), ("cancel_cloid", 200)
    ):  # fmt: skip
        m = kinds.count(kind)
        while m > 0:
            expected += 1 + min(m, per) // 40
            m -= per
    expected += sum(ip_weight(a) for a in acts if isinstance(a, SyncState | QueryOrder))
    assert weight == expected
    orders = [a for a in acts if isinstance(a, Place | Modify | Cancel)]
    assert n == len(orders) == sum(address_weight(a) for a in acts)
    assert cancels_only == (not any(isinstance(a, Place | Modify) for a in acts))
    # every request holds actions of one kind only
    for r in set(of):
        assert len({kinds[i] for i, x in enumerate(of) if x == r}) == 1
