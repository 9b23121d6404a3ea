"""The Avellaneda–Stoikov quoter.

Relative to mid ``s`` (depths are fractions of mid, as everywhere in mmkit), with inventory
``q`` in lots, the reservation price and the optimal total spread are::

    r / s - 1 = -q γ σ² τ
    δ_a + δ_b = γ σ² τ + (2/γ) ln(1 + γ/k)

so the bid depth is ``h + q γ σ² τ`` and the ask depth ``h - q γ σ² τ`` with ``h`` half the
spread. ``k`` is floored, ``τ`` is kept in ``[min_tau_s, horizon_s]``; a NaN ``kappa`` or
``sigma``, an empty or crossed book or an unknown position gives no quotes. Depths become
quotes through :class:`mmkit.quoting.ladder.LadderBuilder` (grid, post-only, exposure cap).
"""

from __future__ import annotations

import math

from mmkit.components import Estimates, Ladder, View
from mmkit.core.types import Instrument
from mmkit.quoting.ladder import LadderBuilder
from mmkit.registry import BuildContext, RiskLimits
from mmkit_avellaneda_stoikov import AvellanedaStoikovParams

_KAPPA_CAP = 1e12


def reservation_offset(q: float, gamma: float, sigma: float, tau: float) -> float:
    """``r/s - 1``: the relative distance of the reservation price from mid."""
    return -q * gamma * sigma * sigma * tau


def optimal_spread(gamma: float, sigma: float, tau: float, k: float) -> float:
    """``δ_a + δ_b = γ σ² τ + (2/γ) ln(1 + γ/k)`` (relative to mid)."""
    return gamma * sigma * sigma * tau + 2.0 / gamma * math.log1p(gamma / k)


class AvellanedaStoikovQuoter:
    """Implements :class:`mmkit.components.Quoter`."""

    def __init__(
        self, params: AvellanedaStoikovParams, instrument: Instrument, risk: RiskLimits
    ) -> None:
        self.params = params
        self.order_size = risk.order_size
        self.max_position = risk.max_position
        self.builder = LadderBuilder(instrument, params, risk.max_order_notional)
        self._horizon_ns = int(params.horizon_s * 1e9)

    def tau(self, now_ns: int) -> float:
        """Seconds to the horizon at ``now_ns``."""
        p = self.params
        if p.horizon_mode == "session" and self._horizon_ns > 0:
            left = (self._horizon_ns - now_ns % self._horizon_ns) * 1e-9
        else:
            left = p.horizon_s
        return min(max(left, p.min_tau_s), p.horizon_s)

    def quote(self, view: View, est: Estimates, now_ns: int) -> Ladder:
        p = self.params
        bb, ba = view.market.best_bid, view.market.best_ask
        position = view.portfolio.position
        k, sigma = est.kappa, est.sigma
        max_pos = min(self.max_position, view.max_position)
        if not (
            0.0 < bb < ba < math.inf
            and view.portfolio.position_known
            and math.isfinite(position)
            and k == k
            and 0.0 <= sigma < math.inf
            and max_pos >= 0.0
        ):
            return self.builder.build(math.nan, math.nan, math.nan, 0.0, 0.0, 0.0, 0.0)
        k = min(max(k, p.kappa_floor), _KAPPA_CAP)
        lots = max_pos / self.order_size if self.order_size > 0 else 0.0
        q = min(max(position / self.order_size, -lots), lots) if self.order_size > 0 else 0.0
        tau = self.tau(now_ns)
        half = 0.5 * optimal_spread(p.gamma, sigma, tau, k)
        r = reservation_offset(q, p.gamma, sigma, tau)
        size_scale = est.size_scale if math.isfinite(est.size_scale) else 1.0
        return self.builder.build(
            0.5 * (bb + ba),
            half - r,
            half + r,
            p.level_spacing / max(k, 1.0),
            self.order_size * size_scale,
            position,
            max_pos,
            bb,
            ba,
            k,
        )


def build(ctx: BuildContext[AvellanedaStoikovParams]) -> AvellanedaStoikovQuoter:
    return AvellanedaStoikovQuoter(ctx.params, ctx.instrument, ctx.risk)
