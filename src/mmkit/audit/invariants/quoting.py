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

from mmkit.audit.invariant import AuditContext, AuditTarget, Invariant, NotApplicable, Severity
from mmkit.core.types import NS_PER_S, Instrument

_Decorator = Callable[[Callable[..., None]], Callable[..., None]]
#: books other than a sane two-sided one, one-sided twice as often (one side empty: the
#: remaining side must still not be crossed)
_BAD_BOOKS = ("empty_bid", "empty_bid", "empty_ask", "empty_ask", "empty", "crossed", "off_grid")
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
    #: the last market trade's price (NaN: none yet); it may lie beyond the book
    last_trade: float = math.nan


def make_view(
    instrument: Instrument,
    bids: tuple[float, ...] | list[float],
    asks: tuple[float, ...] | list[float],
    position: float,
    max_position: float,
    position_known: bool = True,
    last_trade: float = math.nan,
) -> Any:
    """A :class:`~mmkit.components.View` over a one-snapshot market (and, when
    ``last_trade`` is a number, one market trade at that price after it)."""
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
    if last_trade == last_trade:
        from mmkit.core.events import Trade
        from mmkit.core.types import Side

        market.apply(Trade(1, last_trade, 1.0, Side.BUY, local_ts=1), 1)
    return View(instrument, market, Portfolio(position, position_known), max_position)


def make_estimates(values: dict[str, float]) -> Any:
    from mmkit.components import Estimates

    est = Estimates()
    est.warmed_up = True  # unless the values say otherwise
    for name, value in values.items():
        setattr(est, name, value)
    return est


def reference_price(target: AuditTarget) -> float:
    """A price at which one base order is worth a few times the minimum notional."""
    size = target.risk.order_size
    if not (size > 0 and math.isfinite(size)):
        return 100.0
    return max(1e-3, 3.0 * max(target.instrument.min_notional, 1.0) / size)


def grid_edges(inst: Instrument, max_position: float) -> list[float]:
    """The powers of ten where the venue's price grid for ``inst`` changes (a price just
    below one may have more decimals than one at or above it), keeping those where one
    order worth the minimum notional fits within ``max_position``."""
    from mmkit.rounding import price_decimals

    out = []
    for k in range(-12, 13):
        p = 10.0**k
        below = price_decimals(p * (1 - 1e-9), inst.sz_decimals, inst.max_decimals)
        if below == price_decimals(p, inst.sz_decimals, inst.max_decimals):
            continue
        if max_position > 0 and p * max_position >= max(inst.min_notional, 0.0):
            out.append(p)
    return out


#: the numeric fields of :class:`~mmkit.components.Estimates` a quoter reads
_NUMERIC_FIELDS = (
    "kappa",
    "A",
    "sigma",
    "drift",
    "fair_value_shift",
    "skew_shift",
    "spread_scale",
    "size_scale",
)


def estimates(hostile: bool = True, focus: str = "") -> Any:
    """hypothesis strategy of an estimates dict over the whole range of every
    :class:`~mmkit.components.Estimates` field, log-uniform across decades (kappa 1e-3 to
    1e9 per unit of relative depth: above 1e5 the half-spread is under a price step;
    sigma 0 and 1e-9 to 10 per sqrt(s): a cascade's sigma included), with every flag drawn
    (``cascade``, ``warmed_up``) and confidences and toxicity; ``hostile``: up to three
    numeric fields are replaced by NaN, +-inf, 0, negative, huge or subnormal values (one
    broken input at a time is what finds a quoter that mishandles it; every field broken
    at once only shows that it stands aside). ``focus`` ``"tight"`` / ``"cascade"``: see
    :func:`scenarios`."""
    from hypothesis import strategies as st

    def decades(lo: float, hi: float, mid: float | None = None) -> Any:
        """10**e for e in [lo, hi], shrinking towards 10**mid (a typical value)."""
        c = (lo + hi) / 2 if mid is None else mid
        return st.floats(lo - c, hi - c).map(lambda x: 10.0 ** (c + x))

    def signed(lo: float, hi: float) -> Any:
        return st.one_of(st.just(0.0), decades(lo, hi), decades(lo, hi).map(lambda v: -v))

    unit = st.floats(0.0, 1.0)
    sigma_any = st.one_of(decades(-9.0, 1.0, -4.0), st.just(0.0))
    # in a cascade the estimators' sigma is high (the flag is raised by jumps of many
    # sigma): the whole range still, with its upper decades drawn as often as the rest
    sigma_cascade = st.one_of(sigma_any, decades(-2.0, 1.0))
    rest = st.fixed_dictionaries(
        {
            "kappa": decades(-3.0, 9.0, 3.0),
            "A": decades(-4.0, 3.0, 0.0),
            "drift": signed(-9.0, -2.0),
            "fair_value_shift": signed(-8.0, -1.5),
            "skew_shift": signed(-8.0, -1.5),
            "spread_scale": decades(-1.0, 1.5, 0.0),
            "size_scale": decades(-2.0, 1.0, 0.0),
            "kappa_confidence": unit,
            "sigma_confidence": unit,
            "toxicity": st.one_of(st.just(math.nan), unit),
            "warmed_up": st.booleans(),
        }
    )
    broken = st.lists(
        st.tuples(st.sampled_from(_NUMERIC_FIELDS), st.sampled_from(_HOSTILE)), max_size=3
    )

    @st.composite
    def build(draw: Any) -> dict[str, float]:
        # the regime flag, with the sigma drawn after it
        cascade = True if focus == "cascade" else draw(st.booleans())
        out: dict[str, float] = dict(draw(rest))
        out["sigma"] = draw(sigma_cascade if cascade else sigma_any)
        out["cascade"] = cascade
        if focus == "cascade":
            out["sigma"] = draw(decades(-2.0, 1.0))
        elif focus == "tight":  # half-spreads under a price step at any mid
            out["kappa"] = draw(decades(4.0, 9.0))
            out["sigma"] = draw(st.one_of(st.just(0.0), decades(-9.0, -4.0)))
        if hostile:
            out.update(draw(broken))
        return out

    return build()


