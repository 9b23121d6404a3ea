"""The quoting invariants reach the corners where outside authors' quoters broke: a ladder
across a power of ten (where the venue's price grid changes), inventory a few orders from
the limit, one-sided books with the last trade beyond the remaining side, half-spreads under
a price step (kappa of 1e5 and more) and cascade mode with a high sigma.

Each hole is shown by a minimal quoter of our own with that one conditional defect: the
widened check FAILs it, and the built-in ``glft`` and ``avellaneda_stoikov`` quoters still
PASS every quoting check. The data-quality invariant is shown to accept a gate stricter than
the seed (it also wants recent trades) and to still flag one that never opens.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from mmkit.audit.invariant import AuditContext, AuditTarget, Concern
from mmkit.audit.invariants.gates import INVARIANTS as GATE_INVARIANTS
from mmkit.audit.invariants.quoting import INVARIANTS, grid_edges
from mmkit.components import Estimates, GateDecision, GateRole, Ladder, Quote, View
from mmkit.core.events import BBO, BookDelta, BookSnapshot, Event, Trade
from mmkit.core.types import NS_PER_S, Instrument, Side
from mmkit.registry import RiskLimits
from mmkit.rounding import min_size_for_notional, post_only_price, round_price, round_size
from mmkit.testing.verdicts import builtin_target, target_of, verdict

BY_ID = {inv.id: inv for inv in INVARIANTS}
GATES = {inv.id: inv for inv in GATE_INVARIANTS}
BTC = Instrument()  # sz_decimals 5: integer prices from 10^4, one decimal below
RISK = RiskLimits()  # max_position 0.01, order_size 0.001


@pytest.fixture
def ctx() -> AuditContext:
    return AuditContext(examples=100, seed=0)


# -- minimal quoters, each with one conditional defect ------------------------------------


def _usable(view: View, est: Estimates) -> bool:
    return (
        math.isfinite(view.mid)
        and view.mid > 0
        and math.isfinite(est.kappa)
        and est.kappa > 0
        and math.isfinite(est.sigma)
        and est.sigma >= 0
    )


def _size(inst: Instrument, px: float) -> float:
    """The base order size, raised to the minimum notional at ``px`` (NaN: no usable px)."""
    if not (math.isfinite(px) and px > 0):
        return math.nan
    floor = min_size_for_notional(px, inst.sz_decimals, inst.min_notional)
    return max(round_size(RISK.order_size, inst.sz_decimals), floor)


class _Base:
    """Three levels per side, 2 bps apart, from a half-spread of ``1/kappa`` (at least
    1 bp); post-only, on the grid, the cumulative exposure within max_position."""

    levels = 3

    def __init__(self, ctx: Any) -> None:
        self.inst: Instrument = ctx.instrument

    def depths(self, est: Estimates) -> list[float]:
        hs = min(max(1.0 / est.kappa, 1e-4), 0.5)
        return [hs + 2e-4 * i for i in range(self.levels)]

    def price(self, view: View, raw: float, is_bid: bool) -> float:
        m = view.market
        return post_only_price(
            raw, is_bid, m.best_bid, m.best_ask, self.inst.sz_decimals,
            max_decimals=self.inst.max_decimals,
        )  # fmt: skip

    def fair(self, view: View) -> float:
        return view.mid

    def side(self, view: View, est: Estimates, is_bid: bool) -> tuple[Quote, ...]:
        fair = self.fair(view)
        room = view.max_position - view.position if is_bid else view.max_position + view.position
        out: list[Quote] = []
        used = 0.0
        for i, d in enumerate(self.depths(est)):
            px = self.price(view, fair * (1 - d) if is_bid else fair * (1 + d), is_bid)
            sz = _size(self.inst, px)
            if not math.isfinite(sz) or not self.fits(view, used, sz, room):
                break
            if out and (px >= out[-1].px if is_bid else px <= out[-1].px):
                continue
            used += sz
            out.append(Quote(Side.BUY if is_bid else Side.SELL, px, sz, i))
        return tuple(out)

    def fits(self, view: View, used: float, sz: float, room: float) -> bool:
        return used + sz <= room + 1e-12

    def quote(self, view: View, est: Estimates, now_ns: int) -> Ladder:
        if not _usable(view, est):
            return Ladder()
        return Ladder(self.side(view, est, True), self.side(view, est, False))


class MidDecadeGrid(_Base):
    """Defect: every level rounded with the decimals of the mid's decade."""

    def price(self, view: View, raw: float, is_bid: bool) -> float:
        mid = view.mid
        decimals = min(self.inst.px_decimals, max(0, 4 - math.floor(math.log10(mid))))
        step = 10.0**-decimals
        px = (math.floor(raw / step) if is_bid else math.ceil(raw / step)) * step
        m = view.market
        if is_bid and px >= m.best_ask:
            px = m.best_ask - step
        if not is_bid and px <= m.best_bid:
            px = m.best_bid + step
        return round(px, decimals)


