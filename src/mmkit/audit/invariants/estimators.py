"""Invariants of estimators (seed report sections 1, 2 and 8; recommendations 1 and 3).

Every check is generic over any estimator built by ``target.build()``: it drives the
component with event streams and reads what it publishes in :class:`Estimates`.
Applicability (:mod:`mmkit.audit.applicability`): a check is NOT_APPLICABLE only when the
field it is about (kappa, sigma, cascade) is outside what the estimator was observed to
write or declares in ``publishes``; when it is in scope but the estimator lacks the audit
contract the check needs (:mod:`mmkit.components`), the check is UNAUDITED:

* sigma checks need :class:`~mmkit.components.SigmaCapped` (``sigma_cap()``);
* own-fill checks (a kappa estimator that learns from its own fills) need
  :class:`~mmkit.components.OwnFillPosterior`;
* the blend check (a kappa estimator learning from own fills and market trades, or one
  declaring it) needs :class:`~mmkit.components.KappaSources`.

``estimators.publishes_declared`` checks the ``publishes`` declaration itself.

This module is imported at start-up: numpy and hypothesis are imported inside the checks.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
from collections.abc import Callable, Iterator
from typing import Any

from mmkit.audit import applicability as ap
from mmkit.audit.invariant import (
    AuditContext,
    AuditTarget,
    Concern,
    Invariant,
    NotApplicable,
    Severity,
    Unaudited,
)
from mmkit.core.types import NS_PER_S

_SENTINEL = -987654.321
#: the stream of the ``leader`` op's events: the lead-lag estimator's default in-band prefix
LEADER = "leader:bbo"

# -- event builders (numpy imported lazily) ---------------------------------------------


def _book(ts: int, mid: float, spread: float = 2e-4, levels: int = 10) -> Any:
    """A well-formed snapshot: ``levels`` per side, sizes decaying with distance."""
    import numpy as np

    from mmkit.core.events import BookSnapshot

    d = np.asarray((0.5 * spread + np.arange(levels) * 1e-4) * mid, dtype=np.float64)
    sz = np.asarray(5.0 * np.exp(-1500.0 * d / mid), dtype=np.float64)
    return BookSnapshot(ts, mid - d, sz.copy(), mid + d, sz.copy())


def _raw_book(ts: int, bids: list[float], asks: list[float], sizes: list[float]) -> Any:
    import numpy as np

    from mmkit.core.events import BookSnapshot

    nb, na = len(bids), len(asks)
    sz = (sizes * (1 + max(nb, na)))[: max(nb, na)] if sizes else [1.0] * max(nb, na)
    return BookSnapshot(
        ts,
        np.asarray(bids, dtype=np.float64),
        np.asarray(sz[:nb], dtype=np.float64),
        np.asarray(asks, dtype=np.float64),
        np.asarray(sz[:na], dtype=np.float64),
    )


def _trade(ts: int, px: float, sz: float, buy: bool = True) -> Any:
    from mmkit.core.events import Trade
    from mmkit.core.types import Side

    return Trade(ts, px, sz, Side.BUY if buy else Side.SELL)


def _fill(ts: int, px: float, sz: float, buy: bool = True) -> Any:
    from mmkit.core.events import OwnFill
    from mmkit.core.types import Side

    return OwnFill(ts, 1, None, Side.BUY if buy else Side.SELL, px, sz)


def _timer(ts: int) -> Any:
    from mmkit.core.events import Timer

    return Timer(ts)


# -- adversarial streams ----------------------------------------------------------------


def adversarial_ops(horizon_s: float = 3600.0) -> Any:
    """hypothesis strategy: a list of ``(time step ns, op)`` mixing sane and hostile input.

    Ops: ``("book", mid multiplier)``, ``("raw_book", bids, asks, sizes)``, ``("empty",)``
    (a snapshot with both sides empty), ``("crossed", overlap)``, ``("delta", bids, asks,
    sizes)``, ``("bbo", bid, ask)``, ``("trade", px or relative offset, size)``, ``("fill",
    ...)``, ``("timer",)``, ``("trades", rows, spread ns)`` (a
    :class:`~mmkit.core.events.TradeBatch`), ``("feed", connected, gap, stream)``,
    ``("order", status, px, size)``, ``("result", outcome, reason)`` and ``("position",
    size)``: every event kind the engine delivers to estimators and gates. (Fixed streams
    also use ``("top", bid offset, ask offset, bid size, ask size)``: a top of book around
    the sane mid, which drawn prices rarely make, and ``("leader", bid offset, ask
    offset)``: a leader venue's top of book around it, on the stream :data:`LEADER`.)
    Time steps include zero, backwards jumps and gaps up to twice ``horizon_s`` seconds
    (pass :func:`mmkit.audit.streams.time_horizon_s` of the component's params), so that
    every window, cooldown and timeout of the component runs out inside a stream.
    """
    from hypothesis import strategies as st

    from mmkit.core.events import OrderStatus
    from mmkit.core.outcomes import Outcome, RejectReason

    far = int(2 * horizon_s * NS_PER_S)

    hostile = st.sampled_from(
        [math.nan, math.inf, -math.inf, 0.0, -1.0, 1e308, -1e308, 1e-308, 5e-324, 1e12]
    )
    anyfloat = st.one_of(
        hostile, st.floats(allow_nan=True, allow_infinity=True), st.floats(50.0, 150.0)
    )
    offset = st.floats(-0.02, 0.02)
    step = st.one_of(
        st.integers(0, 3 * NS_PER_S),
        st.integers(-20 * NS_PER_S, 0),
        st.sampled_from([0, 10**12, 4000 * NS_PER_S, far // 4, far // 2, far // 2 + NS_PER_S, far]),
        st.integers(0, far),
    )
    row = st.tuples(  # mostly sane rows: a batch's bookkeeping matters on real trades
        st.one_of(offset, offset, anyfloat),
        st.one_of(st.floats(1e-3, 10.0), anyfloat),
        st.booleans(),
        # exchange ts minus receive time
        st.sampled_from([0, 0, -NS_PER_S, 30 * NS_PER_S, -(10**12)]),
    )
    # the kinds the engine delivers beyond market data and fills: one branch (twice) of the
    # op choice, mapped so that hypothesis does not flatten it into as many branches — that
    # would make trades and fills, on which most bugs sit, rarer by half
    wide = st.one_of(
        st.tuples(st.just("empty")),
        st.tuples(st.just("crossed"), st.floats(0.0, 0.05)),
        st.tuples(
            st.just("delta"),
            st.lists(anyfloat, max_size=4),
            st.lists(anyfloat, max_size=4),
            st.lists(st.one_of(st.just(0.0), anyfloat), max_size=4),
        ),
        st.tuples(
            st.just("feed"), st.booleans(), st.booleans(), st.sampled_from(["book", "trades"])
        ),
        st.tuples(st.just("order"), st.sampled_from(list(OrderStatus)), anyfloat, anyfloat),
        st.tuples(
            st.just("result"), st.sampled_from(list(Outcome)), st.sampled_from(list(RejectReason))
        ),
        st.tuples(st.just("position"), st.one_of(st.floats(-5.0, 5.0), anyfloat)),
    ).map(tuple)
    op = st.one_of(
        st.tuples(st.just("book"), st.floats(0.9, 1.1)),
        st.tuples(
            st.just("raw_book"),
            st.lists(anyfloat, max_size=6),
            st.lists(anyfloat, max_size=6),
            st.lists(anyfloat, max_size=6),
        ),
        st.tuples(st.just("bbo"), anyfloat, anyfloat),
        st.tuples(st.just("trade"), st.one_of(offset, anyfloat), anyfloat, st.booleans()),
        st.tuples(st.just("fill"), st.one_of(offset, anyfloat), anyfloat, st.booleans()),
        st.tuples(st.just("timer")),
        # a trade batch: rows received ``spread`` ns apart, the last one now
        st.tuples(
            st.just("trades"),
            st.lists(row, min_size=1, max_size=8),
            st.sampled_from([0, 1, 10**6, 2 * NS_PER_S, 700 * NS_PER_S]),
        ),
        wide,
        wide,
    )
    return st.lists(st.tuples(step, op), max_size=60)


def _event_of(op: tuple[Any, ...], ts: int, mid: list[float]) -> Any:
    """Turn an op into an event; ``mid`` is the running sane mid (a 1-element list)."""
    import numpy as np

    from mmkit.core import events as ev_
    from mmkit.core.events import BBO
    from mmkit.core.types import Side

    kind = op[0]
    if kind == "book":
        mid[0] = min(max(mid[0] * op[1], 1.0), 1e6)
        return _book(ts, mid[0])
    if kind == "raw_book":
        return _raw_book(ts, op[1], op[2], op[3])
    if kind == "empty":
        return _raw_book(ts, [], [], [])
    if kind == "crossed":  # best bid above best ask by ``overlap`` (relative)
        m = mid[0]
        return _raw_book(ts, [m * (1 + op[1] / 2), m * 0.99], [m * (1 - op[1] / 2), m], [1.0])
    if kind == "delta":
        nb, na = len(op[1]), len(op[2])
        sz = (list(op[3]) + [0.0] * (nb + na))[: nb + na]
        return ev_.BookDelta(
            ts,
            np.asarray(op[1], dtype=np.float64),
            np.asarray(sz[:nb], dtype=np.float64),
            np.asarray(op[2], dtype=np.float64),
            np.asarray(sz[nb:], dtype=np.float64),
        )
    if kind == "feed":
        return ev_.FeedStatus(ts, op[3], connected=op[1], gap=op[2], local_ts=ts)
    if kind == "order":
        return ev_.OrderUpdate(ts, 7, None, op[1], Side.BUY, op[2], op[3], op[3], local_ts=ts)
    if kind == "result":
        return ev_.ActionResult(ts, 1, None, None, op[1], op[2], local_ts=ts)
    if kind == "position":
        return ev_.PositionSnapshot(ts, op[1], local_ts=ts)
    if kind == "bbo":
        return BBO(ts, op[1], 1.0, op[2], 1.0)
    if kind == "top":  # a top of book around the sane mid (relative offsets), sizes given
        return BBO(ts, mid[0] * (1.0 + op[1]), op[3], mid[0] * (1.0 + op[2]), op[4])
    if kind == "leader":  # a leader venue's top of book, in band (relative offsets)
        return BBO(ts, mid[0] * (1.0 + op[1]), 1.0, mid[0] * (1.0 + op[2]), 1.0, stream=LEADER)
    if kind in ("trade", "fill"):
        make = _trade if kind == "trade" else _fill
        return make(ts, _price(op[1], mid), op[2], op[3])
    if kind == "trades":
        return _batch(op[1], op[2], ts, mid)
    return _timer(ts)


def _price(px: float, mid: list[float]) -> float:
    """``px``, or the sane mid moved by ``px`` when it is a small relative offset."""
    return mid[0] * (1.0 + px) if -0.05 <= px <= 0.05 else px


def _batch(rows: list[tuple[Any, ...]], spread: int, now: int, mid: list[float]) -> Any:
    import numpy as np

    from mmkit.core.events import TradeBatch

    m = len(rows)
    recv = [max(0, now - (m - 1 - k) * spread) for k in range(m)]
    return TradeBatch(
        np.array([max(0, r + row[3]) for r, row in zip(recv, rows, strict=True)], np.int64),
        np.array([_price(row[0], mid) for row in rows], np.float64),
        np.array([row[1] for row in rows], np.float64),
        np.array([1 if row[2] else -1 for row in rows], np.int8),
        np.array(recv, np.int64),
    )


def feed(component: Any, ev: Any, now: int) -> None:
    """One event to an estimator or gate, a trade batch as the engine delivers it."""
    if ev.kind.name == "TRADE_BATCH":
        from mmkit.core.batching import deliver

        deliver(component, ev)
    else:
        component.on_event(ev, now)


def replay(
    est: Any,
    ops: list[tuple[int, tuple[Any, ...]]],
    after: Callable[[Any, int], None],
    start_ns: int = 1_700_000_000 * NS_PER_S,
) -> None:
    """Drive ``est`` with the busy market (:func:`busy_market`: fits, baselines, a burst and
    jumps of the mid, whatever hypothesis draws) then the ops, calling ``estimate`` and then
    ``after(out, now)`` after each."""
    from mmkit.components import Estimates

    out = Estimates()
    now = start_ns
    mid = [100.0]
    for step, op in busy_market() + ops:
        now = max(0, now + step)
        feed(est, _event_of(op, now, mid), now)
        est.estimate(out, now)
        after(out, now)


_Decorator = Callable[[Callable[..., None]], Callable[..., None]]


def _settings(ctx: AuditContext) -> _Decorator:
    """``ctx.settings()`` typed as the decorator it is."""
    deco: _Decorator = ctx.settings()
    return deco


def _horizon(target: AuditTarget) -> float:
    """Twice this (seconds) is the longest time jump of a stream: the longest window,
    cooldown or timeout in the target's params, at least an hour."""
    from mmkit.audit.streams import time_horizon_s

    return time_horizon_s(target.params)


def _note(ops: Any) -> None:
    from hypothesis import note

    from mmkit.audit.notes import describe_ops

    note(describe_ops(ops))  # times since the stream's start, fields named


# -- checks -----------------------------------------------------------------------------


def check_kappa_positive(target: AuditTarget, ctx: AuditContext) -> None:
    """Kappa is finite and > 0 at every retrieval, whatever the input stream."""
    from hypothesis import given

    ap.not_applicable(target, "kappa", "kappa invariants")

    @_settings(ctx)
    @given(adversarial_ops(_horizon(target)))
    def run(ops: list[tuple[int, tuple[Any, ...]]]) -> None:
        _note(ops)

        def after(out: Any, now: int) -> None:
            k = out.kappa
            assert isinstance(k, float | int) and math.isfinite(k) and k > 0, (
                f"kappa {k!r} at t={now}"
            )

        replay(target.build(), ops, after)

    run()


def check_sigma_bounded(target: AuditTarget, ctx: AuditContext) -> None:
    """Sigma is finite, > 0 and <= the cap it enforces (``sigma_cap()``) at every
    retrieval (recommendation 1)."""
    from hypothesis import given

    ap.not_applicable(target, "sigma", "sigma invariants")
    sigma_cap_of(target.build())

    @_settings(ctx)
    @given(adversarial_ops(_horizon(target)))
    def run(ops: list[tuple[int, tuple[Any, ...]]]) -> None:
        _note(ops)
        est = target.build()
        cap = sigma_cap_of(est)

        def after(out: Any, now: int) -> None:
            s = out.sigma
            assert isinstance(s, float | int) and math.isfinite(s) and s > 0, (
                f"sigma {s!r} at t={now}"
            )
            assert s <= cap, f"sigma {s!r} above max_sigma {cap!r} at t={now}"

        replay(est, ops, after)

    run()


def _own_fill_api(target: AuditTarget) -> None:
    """In scope: a kappa estimator observed to learn from its own fills (or declaring
    :class:`~mmkit.components.OwnFillPosterior`); then the contract is required."""
    from mmkit.components import OwnFillPosterior

    ap.not_applicable(target, "kappa", "own-fill kappa invariants")
    est = target.build()
    if not isinstance(est, OwnFillPosterior) and not ap.consumes(target, "fill"):
        raise NotApplicable(
            "own-fill kappa invariants: kappa was not observed to change with own fills "
            "and the estimator does not implement OwnFillPosterior"
        )
    ap.require(est, OwnFillPosterior, "the own-fill posterior")


def _fill_stream(offsets: list[float], sizes: list[float], gap_ns: int) -> list[Any]:
    """Book then one fill per offset, ``gap_ns`` apart, at mid 100."""
    t0 = 1_700_000_000 * NS_PER_S
    evs: list[Any] = []
    for i, (off, sz) in enumerate(zip(offsets, sizes, strict=False)):
        t = t0 + i * gap_ns
        evs.append(_book(t, 100.0))
        evs.append(_fill(t, 100.0 * (1.0 - off), sz, True))
    return evs


def _reconnect(ts: int) -> list[Any]:
    """A book feed going down and coming back (with a gap) at ``ts``, and the trades feed."""
    from mmkit.core.events import FeedStatus

    return [
        FeedStatus(ts, "book", connected=False, local_ts=ts),
        FeedStatus(ts, "trades", connected=False, local_ts=ts),
        FeedStatus(ts, "book", connected=True, gap=True, local_ts=ts),
        FeedStatus(ts, "trades", connected=True, local_ts=ts),
    ]


def _with_reconnects(evs: list[Any], after: set[int]) -> list[Any]:
    """``evs`` with a feed disconnect and reconnect after the ``k``-th own fill for each
    ``k`` in ``after`` (0: before the first)."""
    out: list[Any] = []
    fills = 0
    if 0 in after and evs:
        out += _reconnect(evs[0].ts)
    for ev in evs:
        out.append(ev)
        if ev.kind.name == "OWN_FILL":
            fills += 1
            if fills in after:
                out += _reconnect(ev.ts)
    return out


def check_conjugacy_counts_observations(target: AuditTarget, ctx: AuditContext) -> None:
    """Own-fill posterior shape = prior shape + number of fills, never volume (section 1)."""
    from hypothesis import given
    from hypothesis import strategies as st

    from mmkit.components import Estimates

    _own_fill_api(target)

    # up to 120 fills (often many: a bug that starts after the k-th fill, a second regime,
    # is reached), 100 ms apart so that all of them stay inside any sane window (12 s)
    counts = st.one_of(st.integers(1, 120), st.sampled_from([30, 60, 120]))

    @_settings(ctx)
    @given(
        counts.flatmap(lambda n: st.lists(st.floats(1e-5, 4e-3), min_size=n, max_size=n)),
        st.lists(st.floats(1e-3, 1e3), min_size=1, max_size=8),
        st.sets(st.integers(0, 120), max_size=3),
    )
    def run(offsets: list[float], pattern: list[float], reconnects: set[int]) -> None:
        sizes = [pattern[i % len(pattern)] for i in range(len(offsets))]
        results = []
        for szs in (sizes, [1.0] * len(sizes)):
            est = target.build()
            out = Estimates()
            stream = _fill_stream(offsets, szs, NS_PER_S // 10)
            for ev in _with_reconnects(stream, reconnects):
                est.on_event(ev, ev.ts)
            est.estimate(out, ev.ts)
            a0, _b0 = est.prior
            a, b = est.posterior()
            n = est.observation_count
            assert n == len(offsets), f"{n} observations counted for {len(offsets)} fills"
            assert math.isclose(a, a0 + n, rel_tol=1e-12), (
                f"posterior alpha {a} != prior alpha {a0} + {n} fills (sizes {szs})"
            )
            results.append((a, b))
        assert math.isclose(results[0][0], results[1][0], rel_tol=1e-12) and math.isclose(
            results[0][1], results[1][1], rel_tol=1e-9
        ), f"posterior depends on fill sizes: {results[0]} vs {results[1]}"

    run()


def check_warmup_graduation(target: AuditTarget, ctx: AuditContext) -> None:
    """Own-fill warmup ends exactly at the ``warmup_fills``-th fill and never re-enters."""
    from hypothesis import given
    from hypothesis import strategies as st

    from mmkit.components import Estimates

    _own_fill_api(target)

    @_settings(ctx)
    @given(st.integers(0, 12), st.integers(1, 120), st.sets(st.integers(0, 12), max_size=4))
    def run(n_fills: int, gap_s: int, reconnects: set[int]) -> None:
        est = target.build()
        need = int(est.warmup_fills)
        window = float(est.window_s)
        out = Estimates()
        # feed disconnects and reconnects between fills: graduation survives them
        evs = _with_reconnects(
            _fill_stream([1e-4] * n_fills, [1.0] * n_fills, gap_s * NS_PER_S), reconnects
        )
        fills = 0
        now = 1_700_000_000 * NS_PER_S
        for ev in evs:
            now = ev.ts
            est.on_event(ev, now)
            if ev.kind.name == "OWN_FILL":
                fills += 1
                est.estimate(out, now)
                assert bool(est.has_exited_warmup) == (fills >= need), (
                    f"has_exited_warmup={est.has_exited_warmup} after {fills} fills "
                    f"(threshold {need})"
                )
        graduated = bool(est.has_exited_warmup)
        for k in range(1, 4):  # let everything expire (a reconnect on the way)
            later = now + int(k * window * NS_PER_S) + NS_PER_S
            for ev in _reconnect(later - NS_PER_S):
                est.on_event(ev, ev.ts)
            est.on_event(_book(later, 100.0), later)
            est.estimate(out, later)
            assert bool(est.has_exited_warmup) == graduated, (
                "warmup re-entered after fills expired" if graduated else "graduated w/o fills"
            )

    run()


def check_expiry_regresses_to_prior(target: AuditTarget, ctx: AuditContext) -> None:
    """When every fill has left the window, the posterior equals the prior exactly."""
    from hypothesis import given
    from hypothesis import strategies as st

    from mmkit.components import Estimates

    _own_fill_api(target)

    @_settings(ctx)
    @given(st.lists(st.floats(0.0, 4e-3), min_size=1, max_size=12), st.integers(0, 30))
    def run(offsets: list[float], gap_s: int) -> None:
        est = target.build()
        window = float(est.window_s)
        out = Estimates()
        evs = _fill_stream(offsets, [1.0] * len(offsets), gap_s * NS_PER_S)
        for ev in evs:
            est.on_event(ev, ev.ts)
            est.estimate(out, ev.ts)
        later = evs[-1].ts + int(window * NS_PER_S) + NS_PER_S
        est.on_event(_book(later, 100.0), later)
        est.estimate(out, later)
        a0, b0 = est.prior
        a, b = est.posterior()
        assert est.observation_count == 0, f"{est.observation_count} fills left after window"
        assert math.isclose(a, a0, rel_tol=1e-12) and math.isclose(b, b0, rel_tol=1e-9), (
            f"posterior {(a, b)} != prior {(a0, b0)} after every fill expired"
        )

    run()


def check_convex_blend(target: AuditTarget, ctx: AuditContext) -> None:
    """The blended kappa is a convex combination of its sources (non-negative weights)."""
    from hypothesis import given

    from mmkit.components import KappaSources

    ap.not_applicable(target, "kappa", "the kappa blend")
    probe = target.build()
    blends = ap.consumes(target, "fill") and ap.consumes(target, "trade")
    if not isinstance(probe, KappaSources) and not blends:
        raise NotApplicable(
            "the kappa blend: kappa was not observed to combine own fills and market "
            "trades and the estimator does not implement KappaSources"
        )
    ap.require(probe, KappaSources, "the kappa blend")

    @_settings(ctx)
    @given(adversarial_ops(_horizon(target)))
    def run(ops: list[tuple[int, tuple[Any, ...]]]) -> None:
        _note(ops)
        est = target.build()

        def after(out: Any, now: int) -> None:
            src = est.kappa_sources()
            blend = est.blended_kappa()
            assert src, "no sources behind the blend"
            assert all(c >= 0 for _n, _k, c in src), f"negative confidence in {src}"
            lo = min(k for _n, k, _c in src)
            hi = max(k for _n, k, _c in src)
            tol = 1e-9 * max(abs(lo), abs(hi))
            assert lo - tol <= blend <= hi + tol, f"blend {blend} outside sources {src}"

        replay(est, ops, after)

    run()


def check_cascade_raises_sigma(target: AuditTarget, ctx: AuditContext) -> None:
    """While cascade mode is on, sigma is above its pre-cascade value (or at the cap)."""
    from hypothesis import given
    from hypothesis import strategies as st

    from mmkit.components import Estimates

    ap.not_applicable(target, "sigma", "cascade mode")
    ap.not_applicable(target, "cascade", "cascade mode")
    sigma_cap_of(target.build())
    triggered = [0]

    @_settings(ctx)
    @given(st.floats(0.01, 0.3), st.booleans(), st.integers(60, 200))
    def run(jump: float, up: bool, calm_s: int) -> None:
        est = target.build()
        cap = sigma_cap_of(est)
        out = Estimates()
        t0 = 1_700_000_000 * NS_PER_S
        mid = 100.0
        now = t0
        for i in range(calm_s * 2):
            now = t0 + i * NS_PER_S // 2
            mid *= 1.0 + 5e-5 * math.sin(1.7 * i)
            est.on_event(_book(now, mid), now)
            est.estimate(out, now)
        assert not out.cascade, "cascade mode on a calm market"
        before = out.sigma
        mid *= (1.0 + jump) if up else 1.0 / (1.0 + jump)
        for i in range(1, 20):
            t = now + i * NS_PER_S // 2
            est.on_event(_book(t, mid), t)
            est.estimate(out, t)
            if out.cascade:
                triggered[0] += 1
                assert out.sigma > before or out.sigma >= cap, (
                    f"cascade mode on but sigma {out.sigma} not above {before} (jump {jump:+.3f})"
                )
                # the cascade override raises sigma, never past the cap the estimator states
                # (and the cap it states does not move in cascade mode)
                now_cap = sigma_cap_of(est)
                assert out.sigma <= cap, (
                    f"cascade mode: sigma {out.sigma!r} above the cap {cap!r} "
                    f"{i / 2:g} s after a {jump:+.3f} jump"
                )
                assert now_cap == cap or (now_cap != now_cap and cap != cap), (
                    f"the sigma cap moved from {cap!r} to {now_cap!r} in cascade mode"
                )

    run()
    if not triggered[0]:
        raise Concern("publishes cascade but never entered cascade mode on a 1-30% jump")


def sigma_cap_of(est: Any) -> float:
    """The cap ``est`` enforces on sigma (:class:`~mmkit.components.SigmaCapped`): raises
    :class:`Unaudited` without ``sigma_cap()``; a cap that is not a finite number > 0 fails."""
    from mmkit.components import SigmaCapped

    cap = ap.require(est, SigmaCapped, "sigma <= the cap it enforces").sigma_cap()
    assert isinstance(cap, float | int) and not isinstance(cap, bool), (
        f"sigma_cap() returned {cap!r}, not a number"
    )
    assert math.isfinite(cap) and cap > 0, f"sigma_cap() returned {cap!r}: a cap is finite and > 0"
    return float(cap)


#: names (of Estimates fields or extras keys) that hold a confidence
_CONFIDENCE_MARKERS: tuple[str, ...] = ("confidence", "_conf")


def _is_confidence(name: str) -> bool:
    low = name.lower()
    return any(m in low for m in _CONFIDENCE_MARKERS)


def confidence_problem(out: Any) -> str | None:
    """The first published confidence (a field or an ``extras`` key whose name says
    confidence) that is not a number in [0, 1]; None when all are."""
    names = [n for n in out.__slots__ if n != "extras" and _is_confidence(n)]
    values = [(n, getattr(out, n)) for n in names]
    values += [(f"extras[{k!r}]", v) for k, v in out.extras.items() if _is_confidence(str(k))]
    for name, v in values:
        ok = isinstance(v, float | int) and not isinstance(v, bool) and 0.0 <= v <= 1.0
        if not ok:
            return f"{name} = {v!r} is not a confidence in [0, 1]"
    return None


def check_confidence_bounded(target: AuditTarget, ctx: AuditContext) -> None:
    """Every confidence an estimator publishes (``kappa_confidence``, ``sigma_confidence``
    and any ``extras`` key naming a confidence) is a number in [0, 1] after every event of
    an adversarial stream (every event kind, hostile values, time jumps past every window
    in the estimator's params). Gates and quoters read confidences as probabilities (blend
    weights, warmup thresholds); 1.5 or NaN turns a weight into an extrapolation."""
    from hypothesis import given

    from mmkit.audit.streams import time_horizon_s

    @_settings(ctx)
    @given(adversarial_ops(time_horizon_s(target.params)))
    def run(ops: list[tuple[int, tuple[Any, ...]]]) -> None:
        _note(ops)

        def after(out: Any, now: int) -> None:
            why = confidence_problem(out)
            assert why is None, f"{why} at t={now}"

        replay(target.build(), ops, after)

    run()


def same_value(a: Any, b: Any) -> bool:
    """Equal, NaN equal to NaN, floats to 1e-9 relative (a vectorised sum may round
    differently from one addition per row)."""
    if isinstance(a, float) and isinstance(b, float):
        if a != a or b != b:
            return a != a and b != b
        return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-300)
    return bool(a == b)


def estimates_diff(a: Any, b: Any) -> list[str]:
    """Fields (and extras) in which two :class:`Estimates` differ, as ``name: a != b``."""
    out = [
        f"{name}: {getattr(a, name)!r} != {getattr(b, name)!r}"
        for name in a.__slots__
        if name != "extras" and not same_value(getattr(a, name), getattr(b, name))
    ]
    for key in sorted(set(a.extras) | set(b.extras)):
        va, vb = a.extras.get(key, "(absent)"), b.extras.get(key, "(absent)")
        if not same_value(va, vb):
            out.append(f"extras[{key!r}]: {va!r} != {vb!r}")
    return out


def busy_market() -> list[tuple[int, tuple[Any, ...]]]:
    """Ops of a sane, busy market that take windowed estimators and gates through their
    states before the adversarial part of a stream: 25 s of books and trade batches (enough
    for fits and baselines), a batch whose rows all arrive late on the exchange clock
    (timestamp regressions, received 0.9 s apart), then a 1 s burst of 600 trades."""
    ops: list[tuple[int, tuple[Any, ...]]] = []
    for i in range(50):
        ops.append((NS_PER_S // 2, ("book", 1.0 + 1e-4 * math.sin(i))))
        rows = [(2e-4 * ((i * 7 + k) % 9 - 4), 0.1 + 0.05 * k, k % 2 == 0, 0) for k in range(6)]
        ops.append((0, ("trades", rows, 50_000_000)))
    ops.append((NS_PER_S // 2, ("trades", [(1e-4, 0.2, True, -10 * NS_PER_S)] * 3, 900_000_000)))
    for i in range(10):
        ops.append((NS_PER_S // 10, ("book", 1.0 + 2e-3 * i)))
        rows = [(1e-3 * (k % 5 - 2), 0.5, k % 3 == 0, 0) for k in range(60)]
        ops.append((0, ("trades", rows, 1_000_000)))
    return ops


def stream_events(
    ops: list[tuple[int, tuple[Any, ...]]],
    prefix: list[tuple[int, tuple[Any, ...]]] | None = None,
) -> Iterator[tuple[str, int, Any, tuple[Any, ...]]]:
    """The events of ``prefix`` (by default :func:`busy_market`) then ``ops``, as
    ``(where, now, event, op)``: ``where`` names the step for a failure message (a prefix
    op with its fields, since no counterexample shows those)."""
    prefix = busy_market() if prefix is None else prefix
    now = 1_700_000_000 * NS_PER_S
    mid = [100.0]
    for i, (step, op) in enumerate(prefix + ops):
        now = max(0, now + step)
        if i < len(prefix):
            where = f"fixed-market op {i} {op!r}"[:160]
        else:
            where = f"op {i - len(prefix)} of the events ({op[0]})"
        yield where, now, _event_of(op, now, mid), op


def drive_twins(
    batched: Any,
    rows: Any,
    ops: list[tuple[int, tuple[Any, ...]]],
    after: Callable[[str, int], None],
    market: Any = None,
) -> None:
    """Feed two twin components the busy market then ``ops``: trade batches whole to
    ``batched.on_trades``, row by row to ``rows.on_event``, anything else to both; after
    each step, ``after(where, now)``. ``market`` (a MarketState) follows the events too."""
    for where, now, ev, op in stream_events(ops):
        if market is not None:
            market.apply(ev, now)
        if op[0] == "trades":
            batched.on_trades(ev, ev.local_ts)
            for tr, t in ev.trades():
                rows.on_event(tr, t)
        else:
            batched.on_event(ev, now)
            rows.on_event(ev, now)
        after(where, now)


def check_batch_equivalence(target: AuditTarget, ctx: AuditContext) -> None:
    """A component with ``on_trades`` ends every step exactly as a twin fed the same trades
    one by one through ``on_event`` (what the engine does for components without it)."""
    from hypothesis import given

    from mmkit.components import TradeBatchConsumer

    if not isinstance(target.build(), TradeBatchConsumer):
        raise NotApplicable("no on_trades: the engine delivers trade batches row by row")

    @_settings(ctx)
    @given(adversarial_ops(_horizon(target)))
    def run(ops: list[tuple[int, tuple[Any, ...]]]) -> None:
        from mmkit.components import Estimates

        _note(ops)
        batched, rows = target.build(), target.build()
        out_b, out_r = Estimates(), Estimates()

        def after(where: str, now: int) -> None:
            batched.estimate(out_b, now)
            rows.estimate(out_r, now)
            diff = estimates_diff(out_b, out_r)
            assert not diff, f"after {where}, batch vs rows: " + "; ".join(diff)

        drive_twins(batched, rows, ops, after)

    run()


def check_publishes_declared(target: AuditTarget, ctx: AuditContext) -> None:
    """Everything the estimator writes (Estimates fields and extras keys) is covered by its
    ``publishes`` declaration, on the observation stream and on adversarial streams: the
    audit scopes invariants by what an estimator publishes, so an undeclared output is one a
    reader of the declaration would not audit."""
    from hypothesis import given

    from mmkit.components import Estimates

    declared = ap.declared_publishes(target.build())
    if declared is None:
        raise Unaudited(
            "the estimator declares no publishes (a class attribute publishes = "
            "frozenset({...}) of the Estimates fields and extras keys it writes; see "
            "mmkit.components.DeclaresPublishes)",
            missing=("publishes",),
        )

    def undeclared(names: Any) -> list[str]:
        return sorted(n for n in names if not ap.covers(declared, n))

    extra = undeclared(ap.observed_publishes(target))
    assert not extra, (
        f"writes {extra} on the audit's observation stream but declares publishes = "
        f"{sorted(declared)}"
    )
    fields = ap.estimate_fields()
    defaults = Estimates()

    @_settings(ctx)
    @given(adversarial_ops(_horizon(target)))
    def run(ops: list[tuple[int, tuple[Any, ...]]]) -> None:
        _note(ops)

        def after(out: Any, now: int) -> None:
            written = [f for f in fields if ap.differs(getattr(out, f), getattr(defaults, f))]
            bad = undeclared([*written, *out.extras])
            assert not bad, f"writes {bad} at t={now} but declares publishes = {sorted(declared)}"

        replay(target.build(), ops, after)

    run()


@contextlib.contextmanager
def _quiet_builtin_logs() -> Iterator[None]:
    """Silence the built-in estimators' warnings (stagnation, cascade) during a check:
    adversarial streams trigger them by design and they would flood the audit output."""
    logger = logging.getLogger("mmkit.estimators")  # the children inherit its level
    was = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(was)


def _inv(
    id_: str, title: str, section: str, severity: Severity, check: Any, weight: float = 1.0
) -> Invariant:
    @functools.wraps(check)
    def quiet_check(target: AuditTarget, ctx: AuditContext) -> None:
        with _quiet_builtin_logs():
            check(target, ctx)

    return Invariant(
        id=id_,
        title=title,
        section=section,
        severity=severity,
        kinds=("estimator",),
        check=quiet_check,
        description=check.__doc__ or "",
        weight=weight,
    )


INVARIANTS: list[Invariant] = [
    _inv(
        "estimators.kappa_positive",
        "kappa finite and > 0 at every retrieval",
        "1. Kappa Estimation Integrity",
        Severity.CRITICAL,
        check_kappa_positive,
    ),
    _inv(
        "estimators.sigma_bounded",
        "sigma finite, > 0 and <= sigma_cap() on every path",
        "2. Sigma Estimation Under Regime Change",
        Severity.CRITICAL,
        check_sigma_bounded,
    ),
    _inv(
        "estimators.conjugacy_counts",
        "own-fill posterior counts fills, not volume",
        "1. Kappa Estimation Integrity",
        Severity.HIGH,
        check_conjugacy_counts_observations,
        0.3,
    ),
    _inv(
        "estimators.warmup_graduation",
        "warmup exits at the 5th fill and never re-enters",
        "1. Kappa Estimation Integrity",
        Severity.HIGH,
        check_warmup_graduation,
        0.3,
    ),
    _inv(
        "estimators.expiry_to_prior",
        "all fills expired => posterior == prior",
        "1. Kappa Estimation Integrity",
        Severity.MEDIUM,
        check_expiry_regresses_to_prior,
        0.3,
    ),
    _inv(
        "estimators.convex_blend",
        "blended kappa is a convex combination of its sources",
        "1. Kappa Estimation Integrity",
        Severity.HIGH,
        check_convex_blend,
    ),
    _inv(
        "estimators.batch_equivalence",
        "a trade batch leaves the estimates as its trades one by one",
        "8. Numerical Stability",
        Severity.HIGH,
        check_batch_equivalence,
        0.5,
    ),
    _inv(
        "estimators.confidence_bounded",
        "every published confidence stays in [0, 1]",
        "1. Kappa Estimation Integrity",
        Severity.HIGH,
        check_confidence_bounded,
        0.3,
    ),
    _inv(
        "estimators.cascade_raises_sigma",
        "cascade override raises sigma",
        "2. Sigma Estimation Under Regime Change",
        Severity.HIGH,
        check_cascade_raises_sigma,
        0.2,
    ),
    _inv(
        "estimators.publishes_declared",
        "what an estimator writes is declared in its publishes",
        "8. Numerical Stability",
        Severity.MEDIUM,
        check_publishes_declared,
        0.3,
    ),
]