#: focused scenario families (:func:`scenarios`' ``focus``): each pins the one dimension
#: where a class of quoter bugs lives, with every other input sane, so that it is reached
#: whatever the rest of the draw (a general draw reaches a corner of five dimensions at once
#: too rarely in a hundred examples)
FOCUSES = ("grid_edge", "near_limit", "one_sided", "tight", "cascade")


def scenarios(target: AuditTarget, hostile: bool = True, focus: str = "") -> Any:
    """hypothesis strategy of :class:`Scenario` for ``target`` (hostile: broken inputs too).

    ``focus`` (one of :data:`FOCUSES`) draws only: mids within 1 % of a power of ten where
    the price grid changes (``grid_edge``); positions within five orders of either limit
    (``near_limit``); books with one side empty and the last trade mostly beyond the
    remaining side (``one_sided``); kappa 1e4 to 1e9 with sigma under 1e-4 per sqrt(s),
    half-spreads under a price step (``tight``); cascade mode with sigma 0.01 to 10
    (``cascade``). Focused scenarios draw no hostile estimates."""
    if focus and focus not in FOCUSES:
        raise ValueError(f"unknown scenario focus {focus!r}: one of {', '.join(FOCUSES)}")
    from hypothesis import strategies as st

    from mmkit.rounding import next_price_above, round_price

    inst = target.instrument
    ref = reference_price(target)
    max_pos = target.risk.max_position

    # mids a little above and below a power of ten: the powers of ten where the venue's
    # price grid (5 significant figures, max decimals) changes, wherever one minimum-notional
    # order fits within max_position (below the reference range too: for BTC the grid
    # changes at 10^4 only), and those within the reference range; a ladder a few bps deep
    # around such a mid straddles it
    edges = grid_edges(inst, max_pos) + [
        10.0**k for k in range(-12, 13) if ref <= 10.0**k <= ref * 10.0**1.5
    ]
    decades = [e * f for e in edges for f in (1.0 - 2e-4, 1.0 + 1e-4, 1.0 + 2e-3)] or [ref]
    near = st.one_of(st.floats(-1e-3, 1e-3), st.floats(-1e-2, 1e-2))
    # inventory within a few orders of the limit, on either side: where a limit checked
    # level by level instead of in total shows (position + the whole same-side ladder)
    order = target.risk.order_size if target.risk.order_size > 0 else max_pos / 10.0

    @st.composite
    def build(draw: Any) -> Scenario:
        at_edge = st.tuples(st.sampled_from(edges or [ref]), near).map(lambda t: t[0] * (1 + t[1]))
        mid = draw(
            at_edge
            if focus == "grid_edge"
            else st.one_of(
                st.floats(0.0, 1.5).map(lambda e: ref * 10.0**e), st.sampled_from(decades), at_edge
            )
        )
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
                ["empty_bid", "empty_ask"]
                if focus == "one_sided"
                else ["normal"] * 7 + (list(_BAD_BOOKS) if hostile else [])
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
        near_limit = st.tuples(
            st.integers(0, 4), st.floats(0.0, 1.0), st.sampled_from([1.0, -1.0])
        ).map(lambda t: t[2] * (max_pos - (t[0] + t[1]) * order))
        position = draw(
            near_limit
            if focus == "near_limit"
            else st.one_of(
                st.floats(-1.5, 1.5).map(lambda f: f * max_pos),
                st.sampled_from([0.0, max_pos, -max_pos, max_pos * (1 - 1e-12)]),
                near_limit,
            )
        )
        est = draw(estimates(hostile and not focus, focus))
        now_ns = draw(st.integers(0, 10**6)) * NS_PER_S
        # the last market trade: none, inside the book, or beyond either touch (on a
        # one-sided book, beyond the remaining side: a quoter pricing off the last trade
        # must still not cross it)
        lo = bids[0] if bids else mid
        hi = asks[0] if asks else mid
        # 0.001 % to 10 % beyond, typically 0.3 %
        beyond = st.floats(-2.5, 1.5).map(lambda x: 10.0 ** (x - 2.5))
        below, above = beyond.map(lambda f: lo * (1 - f)), beyond.map(lambda f: hi * (1 + f))
        if bool(bids) != bool(asks):  # one-sided: mostly beyond the remaining side
            remaining = below if bids else above
            last = draw(
                remaining
                if focus == "one_sided"
                else st.one_of(st.just(math.nan), remaining, remaining, below, above)
            )
        else:
            inside = st.floats(0.0, 1.0).map(lambda f: lo + f * (hi - lo))
            last = draw(st.one_of(st.just(math.nan), inside, below, above))
        return Scenario(bids, asks, position, est, now_ns, last)

    return build()


