"""The quoting invariants PASS on the built-in quoter and FAIL on deliberately broken ones."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from mmkit.audit.invariant import AuditContext, NotApplicable
from mmkit.audit.invariants.quoting import INVARIANTS
from mmkit.components import Estimates, Ladder, Quote, View
from mmkit.core.types import Side
from mmkit.quoting.params import DepthSource, GlftParams
from mmkit.rounding import min_size_for_notional, round_price, round_size
from mmkit.testing.verdicts import VerdictContext

from .conftest import DOGE, ETH, RISK_DOGE, RISK_ETH, custom_target, glft_target

BY_ID = {inv.id: inv for inv in INVARIANTS}


def test_ids_are_unique_and_cover_the_issue() -> None:
    assert set(BY_ID) == {
        "quoting.finite_positive",
        "quoting.no_self_cross",
        "quoting.venue_grid",
        "quoting.post_only",
        "quoting.inventory_skew",
        "quoting.exposure_cap",
    }


@pytest.mark.parametrize("inv_id", sorted(BY_ID))
@pytest.mark.parametrize("source", ["closed_form", "finite_horizon", "infinite_horizon"])
def test_builtin_glft_passes(inv_id: str, source: DepthSource, audit_ctx: AuditContext) -> None:
    BY_ID[inv_id].check(glft_target(GlftParams(depth_source=source)), audit_ctx)


@pytest.mark.parametrize("inv_id", sorted(BY_ID))
def test_builtin_glft_passes_other_instruments(inv_id: str, audit_ctx: AuditContext) -> None:
    params = GlftParams(size_allocation="geometric", levels=3)
    BY_ID[inv_id].check(glft_target(params, ETH, RISK_ETH), audit_ctx)
    params = GlftParams(size_allocation="intensity", depth_source="finite_horizon")
    BY_ID[inv_id].check(glft_target(params, DOGE, RISK_DOGE), audit_ctx)


def test_post_only_not_applicable_when_disabled(audit_ctx: AuditContext) -> None:
    with pytest.raises(NotApplicable):
        BY_ID["quoting.post_only"].check(glft_target(GlftParams(post_only=False)), audit_ctx)


# -- broken quoters ----------------------------------------------------------------------------


class Naive:
    """Quotes mid +- a fixed distance with no care at all; subclasses break one thing each."""

    def __init__(self, ctx: Any) -> None:
        self.inst = ctx.instrument
        self.risk = ctx.risk

    def prices(self, view: View, est: Estimates) -> tuple[float, float]:
        mid = view.mid
        skew = -view.position / self.risk.max_position * 5e-4
        return mid * (1 - 1e-3 + skew), mid * (1 + 1e-3 + skew)

    def quote(self, view: View, est: Estimates, now_ns: int) -> Ladder:
        if not math.isfinite(view.mid) or not math.isfinite(view.position):
            return Ladder()
        if view.market.is_crossed_or_empty:  # post-only cannot be honoured on a crossed book
            return Ladder()
        bid, ask = self.prices(view, est)
        szd, maxd = self.inst.sz_decimals, self.inst.max_decimals
        bid = round_price(bid, szd, max_decimals=maxd, direction="down")
        ask = round_price(ask, szd, max_decimals=maxd, direction="up")
        sz = round_size(self.risk.order_size, szd)
        if bid > 0:  # raised to the minimum notional (mids near 10^4 reach it for BTC)
            sz = max(sz, min_size_for_notional(bid, szd, self.inst.min_notional))
        room_b = self.risk.max_position - view.position
        room_a = self.risk.max_position + view.position
        bids = (Quote(Side.BUY, bid, sz),) if room_b >= sz and bid > 0 else ()
        asks = (Quote(Side.SELL, ask, sz),) if room_a >= sz else ()
        return Ladder(bids, asks)


class UsesKappaRaw(Naive):
    """Divides by kappa without a floor: NaN/inf prices when kappa is 0 or NaN."""

    def quote(self, view: View, est: Estimates, now_ns: int) -> Ladder:
        mid = view.mid
        if not math.isfinite(mid):
            return Ladder()
        depth = 1.0 / est.kappa if est.kappa != 0 else math.inf
        return Ladder(
            (Quote(Side.BUY, mid * (1 - depth), 0.001),),
            (Quote(Side.SELL, mid * (1 + depth), 0.001),),
        )


class SelfCrossing(Naive):
    def prices(self, view: View, est: Estimates) -> tuple[float, float]:
        mid = view.mid
        return mid * (1 + 1e-3), mid * (1 - 1e-3)


class OffGrid(Naive):
    def quote(self, view: View, est: Estimates, now_ns: int) -> Ladder:
        lad = super().quote(view, est, now_ns)
        return Ladder(
            tuple(Quote(q.side, q.px + 0.123456, q.sz) for q in lad.bids),
            tuple(Quote(q.side, q.px, q.sz + 1.2345e-7) for q in lad.asks),
        )


class Crossing(Naive):
    """Joins the far side: bids at the best ask (would take liquidity)."""

    def prices(self, view: View, est: Estimates) -> tuple[float, float]:
        return view.market.best_ask, view.market.best_bid


class IgnoresInventory(Naive):
    """Skews the wrong way: more long raises the quotes."""

    def prices(self, view: View, est: Estimates) -> tuple[float, float]:
        mid = view.mid
        skew = view.position / self.risk.max_position * 5e-4
        return mid * (1 - 1e-3 + skew), mid * (1 + 1e-3 + skew)


class NoExposureCap(Naive):
    def quote(self, view: View, est: Estimates, now_ns: int) -> Ladder:
        if not math.isfinite(view.mid):
            return Ladder()
        bid, ask = self.prices(view, est)
        szd, maxd = self.inst.sz_decimals, self.inst.max_decimals
        bid = round_price(bid, szd, max_decimals=maxd, direction="down")
        ask = round_price(ask, szd, max_decimals=maxd, direction="up")
        sz = round_size(self.risk.max_position, szd)
        return Ladder((Quote(Side.BUY, bid, sz),), (Quote(Side.SELL, ask, sz),))


BROKEN: list[tuple[str, Callable[[Any], Any]]] = [
    ("quoting.finite_positive", UsesKappaRaw),
    ("quoting.no_self_cross", SelfCrossing),
    ("quoting.venue_grid", OffGrid),
    ("quoting.post_only", Crossing),
    ("quoting.inventory_skew", IgnoresInventory),
    ("quoting.exposure_cap", NoExposureCap),
]


@pytest.mark.parametrize(("inv_id", "factory"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_quoter_fails(inv_id: str, factory: Callable[[Any], Any]) -> None:
    with pytest.raises((AssertionError, ExceptionGroup)) as info:
        BY_ID[inv_id].check(custom_target(factory), VerdictContext(examples=40, seed=1))
    if isinstance(info.value, ExceptionGroup):  # hypothesis found several distinct failures
        assert all(isinstance(e, AssertionError) for e in info.value.exceptions)


@pytest.mark.parametrize("inv_id", sorted(BY_ID))
def test_naive_reference_quoter_passes(inv_id: str, audit_ctx: AuditContext) -> None:
    """The broken quoters' base passes everything, so each failure is the one defect."""
    BY_ID[inv_id].check(custom_target(Naive), audit_ctx)