class PerLevelCap(_Base):
    """Defect: the position limit is checked for each level alone, not in total."""

    def fits(self, view: View, used: float, sz: float, room: float) -> bool:
        return sz <= room + 1e-12


class LastTradeOneSided(_Base):
    """Defect: on a one-sided book, quotes around the last trade with no post-only clamp."""

    def fair(self, view: View) -> float:
        m = view.market
        return m.mid if math.isfinite(m.mid) else m.last_trade_px

    def price(self, view: View, raw: float, is_bid: bool) -> float:
        m = view.market
        if math.isfinite(m.best_bid) and math.isfinite(m.best_ask):
            return super().price(view, raw, is_bid)
        szd, maxd = self.inst.sz_decimals, self.inst.max_decimals
        if is_bid:
            return round_price(raw, szd, max_decimals=maxd, direction="down")
        return round_price(raw, szd, max_decimals=maxd, direction="up")

    def quote(self, view: View, est: Estimates, now_ns: int) -> Ladder:
        fair = self.fair(view)
        if not (math.isfinite(fair) and fair > 0 and math.isfinite(est.kappa) and est.kappa > 0):
            return Ladder()
        return Ladder(self.side(view, est, True), self.side(view, est, False))


class NearestBoth(_Base):
    """Defect: one level a side at ``1/kappa`` (no floor), both rounded to the nearest
    price: under half a step apart they meet (bid == ask)."""

    def quote(self, view: View, est: Estimates, now_ns: int) -> Ladder:
        if not _usable(view, est):
            return Ladder()
        hs, mid, m = 1.0 / est.kappa, view.mid, view.market
        b = round_price(mid * (1 - hs), self.inst.sz_decimals, max_decimals=self.inst.max_decimals)
        a = round_price(mid * (1 + hs), self.inst.sz_decimals, max_decimals=self.inst.max_decimals)
        if not (0 < b < m.best_ask and a > m.best_bid):
            return Ladder()
        if abs(view.position) + _size(self.inst, a) > view.max_position:
            return Ladder()
        return Ladder(
            (Quote(Side.BUY, b, _size(self.inst, b)),), (Quote(Side.SELL, a, _size(self.inst, a)),)
        )


class CascadeWiden(_Base):
    """Defect: in cascade mode depths grow by ``sigma / 1e-4``; past 100 % the bid is NaN
    and is quoted anyway."""

    def side(self, view: View, est: Estimates, is_bid: bool) -> tuple[Quote, ...]:
        if not est.cascade:
            return super().side(view, est, is_bid)
        mult = max(1.0, est.sigma / 1e-4)
        mid = view.mid
        out = []
        for i, d in enumerate(self.depths(est)[:1]):
            raw = mid * (1 - d * mult) if is_bid else mid * (1 + d * mult)
            px = round_price(
                raw, self.inst.sz_decimals, max_decimals=self.inst.max_decimals,
                direction="down" if is_bid else "up",
            )  # fmt: skip
            room = view.max_position - abs(view.position)
            sz = round_size(RISK.order_size, self.inst.sz_decimals)
            if sz <= room and not (
                px >= view.market.best_ask if is_bid else px <= view.market.best_bid
            ):
                out.append(Quote(Side.BUY if is_bid else Side.SELL, px, sz, i))
        return tuple(out)


def _target(cls: type[_Base]) -> AuditTarget:
    return target_of("quoter", cls, instrument=BTC, risk=RISK, name=cls.__name__)


# -- the holes are closed -----------------------------------------------------------------


