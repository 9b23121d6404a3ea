"""Invariants of quoters (seed report section 1's kappa floors, section 8, and the quoting
rules of the protocol reference §5).

Every check is generic over any quoter built by ``target.build()``: it draws a market (sane,
empty, one-sided, crossed or off-grid book), a position and estimates (including ``kappa`` in
``[0, inf]``, NaN, negative and huge values), calls ``quote`` and checks the ladder:

* ``quoting.finite_positive`` - every price and size is finite and positive;
* ``quoting.no_self_cross`` - bids strictly descending, asks strictly ascending, best bid <
  best ask;
* ``quoting.venue_grid`` - prices and sizes on the venue grid, every order worth the minimum
  notional;
* ``quoting.post_only`` - bids below the market's best ask, asks above its best bid (skipped
  for a quoter whose params say ``post_only = false``);
* ``quoting.inventory_skew`` - more long inventory never raises the best bid or the best ask;
* ``quoting.exposure_cap`` - position plus every quote on a side stays within
  ``max_position``, and each order within ``max_order_notional``.

This module is imported at start-up: numpy and hypothesis are imported inside the checks.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mmkit.audit.invariant import AuditContext, AuditTarget, Invariant, Severity, Skip
from mmkit.core.types import NS_PER_S, Instrument

_Decorator = Callable[[Callable[..., None]], Callable[..., None]]
_HOSTILE = (math.nan, math.inf, -math.inf, 0.0, -1.0, 1e300, -1e300, 5e-324, 1e-12)


# -- scenario -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """One quoting situation: a book, a position and estimates."""

    bids: tuple[float, ...]
    asks: tuple[float, ...]
    position: float
    est: dict[str, float]
    now_ns: int


def make_view(
    instrument: Instrument,
    bids: tuple[float, ...] | list[float],
    asks: tuple[float, ...] | list[float],
    position: float,
    max_position: float,
    position_known: bool = True,
) -> Any:
    """A :class:`~mmkit.components.View` over a one-snapshot market."""
    import numpy as np

    from mmkit.components import View
    from mmkit.core.events import BookSnapshot
    from mmkit.core.market import MarketState
    from mmkit.core.portfolio import Portfolio

    market = MarketState()
    bid_px = np.asarray(bids, dtype=np.float64)
    ask_px = np.asarray(asks, dtype=np.float64)
    market.apply(
        BookSnapshot(1, bid_px, np.ones_like(bid_px), ask_px, np.ones_like(ask_px), local_ts=1), 1
    )
    return View(instrument, market, Portfolio(position, position_known), max_position)


def make_estimates(values: dict[str, float]) -> Any:
    from mmkit.components import Estimates

    est = Estimates()
    for name, value in values.items():
        setattr(est, name, value)
    est.warmed_up = True
    return est


def reference_price(target: AuditTarget) -> float:
    """A price at which one base order is worth a few times the minimum notional."""
    size = target.risk.order_size
    if not (size > 0 and math.isfinite(size)):
        return 100.0
    return max(1e-3, 3.0 * max(target.instrument.min_notional, 1.0) / size)


def scenarios(target: AuditTarget, hostile: bool = True) -> Any:
    """hypothesis strategy of :class:`Scenario` for ``target`` (hostile: broken inputs too)."""
    from hypothesis import strategies as st

    from mmkit.rounding import next_price_above, round_price

    inst = target.instrument
    ref = reference_price(target)
    max_pos = target.risk.max_position

    def any_float(lo: float, hi: float) -> Any:
        sane = st.floats(lo, hi, allow_nan=False, allow_infinity=False)
        return st.one_of(sane, st.sampled_from(_HOSTILE)) if hostile else sane

    @st.composite
    def build(draw: Any) -> Scenario:
        mid = ref * 10.0 ** draw(st.floats(0.0, 1.5))
        half = draw(st.floats(0.0, 0.01))
        bid = round_price(
            mid * (1 - half), inst.sz_decimals, max_decimals=inst.max_decimals, direction="down"
        )
        ask = round_price(
            mid * (1 + half), inst.sz_decimals, max_decimals=inst.max_decimals, direction="up"
        )
        if not ask > bid:
            ask = next_price_above(bid, inst.sz_decimals, max_decimals=inst.max_decimals)
        depth = [i * draw(st.floats(1e-5, 1e-3)) * mid for i in range(3)]
        bids = tuple(bid - d for d in depth)
        asks = tuple(ask + d for d in depth)
        kind = draw(
            st.sampled_from(
                ["normal"] * 6
                + (["empty_bid", "empty_ask", "empty", "crossed", "off_grid"] if hostile else [])
            )
        )
        if kind == "empty_bid":
            bids = ()
        elif kind == "empty_ask":
            asks = ()
        elif kind == "empty":
            bids, asks = (), ()
        elif kind == "crossed":
            bids, asks = asks, bids
        elif kind == "off_grid":
            bids = tuple(b * (1 - 1.234567e-7) for b in bids)
            asks = tuple(a * (1 + 1.234567e-7) for a in asks)
        position = draw(
            st.one_of(
                st.floats(-1.5, 1.5).map(lambda f: f * max_pos),
                st.sampled_from([0.0, max_pos, -max_pos, max_pos * (1 - 1e-12)]),
            )
        )
        est = {
            "kappa": draw(st.one_of(any_float(0.0, 1e6), st.floats(1.0, 1e4))),
            "A": draw(any_float(1e-3, 100.0)),
            "sigma": draw(st.one_of(any_float(0.0, 1e-2), st.floats(1e-6, 1e-3))),
            "drift": draw(any_float(-1e-4, 1e-4)),
            "fair_value_shift": draw(any_float(-1e-3, 1e-3)),
            "skew_shift": draw(any_float(-1e-3, 1e-3)),
            "spread_scale": draw(any_float(0.5, 5.0)),
            "size_scale": draw(any_float(0.1, 3.0)),
        }
        now_ns = draw(st.integers(0, 10**6)) * NS_PER_S
        return Scenario(bids, asks, position, est, now_ns)

    return build()


def run_quote(target: AuditTarget, sc: Scenario, position: float | None = None) -> Any:
    """Build a fresh quoter and quote ``sc`` (optionally at another position)."""
    from hypothesis import note

    quoter = target.build()
    pos = sc.position if position is None else position
    view = make_view(target.instrument, sc.bids, sc.asks, pos, target.risk.max_position)
    ladder = quoter.quote(view, make_estimates(sc.est), sc.now_ns)
    note(f"book bids={sc.bids} asks={sc.asks} position={pos} est={sc.est}")
    note(
        f"ladder bids={[(q.px, q.sz) for q in ladder.bids]} "
        f"asks={[(q.px, q.sz) for q in ladder.asks]}"
    )
    return ladder


def _property(
    target: AuditTarget, ctx: AuditContext, check: Callable[[Scenario], None], hostile: bool = True
) -> None:
    from hypothesis import given

    @_settings(ctx)
    @given(scenarios(target, hostile))
    def run(sc: Scenario) -> None:
        check(sc)

    run()


def _settings(ctx: AuditContext) -> _Decorator:
    """``ctx.settings()`` typed as the decorator it is."""
    deco: _Decorator = ctx.settings()
    return deco


# -- ladder predicates (also used by the tests) ---------------------------------------------


def assert_finite_positive(ladder: Any) -> None:
    for q in (*ladder.bids, *ladder.asks):
        assert math.isfinite(q.px) and q.px > 0, f"non-finite or non-positive price in {q}"
        assert math.isfinite(q.sz) and q.sz > 0, f"non-finite or non-positive size in {q}"


def assert_no_self_cross(ladder: Any) -> None:
    bids = [q.px for q in ladder.bids]
    asks = [q.px for q in ladder.asks]
    assert all(a > b for a, b in itertools.pairwise(bids)), f"bids not strictly descending: {bids}"
    assert all(b > a for a, b in itertools.pairwise(asks)), f"asks not strictly ascending: {asks}"
    if bids and asks:
        assert bids[0] < asks[0], f"our best bid {bids[0]} >= our best ask {asks[0]}"


def assert_venue_grid(ladder: Any, inst: Instrument) -> None:
    from mmkit.rounding import is_valid_price, is_valid_size, meets_min_notional

    for q in (*ladder.bids, *ladder.asks):
        assert is_valid_price(q.px, inst.sz_decimals, inst.max_decimals), (
            f"price {q.px!r} is off the venue grid (sz_decimals={inst.sz_decimals})"
        )
        assert is_valid_size(q.sz, inst.sz_decimals), (
            f"size {q.sz!r} is off the size grid (sz_decimals={inst.sz_decimals})"
        )
        assert meets_min_notional(q.px, q.sz, inst.min_notional), (
            f"order {q.sz} @ {q.px} is worth less than {inst.min_notional}"
        )


def assert_post_only(ladder: Any, bids: tuple[float, ...], asks: tuple[float, ...]) -> None:
    best_bid = bids[0] if bids else math.nan
    best_ask = asks[0] if asks else math.nan
    for q in ladder.bids:
        assert not q.px >= best_ask, f"bid {q.px} would cross the best ask {best_ask}"
    for q in ladder.asks:
        assert not q.px <= best_bid, f"ask {q.px} would cross the best bid {best_bid}"


def assert_exposure(
    ladder: Any, position: float, max_position: float, max_order_notional: float
) -> None:
    tol = 1e-9 * max(max_position, 1e-12)
    long_worst = position + sum(q.sz for q in ladder.bids)
    short_worst = -position + sum(q.sz for q in ladder.asks)
    if ladder.bids:
        assert long_worst <= max_position + tol, (
            f"position {position} + bids {sum(q.sz for q in ladder.bids)} exceeds "
            f"max_position {max_position}"
        )
    if ladder.asks:
        assert short_worst <= max_position + tol, (
            f"-position {-position} + asks {sum(q.sz for q in ladder.asks)} exceeds "
            f"max_position {max_position}"
        )
    for q in (*ladder.bids, *ladder.asks):
        assert q.px * q.sz <= max_order_notional * (1 + 1e-9), (
            f"order {q.sz} @ {q.px} exceeds max_order_notional {max_order_notional}"
        )


# -- checks ---------------------------------------------------------------------------------


def check_finite_positive(target: AuditTarget, ctx: AuditContext) -> None:
    _property(target, ctx, lambda sc: assert_finite_positive(run_quote(target, sc)))


def check_no_self_cross(target: AuditTarget, ctx: AuditContext) -> None:
    _property(target, ctx, lambda sc: assert_no_self_cross(run_quote(target, sc)))


def check_venue_grid(target: AuditTarget, ctx: AuditContext) -> None:
    _property(target, ctx, lambda sc: assert_venue_grid(run_quote(target, sc), target.instrument))


def check_post_only(target: AuditTarget, ctx: AuditContext) -> None:
    if getattr(target.params, "post_only", True) is False:
        raise Skip("the quoter is configured with post_only = false")
    _property(target, ctx, lambda sc: assert_post_only(run_quote(target, sc), sc.bids, sc.asks))


def check_inventory_skew(target: AuditTarget, ctx: AuditContext) -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    max_pos = target.risk.max_position

    @_settings(ctx)
    @given(scenarios(target, hostile=False), st.floats(-1.0, 1.0), st.floats(0.0, 1.0))
    def run(sc: Scenario, frac: float, more: float) -> None:
        lo = frac * max_pos
        hi = min(1.0, frac + more) * max_pos
        a = run_quote(target, sc, lo)
        b = run_quote(target, sc, hi)
        if a.bids and b.bids:
            assert b.bids[0].px <= a.bids[0].px, (
                f"best bid rose from {a.bids[0].px} to {b.bids[0].px} as the position grew "
                f"from {lo} to {hi}"
            )
        if a.asks and b.asks:
            assert b.asks[0].px <= a.asks[0].px, (
                f"best ask rose from {a.asks[0].px} to {b.asks[0].px} as the position grew "
                f"from {lo} to {hi}"
            )

    run()


def check_exposure_cap(target: AuditTarget, ctx: AuditContext) -> None:
    risk = target.risk

    def check(sc: Scenario) -> None:
        ladder = run_quote(target, sc)
        assert_exposure(ladder, sc.position, risk.max_position, risk.max_order_notional)

    _property(target, ctx, check)


_SECTION_NUM = "8. Numerical Stability"
_SECTION_QUOTING = "Quoting"

INVARIANTS: list[Invariant] = [
    Invariant(
        id="quoting.finite_positive",
        title="No NaN, inf or non-positive price or size in any quote, for any input",
        section=_SECTION_NUM,
        severity=Severity.CRITICAL,
        kinds=("quoter",),
        check=check_finite_positive,
        description="kappa in [0, inf] and NaN, hostile sigma/A/shifts, empty or crossed "
        "books: the quoter either quotes nothing on a side or finite, positive quotes.",
    ),
    Invariant(
        id="quoting.no_self_cross",
        title="Bids strictly descending, asks strictly ascending, best bid < best ask",
        section=_SECTION_QUOTING,
        severity=Severity.HIGH,
        kinds=("quoter",),
        check=check_no_self_cross,
    ),
    Invariant(
        id="quoting.venue_grid",
        title="Prices and sizes on Hyperliquid's grid, orders worth the minimum notional",
        section=_SECTION_QUOTING,
        severity=Severity.HIGH,
        kinds=("quoter",),
        check=check_venue_grid,
        description="At most 5 significant figures and max_decimals - sz_decimals decimals "
        "(integers always allowed), sizes with at most sz_decimals decimals, >= $10.",
    ),
    Invariant(
        id="quoting.post_only",
        title="Post-only quotes never cross the book (bid < best ask, ask > best bid)",
        section=_SECTION_QUOTING,
        severity=Severity.HIGH,
        kinds=("quoter",),
        check=check_post_only,
    ),
    Invariant(
        id="quoting.inventory_skew",
        title="More long inventory never raises the quotes",
        section=_SECTION_QUOTING,
        severity=Severity.MEDIUM,
        kinds=("quoter",),
        check=check_inventory_skew,
        weight=0.5,
    ),
    Invariant(
        id="quoting.exposure_cap",
        title="Position plus all quotes on a side never exceeds max_position",
        section=_SECTION_QUOTING,
        severity=Severity.CRITICAL,
        kinds=("quoter",),
        check=check_exposure_cap,
        description="Worst case if every bid (ask) fills; each order also within "
        "max_order_notional.",
    ),
]
