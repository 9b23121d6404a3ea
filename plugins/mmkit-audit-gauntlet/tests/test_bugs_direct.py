"""Each gauntlet bug is real and conditional: driven by hand into its condition the
component breaks its invariant, and just outside the condition it does not.

These tests do not need the audit (they are fast); ``test_gauntlet.py`` asks the audit.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mmkit_audit_gauntlet import CATALOGUE
from mmkit_audit_gauntlet import estimators as est
from mmkit_audit_gauntlet import executors as exe
from mmkit_audit_gauntlet import gates as gat
from mmkit_audit_gauntlet import quoters as quo

from mmkit.components import Estimates, GateDecision, Ladder, Quote, View
from mmkit.core.actions import Action, Cancel, CancelAll, Modify, Place, SyncState
from mmkit.core.events import (
    ActionResult,
    BookSnapshot,
    Event,
    FeedStatus,
    OwnFill,
    PositionSnapshot,
    Timer,
    Trade,
    levels,
)
from mmkit.core.market import MarketState
from mmkit.core.outcomes import Outcome, RejectReason
from mmkit.core.portfolio import Portfolio
from mmkit.core.types import Instrument, Side
from mmkit.registry import RiskLimits
from mmkit.rounding import is_valid_price

S = 1_000_000_000
T0 = 1_700_000_000 * S  # 2023-11-14 22:13:20 UTC
RISK = RiskLimits(max_position=0.01, order_size=0.001)


def book(t: int, bids: list[float], asks: list[float], ts: int | None = None) -> BookSnapshot:
    return BookSnapshot(
        t if ts is None else ts,
        levels(bids),
        levels([1.0] * len(bids)),
        levels(asks),
        levels([1.0] * len(asks)),
        local_ts=t,
    )


def view_of(*events: Event, position: float = 0.0) -> View:
    m = MarketState()
    for e in events:
        m.apply(e, e.local_ts if e.local_ts >= 0 else e.ts)
    return View(Instrument(), m, Portfolio(position), RISK.max_position)


def published(e: Any, now: int) -> Estimates:
    out = Estimates()
    e.estimate(out, now)
    return out


def test_catalogue_has_what_the_brief_asks() -> None:
    kinds = ("estimator", "gate", "quoter", "executor")
    broken = [e for e in CATALOGUE if e.broken]
    assert len(broken) >= 20
    assert all(sum(e.kind == k for e in broken) >= 4 for k in kinds)
    assert sum(not e.broken for e in CATALOGUE) >= 3
    assert len({e.name for e in CATALOGUE}) == len(CATALOGUE)
    assert all(e.name.startswith("g_") for e in CATALOGUE)


# -- estimators ------------------------------------------------------------------------


@pytest.mark.parametrize("move", [1e9, 8.0])
def test_cascade_sigma_skips_the_cap_only_in_cascade(move: float) -> None:
    e = est.CascadeSigma(est.CascadeSigmaParams(cascade_move=move))
    e.on_event(book(T0, [99.9], [100.1]), T0)
    e.on_event(book(T0 + S, [109.9], [110.1]), T0 + S)  # a 10 % jump in one second
    out = published(e, T0 + S)
    assert out.cascade is (move == 8.0)
    assert (out.sigma > e.sigma_cap()) is out.cascade


@pytest.mark.parametrize(("quiet_s", "zero"), [(60, False), (4 * 3600, True)])
def test_quiet_kappa_reaches_zero_only_after_hours(quiet_s: int, zero: bool) -> None:
    e = est.QuietKappa(est.QuietKappaParams())
    e.on_event(book(T0, [99.9], [100.1]), T0)
    e.on_event(Trade(T0, 100.05, 1.0, Side.BUY, local_ts=T0), T0)
    k = published(e, T0 + quiet_s * S).kappa
    assert (k == 0.0) is zero
    assert math.isfinite(k)


@pytest.mark.parametrize(("fills", "counts"), [(20, True), (21, False)])
def test_volume_kappa_counts_volume_after_twenty_fills(fills: int, counts: bool) -> None:
    e = est.VolumeKappa(est.VolumeKappaParams())
    e.on_event(book(T0, [99.9], [100.1]), T0)
    for i in range(fills):
        e.on_event(OwnFill(T0 + i, i, None, Side.BUY, 99.95, 0.005), T0 + i)
    alpha, _ = e.posterior()
    assert (alpha - e.prior[0] == e.observation_count) is counts


def _reconnect(e: Any, t: int) -> None:
    e.on_event(FeedStatus(t, "book", connected=False), t)
    e.on_event(FeedStatus(t + S, "book", connected=True), t + S)


@pytest.mark.parametrize(("reconnects", "still"), [(1, True), (2, False)])
def test_reconnect_warmup_regraduates_on_the_second_reconnect(reconnects: int, still: bool) -> None:
    e = est.ReconnectWarmup(est.ReconnectWarmupParams())
    e.on_event(book(T0, [99.9], [100.1]), T0)
    for i in range(5):
        e.on_event(OwnFill(T0 + i, i, None, Side.SELL, 100.05, 0.001), T0 + i)
    assert e.has_exited_warmup
    for k in range(reconnects):
        _reconnect(e, T0 + (10 + 10 * k) * S)
    assert e.has_exited_warmup is still
    assert published(e, T0 + 60 * S).warmed_up is still


@pytest.mark.parametrize(("bids", "ok"), [([99.0, 98.0], True), ([], False)])
def test_toxicity_sentinel_only_on_a_one_sided_book(bids: list[float], ok: bool) -> None:
    e = est.ImbalanceToxicity(est.ImbalanceToxicityParams())
    e.on_event(book(T0, bids, [101.0]), T0)
    tox = published(e, T0).toxicity
    assert (0.0 <= tox <= 1.0) is ok


@pytest.mark.parametrize("backwards", [False, True])
def test_exchange_time_sigma_raises_only_when_exchange_time_goes_back(backwards: bool) -> None:
    e = est.ExchangeTimeSigma(est.ExchangeTimeSigmaParams())
    e.on_event(book(T0, [99.9], [100.1]), T0)
    ts2 = T0 - S if backwards else T0 + S
    e.on_event(book(T0 + S, [104.9], [105.1], ts=ts2), T0 + S)
    if backwards:
        with pytest.raises(ValueError):
            published(e, T0 + S)
    else:
        assert 0 < published(e, T0 + S).sigma <= e.sigma_cap()


@settings(max_examples=50, deadline=None)
@given(
    mids=st.lists(st.floats(1.0, 1e6), min_size=1, max_size=20),
    gaps=st.lists(st.integers(0, 3600 * S), min_size=20, max_size=20),
)
def test_range_sigma_stays_within_its_cap(mids: list[float], gaps: list[int]) -> None:
    e = est.RangeSigma(est.RangeSigmaParams())
    t = T0
    for mid, gap in zip(mids, gaps, strict=False):
        t += gap
        e.on_event(book(t, [mid * 0.999], [mid * 1.001]), t)
        s = published(e, t).sigma
        assert 0 < s <= e.sigma_cap()


# -- gates -----------------------------------------------------------------------------


@pytest.mark.parametrize("trades", [False, True])
def test_trade_fresh_gate_misses_a_frozen_book_only_while_trades_flow(trades: bool) -> None:
    g = gat.TradeFreshDataQuality(gat.TradeFreshParams())
    b = book(T0, [99.9], [100.1])
    g.on_event(b, T0)
    if trades:
        for k in range(1, 7):
            g.on_event(Trade(T0 + k * 10 * S, 100.0, 1.0, Side.BUY), T0 + k * 10 * S)
    decision = g.check(view_of(b), Estimates(), T0 + 60 * S)  # the book is 60 s old
    assert (decision is None) is trades


@pytest.mark.parametrize(("bids", "asks"), [([101.0], [100.0]), ([], [100.0]), ([], [])])
def test_nan_book_gate_closes_on_crossed_but_not_on_empty(
    bids: list[float], asks: list[float]
) -> None:
    g = gat.NanBookDataQuality(gat.NanBookParams())
    b = book(T0, bids, asks)
    g.on_event(b, T0)
    decision = g.check(view_of(b), Estimates(), T0)
    assert (decision is None) is (not bids)  # crossed: closed; empty side: open (the bug)


@pytest.mark.parametrize("timers", [False, True])
def test_heartbeat_gate_counts_timers_as_data(timers: bool) -> None:
    g = gat.HeartbeatDataQuality(gat.HeartbeatParams())
    b = book(T0, [99.9], [100.1])
    g.on_event(b, T0)
    if timers:
        for k in range(1, 13):
            g.on_event(Timer(T0 + k * 5 * S), T0 + k * 5 * S)
    assert (g.check(view_of(b), Estimates(), T0 + 60 * S) is None) is timers


def _losing_view(mid: float) -> View:
    v = view_of(book(T0, [mid - 0.5], [mid + 0.5]))
    v.portfolio.apply_fill(OwnFill(T0, 1, None, Side.BUY, 100.0, 2.0))
    return v


@pytest.mark.parametrize(("later_s", "latched"), [(3600, True), (86_400, False)])
def test_midnight_kill_forgets_its_trip_at_midnight(later_s: int, latched: bool) -> None:
    g = gat.MidnightKill(gat.MidnightKillParams(max_drawdown_usd=100.0))
    assert g.check(_losing_view(100.0), Estimates(), T0) is None
    trip = g.check(_losing_view(40.0), Estimates(), T0 + S)  # 2 coins x -60 = -120 USD
    assert trip is not None and trip.emergency
    # the same losing market, later: same day (latched) or the next UTC day (the bug)
    assert (g.check(_losing_view(40.0), Estimates(), T0 + later_s * S) is not None) is latched


@pytest.mark.parametrize(("snapshot", "latched"), [(None, True), (2.0, False)])
def test_sync_kill_reopens_on_an_agreeing_snapshot(snapshot: float | None, latched: bool) -> None:
    g = gat.SyncKill(gat.SyncKillParams(max_drawdown_usd=100.0))
    g.on_event(PositionSnapshot(T0, 0.0, open_orders=()), T0)
    g.on_event(OwnFill(T0, 1, None, Side.BUY, 100.0, 2.0), T0)
    assert g.check(_losing_view(100.0), Estimates(), T0) is None
    assert g.check(_losing_view(40.0), Estimates(), T0 + S) is not None
    if snapshot is not None:
        g.on_event(PositionSnapshot(T0 + 2 * S, snapshot, open_orders=()), T0 + 2 * S)
    assert (g.check(_losing_view(40.0), Estimates(), T0 + 3 * S) is not None) is latched


@pytest.mark.parametrize("stream", ["book", "trades"])
def test_gap_gate_raises_on_a_stream_it_never_saw(stream: str) -> None:
    g = gat.GapGate(gat.GapGateParams())
    g.on_event(book(T0, [99.9], [100.1]), T0)
    gap = FeedStatus(T0 + S, stream, connected=False, gap=True)
    if stream == "trades":
        with pytest.raises(KeyError):
            g.on_event(gap, T0 + S)
    else:
        g.on_event(gap, T0 + S)
        assert g.check(view_of(book(T0, [99.9], [100.1])), Estimates(), T0 + S) is not None


def test_strict_gate_closes_on_one_sided_and_stale() -> None:
    g = gat.StrictDataQuality(gat.StrictParams())
    one_sided = book(T0, [], [100.1])
    g.on_event(one_sided, T0)
    g.on_event(Trade(T0, 100.0, 1.0, Side.BUY), T0)
    assert g.check(view_of(one_sided), Estimates(), T0) is not None
    ok = book(T0, [99.9], [100.1])
    g.on_event(ok, T0)
    assert g.check(view_of(ok), Estimates(), T0) is None
    assert g.check(view_of(ok), Estimates(), T0 + 6 * S) is not None


# -- quoters ---------------------------------------------------------------------------

MARKET = book(T0, [99_999.0], [100_001.0])


def test_skew_flip_raises_the_quotes_past_half_the_limit() -> None:
    q = quo.SkewFlip(quo.SkewFlipParams(), RISK)

    def best_ask(position: float) -> float:
        return q.quote(view_of(MARKET, position=position), Estimates(), T0).asks[0].px

    assert best_ask(0.002) <= best_ask(0.0) <= best_ask(-0.002)  # below half: fine
    assert best_ask(0.006) > best_ask(0.004)  # above half: more long, higher asks (the bug)


@pytest.mark.parametrize(
    ("bid", "ask", "valid"), [(5000.0, 5001.0, True), (9999.0, 10000.0, False)]
)
def test_decade_round_is_off_grid_only_across_a_decade(bid: float, ask: float, valid: bool) -> None:
    q = quo.DecadeRound(quo.LadderParams(), RISK)
    lad = q.quote(view_of(book(T0, [bid], [ask])), Estimates(), T0)
    assert lad.bids and lad.asks
    prices = [x.px for x in lad.bids + lad.asks]
    assert all(is_valid_price(p, 5) for p in prices) is valid


@pytest.mark.parametrize(("position", "within"), [(0.0, True), (0.008, False)])
def test_level_cap_exceeds_the_limit_only_with_high_inventory(
    position: float, within: bool
) -> None:
    q = quo.LevelCap(quo.LadderParams(), RISK)
    lad = q.quote(view_of(MARKET, position=position), Estimates(), T0)
    assert (position + sum(x.sz for x in lad.bids) <= RISK.max_position + 1e-12) is within


@pytest.mark.parametrize("one_sided", [False, True])
def test_last_trade_fair_crosses_only_a_one_sided_book(one_sided: bool) -> None:
    q = quo.LastTradeFair(quo.LadderParams(), RISK)
    b = book(T0, [] if one_sided else [99_000.0], [100_000.0])
    trade = Trade(T0, 101_000.0, 0.1, Side.BUY, local_ts=T0)  # a print above the ask
    lad = q.quote(view_of(b, trade), Estimates(), T0)
    crosses = any(x.px >= 100_000.0 for x in lad.bids)
    assert crosses is one_sided


@pytest.mark.parametrize(("kappa", "crossed"), [(2000.0, False), (1e8, True)])
def test_nearest_touch_self_crosses_only_on_a_tiny_half_spread(kappa: float, crossed: bool) -> None:
    q = quo.NearestTouch(quo.NearestTouchParams(), RISK)
    lad = q.quote(view_of(book(T0, [99_990.0], [100_010.0])), Estimates(kappa=kappa, sigma=0.0), T0)
    assert lad.bids and lad.asks
    assert (lad.bids[0].px >= lad.asks[0].px) is crossed


@pytest.mark.parametrize("cascade", [False, True])
def test_cascade_stepback_quotes_nan_only_in_a_cascade(cascade: bool) -> None:
    q = quo.CascadeStepBack(quo.CascadeStepBackParams(), RISK)
    lad = q.quote(view_of(MARKET), Estimates(sigma=0.05, cascade=cascade), T0)
    assert any(math.isnan(x.px) for x in lad.bids) is cascade


@settings(max_examples=60, deadline=None)
@given(
    mid=st.floats(1.0, 2e5),
    position=st.floats(-0.02, 0.02),
    kappa=st.floats(1.0, 1e7),
    sigma=st.floats(0.0, 0.05),
)
def test_asymmetric_ladder_is_valid(
    mid: float, position: float, kappa: float, sigma: float
) -> None:
    q = quo.Asymmetric(quo.AsymmetricParams(), RISK)
    b = book(T0, [mid * 0.9999], [mid * 1.0001])
    v = view_of(b, position=position)
    lad = q.quote(v, Estimates(kappa=kappa, sigma=sigma), T0)
    for side_quotes, cap in (
        (lad.bids, RISK.max_position - position),
        (lad.asks, RISK.max_position + position),
    ):
        assert sum(x.sz for x in side_quotes) <= max(0.0, cap) + 1e-12
        for x in side_quotes:
            assert is_valid_price(x.px, 5) and x.sz > 0 and x.px * x.sz >= 10 * (1 - 1e-12)
    assert all(x.px < v.market.best_ask for x in lad.bids)
    assert all(x.px > v.market.best_bid for x in lad.asks)
    if lad.bids and lad.asks:
        assert lad.bids[0].px < lad.asks[0].px


# -- executors -------------------------------------------------------------------------

LADDER = Ladder((Quote(Side.BUY, 99_950.0, 0.001),), (Quote(Side.SELL, 100_050.0, 0.001),))
DQ = GateDecision("dq", "StaleData")
KILL = GateDecision("kill", "MaxDrawdown", emergency=True)


def covered(acts: list[Action], cloids: list[str]) -> set[str]:
    """Which of ``cloids`` the halt actions ``acts`` cancel (a CancelAll covers all)."""
    if any(isinstance(a, CancelAll) for a in acts):
        return set(cloids)
    return {a.cloid for a in acts if isinstance(a, Cancel) and a.cloid in cloids}


def started(cls: Any, position: float = 0.0) -> tuple[Any, View, list[Place]]:
    """An executor synced, with both sides of LADDER resting."""
    x = cls(exe.ExecParams() if cls is not exe.SessionExecutor else exe.SessionParams(), 7)
    v = view_of(MARKET, position=position)
    (sync,) = x.reconcile(LADDER, v, T0)
    assert isinstance(sync, SyncState)
    x.on_event(PositionSnapshot(T0, position, open_orders=()), v, T0)
    sent = x.reconcile(LADDER, v, T0 + 1)
    places = [a for a in sent if isinstance(a, Place)]
    assert len(places) == len(sent) == 2
    for i, a in enumerate(places):
        x.on_event(ActionResult(T0 + 2, a.request_id, a.cloid, 100 + i, Outcome.RESTING), v, T0 + 2)
    return x, v, places


@pytest.mark.parametrize(("decision", "cancels"), [(KILL, 2), (DQ, 0)])
def test_reserve_executor_cannot_cancel_on_a_data_quality_halt(
    decision: GateDecision, cancels: int
) -> None:
    x, v, places = started(exe.ReserveExecutor)
    x.exhaust_budget()
    acts = x.halt(decision, v, T0 + 3)
    assert len(covered(acts, [p.cloid for p in places])) == cancels


def test_slot_executor_cancels_on_any_halt_with_an_exhausted_budget() -> None:
    x, v, places = started(exe.SlotExecutor)
    x.exhaust_budget()
    assert len(covered(x.halt(DQ, v, T0 + 3), [p.cloid for p in places])) == 2


@pytest.mark.parametrize(
    ("reason", "replaced"),
    [
        (RejectReason.MODIFY_TARGET_FILLED, True),
        (RejectReason.MODIFY_TARGET_CANCELED, False),
    ],
)
def test_modify_ghost_leaves_the_level_empty_on_one_reason(
    reason: RejectReason, replaced: bool
) -> None:
    x, v, _ = started(exe.ModifyGhostExecutor)
    moved = Ladder((Quote(Side.BUY, 99_940.0, 0.001),), LADDER.asks)
    (mod,) = x.reconcile(moved, v, T0 + 3)
    assert isinstance(mod, Modify)
    x.on_event(
        ActionResult(T0 + 4, mod.request_id, mod.cloid, None, Outcome.REJECTED, reason), v, T0 + 4
    )
    again = x.reconcile(moved, v, T0 + 5)
    assert any(isinstance(a, Place) and a.side is Side.BUY for a in again) is replaced


@pytest.mark.parametrize(("reconnects", "unique"), [(1, True), (2, False)])
def test_session_executor_reuses_request_ids_after_two_reconnects(
    reconnects: int, unique: bool
) -> None:
    x, v, places = started(exe.SessionExecutor)
    seen = [p.request_id for p in places]
    for k in range(reconnects):
        t = T0 + (10 + 10 * k) * S
        x.on_event(FeedStatus(t, "book", connected=False), v, t)
        seen += [
            a.request_id for a in x.on_event(FeedStatus(t + S, "book", connected=True), v, t + S)
        ]
    seen += [a.request_id for a in x.reconcile(LADDER, v, T0 + 100 * S)]
    assert (len(set(seen)) == len(seen) and seen == sorted(seen)) is unique


@pytest.mark.parametrize(
    ("cls", "replaced"), [(exe.SlotExecutor, False), (exe.UnknownForgetExecutor, True)]
)
def test_unknown_place_is_placed_again_only_by_the_forgetful_one(cls: Any, replaced: bool) -> None:
    x = cls(exe.ExecParams(), 7)
    v = view_of(MARKET)
    x.reconcile(LADDER, v, T0)
    x.on_event(PositionSnapshot(T0, 0.0, open_orders=()), v, T0)
    bid = next(
        a for a in x.reconcile(LADDER, v, T0 + 1) if isinstance(a, Place) and a.side is Side.BUY
    )
    x.on_event(ActionResult(T0 + 2, bid.request_id, bid.cloid, None, Outcome.UNKNOWN), v, T0 + 2)
    again = x.reconcile(LADDER, v, T0 + 3)  # the first bid may rest: a second one doubles it
    assert any(isinstance(a, Place) and a.side is Side.BUY for a in again) is replaced


@pytest.mark.parametrize(("position", "spared"), [(0.0, 0), (0.005, 1)])
def test_keep_reducing_spares_the_reducing_side_with_inventory(
    position: float, spared: int
) -> None:
    x, v, places = started(exe.KeepReducingExecutor, position)
    cloids = [p.cloid for p in places]
    assert len(cloids) - len(covered(x.halt(DQ, v, T0 + 3), cloids)) == spared


@pytest.mark.parametrize(
    ("cls", "allowed"), [(exe.SlotExecutor, False), (exe.MinuteBucketExecutor, True)]
)
def test_minute_bucket_allows_a_second_burst_across_the_minute(cls: Any, allowed: bool) -> None:
    x = cls(exe.ExecParams(), 7)
    minute = (T0 // (60 * S) + 1) * 60 * S
    x._ip_spend(1100, minute - S)  # a burst at :59
    assert x._ip_allows(1000, minute + S, cancels=False) is allowed  # another at :01


# -- the other correct components, property-tested -------------------------------------


@settings(max_examples=50, deadline=None)
@given(
    trades=st.lists(
        st.tuples(
            st.integers(0, 120 * S),
            st.floats(allow_nan=True, allow_infinity=True),
            st.sampled_from([Side.BUY, Side.SELL]),
        ),
        max_size=30,
    )
)
def test_flow_extras_publishes_only_a_bounded_extra(trades: list[tuple[int, float, Side]]) -> None:
    e = est.FlowExtras(est.FlowExtrasParams())
    t = T0
    for gap, sz, side in trades:
        t += gap
        e.on_event(Trade(t, 100.0, sz, side, local_ts=t), t)
        out = published(e, t)
        assert set(out.extras) == {e.KEY} <= e.publishes
        assert -1.0 <= out.extras[e.KEY] <= 1.0
        assert out == Estimates(extras=out.extras)  # nothing else written


@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["ladder", "halt", "answer", "unknown", "reconnect", "snapshot"]),
            st.integers(0, 30 * S),
            st.floats(99_000.0, 101_000.0),
        ),
        max_size=40,
    )
)
def test_slot_executor_request_ids_and_cloids_are_unique(
    steps: list[tuple[str, int, float]],
) -> None:
    """Whatever happens, request ids only grow and no cloid is placed twice."""
    x = exe.SlotExecutor(exe.ExecParams(), 3)
    v = view_of(MARKET)
    t = T0
    sent: list[Action] = []
    pending: list[Action] = []

    def take(acts: list[Action]) -> None:
        sent.extend(acts)
        pending.extend(a for a in acts if isinstance(a, Place | Modify | Cancel | CancelAll))

    for what, gap, px in steps:
        t += gap
        if what == "ladder":
            lad = Ladder((Quote(Side.BUY, round(px) - 50.0, 0.001),), LADDER.asks)
            take(x.reconcile(lad, v, t))
        elif what == "halt":
            take(x.halt(KILL, v, t))
        elif what in ("answer", "unknown") and pending:
            a = pending.pop(0)
            outcome = (
                Outcome.UNKNOWN
                if what == "unknown"
                else (Outcome.CANCELED if isinstance(a, Cancel | CancelAll) else Outcome.RESTING)
            )
            cloid = a.cloid if isinstance(a, Place | Modify | Cancel) else None
            take(
                x.on_event(ActionResult(t, a.request_id, cloid, 1000 + a.request_id, outcome), v, t)
            )
        elif what == "reconnect":
            take(x.on_event(FeedStatus(t, "book", connected=False), v, t))
            take(x.on_event(FeedStatus(t, "book", connected=True), v, t))
        else:
            take(x.on_event(PositionSnapshot(t, 0.0, open_orders=()), v, t))
    ids = [a.request_id for a in sent]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    cloids = [a.cloid for a in sent if isinstance(a, Place)]
    assert len(set(cloids)) == len(cloids)
