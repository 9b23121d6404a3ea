"""The Avellaneda–Stoikov plugin: found through its entry point, the formulas, and mmkit's
quoting invariants (the same checks ``mmkit audit`` runs on any quoter)."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest
from mmkit_avellaneda_stoikov import AvellanedaStoikovParams
from mmkit_avellaneda_stoikov.quoter import (
    AvellanedaStoikovQuoter,
    optimal_spread,
    reservation_offset,
)

from mmkit.audit.invariant import AuditContext, AuditTarget
from mmkit.audit.invariants.quoting import INVARIANTS, make_estimates, make_view
from mmkit.components import Quoter
from mmkit.core.types import Instrument
from mmkit.plugin_manager import get_host, reset_host
from mmkit.registry import BuildContext, RiskLimits

SRC = Path(__file__).resolve().parents[1] / "src" / "mmkit_avellaneda_stoikov"
BTC = Instrument("BTC", 0, sz_decimals=5, max_decimals=6, tick=1.0, min_notional=10.0)
RISK = RiskLimits(max_position=0.01, order_size=0.001, max_order_notional=10_000.0)
PUBLIC = {
    "mmkit",
    "mmkit.components",
    "mmkit.core.types",
    "mmkit.params",
    "mmkit.registry",
    "mmkit.quoting.ladder",
    "mmkit.quoting.params",
}


@pytest.fixture(autouse=True)
def _fresh_host() -> None:
    reset_host(None)


def test_found_through_its_entry_point() -> None:
    spec = get_host().registry.get("quoter", "avellaneda_stoikov")
    assert spec.distribution == "mmkit-avellaneda-stoikov"
    q = spec.build(
        BuildContext("quoter", "avellaneda_stoikov", AvellanedaStoikovParams(), BTC, RISK)
    )
    assert isinstance(q, Quoter)


def test_imports_only_public_mmkit_api() -> None:
    for path in SRC.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mmkit"):
                if node.module.startswith("mmkit_avellaneda_stoikov"):
                    continue
                assert node.module in PUBLIC, f"{path.name} imports {node.module}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith("mmkit.") or alias.name in PUBLIC


def test_formulas() -> None:
    gamma, sigma, tau, k = 2.0, 1e-4, 600.0, 2000.0
    assert reservation_offset(3.0, gamma, sigma, tau) == pytest.approx(-3 * gamma * sigma**2 * tau)
    assert optimal_spread(gamma, sigma, tau, k) == pytest.approx(
        gamma * sigma**2 * tau + 2 / gamma * math.log(1 + gamma / k)
    )
    # as tau -> 0 the spread tends to the flat-book term and the reservation price to mid
    assert optimal_spread(gamma, sigma, 0.0, k) == pytest.approx(2 / gamma * math.log1p(gamma / k))
    assert reservation_offset(5.0, gamma, sigma, 0.0) == 0.0


def quote_at(position: float, now_ns: int = 0, **params: object) -> tuple[float, float]:
    q = AvellanedaStoikovQuoter(AvellanedaStoikovParams(**params), BTC, RISK)  # type: ignore[arg-type]
    view = make_view(BTC, [90000.0], [90001.0], position, RISK.max_position)
    lad = q.quote(view, make_estimates({"sigma": 2e-4}), now_ns)
    return lad.bids[0].px, lad.asks[0].px


def test_quotes_follow_the_reservation_price() -> None:
    mid = 90000.5
    gamma, sigma, tau, k = 1.0, 2e-4, 3600.0, 2000.0
    bid, ask = quote_at(0.0, horizon_mode="rolling")
    half = 0.5 * optimal_spread(gamma, sigma, tau, k)
    assert bid == math.floor(mid * (1 - half))
    assert ask == math.ceil(mid * (1 + half))
    long_bid, long_ask = quote_at(0.003, horizon_mode="rolling")
    r = reservation_offset(3.0, gamma, sigma, tau)
    assert long_bid == math.floor(mid * (1 - half + r))
    assert long_ask == math.ceil(mid * (1 + half + r))
    assert long_bid < bid and long_ask < ask


def test_session_horizon_shrinks_the_skew() -> None:
    early = quote_at(0.003, now_ns=0, horizon_s=3600.0)
    late = quote_at(0.003, now_ns=3500 * 10**9, horizon_s=3600.0)
    assert early[0] < late[0]  # less inventory penalty near the horizon: the bid comes back up


def test_no_quotes_on_bad_input() -> None:
    q = AvellanedaStoikovQuoter(AvellanedaStoikovParams(), BTC, RISK)
    view = make_view(BTC, [90000.0], [90001.0], 0.0, RISK.max_position)
    assert q.quote(view, make_estimates({"kappa": math.nan}), 0).empty
    assert q.quote(make_view(BTC, [], [], 0.0, 0.01), make_estimates({}), 0).empty


@pytest.mark.parametrize("inv", INVARIANTS, ids=[i.id for i in INVARIANTS])
def test_mmkit_quoting_invariants_pass(inv: object) -> None:
    spec = get_host().registry.get("quoter", "avellaneda_stoikov")
    target = AuditTarget(spec, AvellanedaStoikovParams(), BTC, RISK)
    inv.check(target, AuditContext(examples=60, seed=3))  # type: ignore[attr-defined]
