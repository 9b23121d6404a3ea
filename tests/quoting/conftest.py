"""Shared fixtures of the quoting tests: instruments, risk limits, audit targets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mmkit.audit.invariant import AuditContext, AuditTarget
from mmkit.core.types import Instrument
from mmkit.quoting.params import GlftParams
from mmkit.registry import ComponentSpec, RiskLimits
from mmkit.testing.verdicts import target_of

BTC = Instrument("BTC", 0, sz_decimals=5, max_decimals=6, tick=1.0, min_notional=10.0)
ETH = Instrument("ETH", 1, sz_decimals=4, max_decimals=6, tick=0.1, min_notional=10.0)
DOGE = Instrument("DOGE", 5, sz_decimals=0, max_decimals=6, tick=1e-5, min_notional=10.0)
RISK_BTC = RiskLimits(max_position=0.01, order_size=0.001, max_order_notional=10_000.0)
RISK_ETH = RiskLimits(max_position=0.2, order_size=0.01, max_order_notional=10_000.0)
RISK_DOGE = RiskLimits(max_position=2000.0, order_size=200.0, max_order_notional=10_000.0)


def glft_target(
    params: GlftParams | None = None, inst: Instrument = BTC, risk: RiskLimits = RISK_BTC
) -> AuditTarget:
    spec = ComponentSpec(
        "quoter", "glft", "mmkit.quoting.glft_quoter:build", GlftParams, "", "mmkit.quoters"
    )
    return AuditTarget(spec, params or GlftParams(), inst, risk)


def custom_target(
    factory: Callable[[Any], Any], inst: Instrument = BTC, risk: RiskLimits = RISK_BTC
) -> AuditTarget:
    return target_of("quoter", factory, instrument=inst, risk=risk, name="broken")


@pytest.fixture
def audit_ctx() -> AuditContext:
    return AuditContext(examples=40, seed=1)