def run_quote(target: AuditTarget, sc: Scenario, position: float | None = None) -> Any:
    """Build a fresh quoter and quote ``sc`` (optionally at another position)."""
    from hypothesis import note

    quoter = target.build()
    pos = sc.position if position is None else position
    view = make_view(
        target.instrument,
        sc.bids,
        sc.asks,
        pos,
        target.risk.max_position,
        last_trade=sc.last_trade,
    )
    ladder = quoter.quote(view, make_estimates(sc.est), sc.now_ns)
    note(
        f"book bids={sc.bids} asks={sc.asks} last_trade={sc.last_trade} position={pos} est={sc.est}"
    )
    note(  # fields named: a bare (px, sz) tuple reads as two prices
        "ladder bids=["
        + ", ".join(f"(px={q.px!r}, sz={q.sz!r})" for q in ladder.bids)
        + "] asks=["
        + ", ".join(f"(px={q.px!r}, sz={q.sz!r})" for q in ladder.asks)
        + "]"
    )
    return ladder


def _property(
    target: AuditTarget,
    ctx: AuditContext,
    check: Callable[[Scenario], None],
    hostile: bool = True,
    focus: tuple[str, ...] = (),
) -> None:
    """``check`` on general scenarios, then on each ``focus`` family; the example budget
    is shared (half general, half split between the focused families)."""
    from hypothesis import given

    n_focus = ctx.examples // 2 if focus else 0
    plan = [("", ctx.examples - n_focus)] + [(f, max(1, n_focus // len(focus))) for f in focus]
    for name, n in plan:

        @_settings(ctx, max_examples=n)
        @given(scenarios(target, hostile, name))
        def run(sc: Scenario) -> None:
            check(sc)

        run()


def _settings(ctx: AuditContext, **overrides: Any) -> _Decorator:
    """``ctx.settings(**overrides)`` typed as the decorator it is."""
    deco: _Decorator = ctx.settings(**overrides)
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
    _property(
        target,
        ctx,
        lambda sc: assert_finite_positive(run_quote(target, sc)),
        focus=("cascade", "tight", "one_sided"),
    )


def check_no_self_cross(target: AuditTarget, ctx: AuditContext) -> None:
    _property(
        target,
        ctx,
        lambda sc: assert_no_self_cross(run_quote(target, sc)),
        focus=("tight", "one_sided", "grid_edge"),
    )


def check_venue_grid(target: AuditTarget, ctx: AuditContext) -> None:
    _property(
        target,
        ctx,
        lambda sc: assert_venue_grid(run_quote(target, sc), target.instrument),
        focus=("grid_edge", "tight"),
    )


def check_post_only(target: AuditTarget, ctx: AuditContext) -> None:
    if getattr(target.params, "post_only", True) is False:
        raise NotApplicable("the quoter is configured with post_only = false")
    _property(
        target,
        ctx,
        lambda sc: assert_post_only(run_quote(target, sc), sc.bids, sc.asks),
        focus=("one_sided", "tight"),
    )


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

    _property(target, ctx, check, focus=("near_limit",))


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