def test_btc_grid_changes_only_at_ten_thousand() -> None:
    """The edges come from the rounding rules: for BTC (sz_decimals 5) the grid drops its
    one decimal at 10^4, below the scenarios' reference range of mids (3e4 and up)."""
    assert grid_edges(BTC, RISK.max_position) == [1e4]
    doge = Instrument("DOGE", 5, sz_decimals=0, max_decimals=6, tick=1e-5)
    assert len(grid_edges(doge, 2000.0)) >= 4


@pytest.mark.slow
@pytest.mark.parametrize(
    ("broken", "inv_id"),
    [
        (MidDecadeGrid, "quoting.venue_grid"),
        (PerLevelCap, "quoting.exposure_cap"),
        (LastTradeOneSided, "quoting.post_only"),
        (NearestBoth, "quoting.no_self_cross"),
        (CascadeWiden, "quoting.finite_positive"),
    ],
)
def test_widened_check_fails_the_broken_quoter(
    broken: type[_Base], inv_id: str, ctx: AuditContext
) -> None:
    with pytest.raises((AssertionError, ExceptionGroup)) as info:
        BY_ID[inv_id].check(_target(broken), ctx)
    if isinstance(info.value, ExceptionGroup):  # several distinct failures (bids and asks)
        assert all(isinstance(e, AssertionError) for e in info.value.exceptions)


def test_the_base_of_the_broken_quoters_passes(ctx: AuditContext) -> None:
    """Without its defect, the same ladder passes every quoting check: the FAILs above are
    the defects, not the checks' strictness."""
    for inv_id, inv in BY_ID.items():
        assert verdict(inv, _target(_Base), ctx) == "pass", inv_id


def _shipped(name: str) -> AuditTarget:
    """``glft`` (core) or ``avellaneda_stoikov`` (the plugin shipped in ``plugins/``)."""
    if name == "glft":
        return builtin_target("quoter", name)
    pytest.importorskip("mmkit_avellaneda_stoikov")
    from mmkit.plugin_manager import PluginHost

    host = PluginHost(load_entrypoints=False, extra_modules=["mmkit_avellaneda_stoikov"])
    spec = host.registry.get("quoter", name)
    return AuditTarget(spec, spec.params(), Instrument(), RiskLimits())


@pytest.mark.parametrize("name", ["glft", "avellaneda_stoikov"])
@pytest.mark.parametrize("inv_id", sorted(BY_ID))
def test_builtin_quoters_pass(name: str, inv_id: str, ctx: AuditContext) -> None:
    assert verdict(BY_ID[inv_id], _shipped(name), ctx) == "pass"


# -- data quality: stricter is safe, never opening is a concern ----------------------------


class _TradesTooGate:
    """Closed unless a book arrived within 5 s AND a market trade within 30 s, and the book
    is two-sided and uncrossed: stricter than the seed (which only bounds the book's age)."""

    roles = frozenset({GateRole.DATA_QUALITY})

    def __init__(self, ctx: Any = None) -> None:
        self.book_ns = -1
        self.trade_ns = -1

    def on_event(self, event: Event, now_ns: int) -> None:
        if isinstance(event, BookSnapshot | BookDelta | BBO):
            self.book_ns = now_ns
        elif isinstance(event, Trade):
            self.trade_ns = now_ns

    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        m = view.market
        if self.book_ns < 0 or now_ns - self.book_ns > 5 * NS_PER_S:
            return GateDecision("trades_too", "StaleData")
        if self.trade_ns < 0 or now_ns - self.trade_ns > 30 * NS_PER_S:
            return GateDecision("trades_too", "NoTrades")
        if not (m.best_bid > 0 and math.isfinite(m.best_ask) and m.best_ask > m.best_bid):
            return GateDecision("trades_too", "CrossedBook")
        return None


class _NeverOpen(_TradesTooGate):
    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        return GateDecision("never", "Closed")


def test_a_stricter_data_quality_gate_passes(ctx: AuditContext) -> None:
    target = target_of("gate", _TradesTooGate, name="trades_too")
    GATES["gates.data_quality_closes"].check(target, AuditContext(examples=30, seed=0))


def test_a_data_quality_gate_that_never_opens_is_a_concern() -> None:
    target = target_of("gate", _NeverOpen, name="never")
    with pytest.raises(Concern, match="never opens"):
        GATES["gates.data_quality_closes"].check(target, AuditContext(examples=30, seed=0))
