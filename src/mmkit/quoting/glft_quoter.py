"""The ``glft`` quoter: GLFT or exact-HJB optimal depths, turned into a ladder.

Per call: read the book's best bid/ask (no quote on an empty or crossed book, or while the
position is unknown), take ``kappa``, ``A``, ``sigma`` (and optionally ``drift``) from the
estimates, get the optimal bid/ask depths for the inventory ``q = position / order_size``
(lots) from the configured depth source, then apply the estimates' modifiers:

* ``spread_scale`` widens (or narrows) both depths by ``(scale - 1)`` times the flat-inventory
  half spread - an inventory-independent amount, so the skew stays monotone;
* ``fair_value_shift + skew_shift`` move both quotes (relative to mid);
* ``size_scale`` multiplies the base size ``risk.order_size``.

Depth sources: ``closed_form`` (:mod:`mmkit.quoting.glft`), ``finite_horizon`` (exact ODE
solution ``horizon_s`` ahead, or up to the end of the current ``horizon_s`` session) and
``infinite_horizon`` (its long-horizon limit), both from a :class:`~mmkit.quoting.hjb.DepthCache`
that re-solves only when inputs moved by more than ``resolve_tolerance``. If the exact solution
is not representable for extreme inputs the closed form is used for that call.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from mmkit.components import Estimates, Ladder, View
from mmkit.core.types import Instrument
from mmkit.quoting.glft import KAPPA_CAP, closed_form, drift_in_lots, xi_delta
from mmkit.quoting.hjb import DepthCache, DepthTable
from mmkit.quoting.ladder import LadderBuilder
from mmkit.quoting.params import GlftParams
from mmkit.registry import BuildContext, RiskLimits

if TYPE_CHECKING:
    from mmkit.quoting.glft_quoter_twin import GlftQuoterTwin

_A_CAP = 1e12
_SCALE_MIN, _SCALE_MAX = 0.1, 100.0
_S_PER_NS = 1e-9  # seconds per nanosecond (a product, not / NS_PER_S: same floats as before)
_INF = math.inf
_NAN = math.nan


class GlftQuoter:
    """Implements :class:`mmkit.components.Quoter`."""

    def __init__(self, params: GlftParams, instrument: Instrument, risk: RiskLimits) -> None:
        if not (0.0 < risk.order_size < math.inf and 0.0 <= risk.max_position < math.inf):
            raise ValueError(
                f"risk.order_size must be > 0 and risk.max_position >= 0 (finite), got "
                f"order_size={risk.order_size!r}, max_position={risk.max_position!r}"
            )
        self.params = params
        self.instrument = instrument
        self._risk = risk  # for twin()
        self.order_size = risk.order_size
        self.max_position = risk.max_position
        self.builder = LadderBuilder(instrument, params, risk.max_order_notional)
        lots = risk.max_position / risk.order_size if risk.order_size > 0 else 1.0
        self.q_cap = lots if lots > 0 else 1.0
        self.Q = min(params.max_q, max(1, math.ceil(lots - 1e-9)))
        self.cache: DepthCache | None = None
        if params.depth_source != "closed_form":
            self.cache = DepthCache(self.Q, params.resolve_tolerance, params.kappa_floor)
        self._horizon_ns = int(params.horizon_s * 1e9)
        # the closed-form terms of the last estimates (recomputed only when they change):
        # half spread at zero inventory c + ωΔ/2, skew ω and drift in lots
        self._half = self._omega = self._drift_lots = math.nan
        self._tk = self._tA = self._ts = self._td = math.nan
        self._xi_delta = xi_delta(
            params.gamma, None if params.xi < 0 else params.xi, params.delta_lots
        )
        self.kappa_floor = params.kappa_floor
        self.A_floor = params.A_floor
        self.use_drift = params.use_drift
        self.max_depth = params.max_depth
        self.level_spacing = params.level_spacing

    def twin(self) -> GlftQuoterTwin:
        """The compiled twin of this component: same parameters, fresh state
        (see mmkit.twins)."""
        from mmkit.quoting.glft_quoter_twin import GlftQuoterTwin

        return GlftQuoterTwin(self.params, self.instrument, self._risk)

    def _tau(self, now_ns: int) -> float:
        p = self.params
        if p.depth_source == "infinite_horizon":
            return math.inf
        if p.horizon_mode == "session" and self._horizon_ns > 0:
            return (self._horizon_ns - now_ns % self._horizon_ns) * _S_PER_NS
        return p.horizon_s

    def quote(self, view: View, est: Estimates, now_ns: int) -> Ladder:
        market = view.market
        bb = market.best_bid
        ba = market.best_ask
        portfolio = view.portfolio
        position = portfolio.position
        max_pos = min(self.max_position, view.max_position)  # a NaN view limit: ours
        k = est.kappa
        A = est.A
        sigma = est.sigma
        if not (
            0.0 < bb < ba < _INF
            and portfolio.position_known
            and -_INF < position < _INF
            and k == k
            and A == A
            and 0.0 <= sigma < _INF
            and max_pos >= 0.0
        ):
            return self.builder.build(_NAN, _NAN, _NAN, 0.0, 0.0, 0.0, 0.0)
        k = self.kappa_floor if k < self.kappa_floor else (KAPPA_CAP if k > KAPPA_CAP else k)
        A = self.A_floor if self.A_floor > A else (_A_CAP if A > _A_CAP else A)
        drift = 0.0
        if self.use_drift:
            drift = est.drift
            if not -_INF < drift < _INF:
                drift = 0.0
        q = position / self.order_size
        cap = self.q_cap
        q = -cap if q < -cap else (cap if q > cap else q)

        table = self._table(k, A, sigma, drift, now_ns) if self.cache is not None else None
        if table is not None:
            bid_d = table.bid_depth(q)
            ask_d = table.ask_depth(q)
            half0 = table.half0
        else:
            if k != self._tk or self._tA != A or sigma != self._ts or drift != self._td:
                self._new_terms(k, A, sigma, drift)
            half0 = self._half
            r = self._omega * (self._drift_lots - q)  # centre shift of the quotes
            bid_d = half0 - r
            ask_d = half0 + r

        # estimate modifiers: neutral when not finite
        scale = est.spread_scale
        if not -_INF < scale < _INF:
            scale = 1.0
        scale = _SCALE_MIN if scale < _SCALE_MIN else (_SCALE_MAX if scale > _SCALE_MAX else scale)
        shift = est.fair_value_shift + est.skew_shift
        if not -_INF < shift < _INF:
            shift = 0.0
        md = self.max_depth
        shift = -md if shift < -md else (md if shift > md else shift)
        widen = (scale - 1.0) * half0
        size_scale = est.size_scale
        if not -_INF < size_scale < _INF:
            size_scale = 1.0
        return self.builder.build(
            0.5 * (bb + ba),
            bid_d + widen - shift,
            ask_d + widen + shift,
            self.level_spacing / (k if k > 1.0 else 1.0),  # in average fill distances
            self.order_size * size_scale,
            position,
            max_pos,
            bb,
            ba,
            k,
        )

    def _new_terms(self, k: float, A: float, sigma: float, drift: float) -> None:
        p = self.params
        base, omega = closed_form(k, A, sigma, p.gamma, self._xi_delta, p.delta_lots)
        self._half = base + 0.5 * omega * p.delta_lots
        self._omega = omega
        self._drift_lots = drift_in_lots(drift, p.gamma * sigma * sigma, p.max_drift_lots)
        self._tk, self._tA, self._ts, self._td = k, A, sigma, drift

    def _table(
        self, k: float, A: float, sigma: float, drift: float, now_ns: int
    ) -> DepthTable | None:
        assert self.cache is not None
        gamma = self.params.gamma
        lim = self.params.max_drift_lots * gamma * sigma * sigma
        d = -lim if drift < -lim else (lim if drift > lim else drift)
        return self.cache.lookup(k, A, sigma, gamma, d, self._tau(now_ns))


def build(ctx: BuildContext[GlftParams]) -> GlftQuoter:
    return GlftQuoter(ctx.params, ctx.instrument, ctx.risk)
