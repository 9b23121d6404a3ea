"""Estimators of the gauntlet: what a third-party author might ship.

Each class's docstring says what it does; the ``BUG:`` comment marks the one conditional
defect (``BUGS.md`` has the table: invariant broken, condition). Units follow
``mmkit.components``: depths relative to mid, kappa per unit of relative depth, sigma per
square-root second, times in integer nanoseconds.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from mmkit.components import Estimates
from mmkit.core.events import (
    BBO,
    BookDelta,
    BookSnapshot,
    Event,
    FeedStatus,
    OwnFill,
    Trade,
)
from mmkit.faults import Rejections
from mmkit.params import param

NS = 1_000_000_000


def _book_mid(event: Event) -> float | None:
    """Mid of a book or BBO event, None when the event carries no two-sided top of book."""
    if isinstance(event, BBO):
        bid, ask = event.bid_px, event.ask_px
    elif isinstance(event, BookSnapshot | BookDelta):
        if event.bid_px.size == 0 or event.ask_px.size == 0:
            return None
        bid, ask = float(event.bid_px[0]), float(event.ask_px[0])
    else:
        return None
    if not (math.isfinite(bid) and math.isfinite(ask)) or bid <= 0 or ask <= bid:
        return None
    return 0.5 * (bid + ask)


# ---------------------------------------------------------------------------------------
# g_cascade_sigma: EWMA sigma with a cap that cascade mode skips
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CascadeSigmaParams:
    half_life_s: float = param(60.0, gt=0, help="EWMA half-life of squared returns (s)")
    default_sigma: float = param(1e-4, gt=0, help="sigma before the first return (per sqrt s)")
    max_sigma: float = param(1e-3, gt=0, help="cap on the published sigma (per sqrt s)")
    cascade_move: float = param(8.0, gt=0, help="a return this many sigmas starts cascade mode")
    cascade_mult: float = param(3.0, ge=1, help="sigma multiplier while in cascade mode")
    cascade_hold_s: float = param(30.0, gt=0, help="cascade mode lasts this long after a jump")


class CascadeSigma:
    """Sigma from an EWMA of squared log-returns of the mid (per second of elapsed time),
    with a cascade mode: a return of more than ``cascade_move`` sigmas multiplies sigma by
    ``cascade_mult`` for ``cascade_hold_s`` seconds (the seed's recommendation 3), and a
    cap at ``max_sigma`` (recommendation 1)."""

    publishes = frozenset({"sigma", "sigma_confidence", "cascade"})

    def __init__(self, p: CascadeSigmaParams) -> None:
        self.p = p
        self.max_sigma = p.max_sigma
        self.rejections = Rejections()
        self._var = p.default_sigma**2
        self._mid = math.nan
        self._t = -1
        self._cascade_until = -1

    def on_event(self, event: Event, now_ns: int) -> None:
        if not isinstance(event, BBO | BookSnapshot | BookDelta):
            return
        mid = _book_mid(event)
        if mid is None:
            self.rejections.reject(type(event).__name__, "no two-sided top of book", None, now_ns)
            return
        if self._t >= 0 and now_ns > self._t and math.isfinite(self._mid):
            dt = (now_ns - self._t) / NS
            r = math.log(mid / self._mid)
            sigma_now = math.sqrt(self._var)
            if abs(r) > self.p.cascade_move * sigma_now * math.sqrt(dt):
                self._cascade_until = now_ns + int(self.p.cascade_hold_s * NS)
            a = 1.0 - 0.5 ** (dt / self.p.half_life_s)
            self._var = (1.0 - a) * self._var + a * (r * r / dt)
        self._mid, self._t = mid, max(self._t, now_ns)

    def sigma_cap(self) -> float:
        return self.max_sigma

    def estimate(self, out: Estimates, now_ns: int) -> None:
        sigma = math.sqrt(self._var)
        cascade = now_ns < self._cascade_until
        if cascade:
            # BUG: in cascade mode the author wants spreads to widen "whatever it takes",
            # so the cap is applied only outside cascade mode
            sigma *= self.p.cascade_mult
        else:
            sigma = min(sigma, self.max_sigma)
        out.sigma = sigma
        out.cascade = cascade
        out.sigma_confidence = 1.0 if self._t >= 0 else 0.0


# ---------------------------------------------------------------------------------------
# g_quiet_kappa: trade-depth kappa that decays with no floor during a quiet spell
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuietKappaParams:
    window_s: float = param(120.0, gt=0, help="trade depths kept for this long (s)")
    prior_kappa: float = param(2000.0, gt=0, help="kappa with no trades (per unit depth)")
    prior_strength: float = param(10.0, gt=0, help="pseudo-observations of the prior")
    quiet_after_s: float = param(30.0, gt=0, help="no trade for this long = a quiet market")
    quiet_decay: float = param(0.1, gt=0, lt=1, help="kappa factor per quiet_after_s of silence")
    kappa_floor: float = param(1.0, gt=0, help="floor on the fitted kappa")


class QuietKappa:
    """Kappa as the exponential MLE of market trades' relative depth from mid (``n /
    sum(depth)``), shrunk to a prior, over a rolling window. When the market goes quiet
    (no trade for ``quiet_after_s``), kappa decays by ``quiet_decay`` per quiet period so
    the quoter widens in a dead market."""

    publishes = frozenset({"kappa", "kappa_confidence"})

    def __init__(self, p: QuietKappaParams) -> None:
        self.p = p
        self.rejections = Rejections()
        self._mid = math.nan
        self._obs: deque[tuple[int, float]] = deque()
        self._last_trade = -1

    def on_event(self, event: Event, now_ns: int) -> None:
        mid = _book_mid(event)
        if mid is not None:
            self._mid = mid
            return
        if isinstance(event, Trade):
            if not (math.isfinite(event.px) and event.px > 0 and math.isfinite(self._mid)):
                self.rejections.reject(
                    "Trade", "price not finite/positive or no mid", event.px, now_ns
                )
                return
            self._obs.append((now_ns, abs(event.px - self._mid) / self._mid))
            self._last_trade = max(self._last_trade, now_ns)

    def estimate(self, out: Estimates, now_ns: int) -> None:
        horizon = now_ns - int(self.p.window_s * NS)
        while self._obs and self._obs[0][0] < horizon:
            self._obs.popleft()
        n = len(self._obs)
        s = sum(d for _, d in self._obs)
        k0, w0 = self.p.prior_kappa, self.p.prior_strength
        if n and s > 0:
            mle = max(n / s, self.p.kappa_floor)
            kappa = (w0 * k0 + n * mle) / (w0 + n)
        else:
            kappa = k0
        if self._last_trade >= 0:
            quiet = (now_ns - self._last_trade) / NS
            if quiet > self.p.quiet_after_s:
                # BUG: the floor is applied to the fit above but not to the decay: after a
                # few hours without trades quiet_decay ** (quiet / quiet_after_s) underflows
                # and kappa becomes exactly 0.0
                kappa *= self.p.quiet_decay ** (quiet / self.p.quiet_after_s)
        out.kappa = kappa
        out.kappa_confidence = n / (n + w0)


# ---------------------------------------------------------------------------------------
# g_volume_kappa: own-fill Bayesian kappa that switches to volume weighting after N fills
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VolumeKappaParams:
    prior_kappa: float = param(2000.0, gt=0, help="prior mean kappa (per unit depth)")
    prior_strength: float = param(10.0, gt=0, help="prior shape (pseudo-fills)")
    window_s: float = param(600.0, gt=0, help="own fills kept for this long (s)")
    size_weighting_after: int = param(20, ge=1, help="fills before size weighting starts")
    reference_size: float = param(0.001, gt=0, help="a fill of this size counts as one (coins)")
    warmup_fills: int = param(5, ge=1, help="own fills that end warmup")


class VolumeKappa:
    """Own-fill kappa: Gamma(alpha, beta) prior on kappa with exponential fill depths, the
    conjugate update ``alpha += 1``, ``beta += depth`` per fill, fills expiring after
    ``window_s``. Publishes the posterior mean ``alpha / beta`` and a confidence
    ``n / (n + prior_strength)``; ``posterior()`` gives ``(alpha, beta)``."""

    publishes = frozenset({"kappa", "kappa_confidence"})

    def __init__(self, p: VolumeKappaParams) -> None:
        self.p = p
        self.rejections = Rejections()
        self.prior_alpha = p.prior_strength
        self.prior_beta = p.prior_strength / p.prior_kappa
        self._mid = math.nan
        self._fills: deque[tuple[int, float, float]] = deque()  # (t, depth, weight)
        self._seen = 0

    # -- OwnFillPosterior --------------------------------------------------------------
    def posterior(self) -> tuple[float, float]:
        a = self.prior_alpha + sum(w for _, _, w in self._fills)
        b = self.prior_beta + sum(d for _, d, _ in self._fills)
        return a, b

    @property
    def prior(self) -> tuple[float, float]:
        return self.prior_alpha, self.prior_beta

    @property
    def observation_count(self) -> int:
        return len(self._fills)

    @property
    def has_exited_warmup(self) -> bool:
        return self._seen >= self.p.warmup_fills

    @property
    def warmup_fills(self) -> int:
        return self.p.warmup_fills

    @property
    def window_s(self) -> float:
        return self.p.window_s

    def on_event(self, event: Event, now_ns: int) -> None:
        mid = _book_mid(event)
        if mid is not None:
            self._mid = mid
            return
        if isinstance(event, OwnFill):
            ok = math.isfinite(event.px) and event.px > 0 and math.isfinite(event.sz)
            if not ok or event.sz <= 0 or not math.isfinite(self._mid):
                self.rejections.reject("OwnFill", "bad price/size or no mid", event.px, now_ns)
                return
            self._seen += 1
            weight = 1.0
            if self._seen > self.p.size_weighting_after:
                # BUG: "once we have enough fills, let big fills count more": the shape then
                # grows with volume, not with the number of fills
                weight = event.sz / self.p.reference_size
            self._fills.append((now_ns, abs(event.px - self._mid) / self._mid, weight))

    def estimate(self, out: Estimates, now_ns: int) -> None:
        horizon = now_ns - int(self.p.window_s * NS)
        while self._fills and self._fills[0][0] < horizon:
            self._fills.popleft()
        a, b = self.posterior()
        out.kappa = a / b
        n = len(self._fills)
        out.kappa_confidence = n / (n + self.p.prior_strength)


# ---------------------------------------------------------------------------------------
# g_reconnect_warmup: own-fill kappa whose graduation is undone on the second reconnect
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReconnectWarmupParams:
    prior_kappa: float = param(2000.0, gt=0, help="prior mean kappa (per unit depth)")
    prior_strength: float = param(10.0, gt=0, help="prior shape (pseudo-fills)")
    window_s: float = param(600.0, gt=0, help="own fills kept for this long (s)")
    warmup_fills: int = param(5, ge=1, help="own fills that end warmup, for good")
    rewarm_after_reconnects: int = param(2, ge=1, help="reconnects that count as a new session")


class ReconnectWarmup:
    """Own-fill kappa with the seed's warmup: a Gamma(alpha, beta) posterior updated by
    one per fill and the fill's relative depth, over ``window_s``; ``warmed_up`` from the
    ``warmup_fills``-th fill on and, by the seed's permanent graduation, for good. A feed
    that keeps reconnecting is treated as a new trading session."""

    publishes = frozenset({"kappa", "kappa_confidence", "warmed_up", "warmup_waiting"})

    def __init__(self, p: ReconnectWarmupParams) -> None:
        self.p = p
        self.rejections = Rejections()
        self._prior = (p.prior_strength, p.prior_strength / p.prior_kappa)
        self._mid = math.nan
        self._fills: deque[tuple[int, float]] = deque()
        self._seen = 0
        self.graduated = False
        self._reconnects = 0
        self._down: set[str] = set()

    # -- OwnFillPosterior --------------------------------------------------------------
    def posterior(self) -> tuple[float, float]:
        return (self._prior[0] + len(self._fills), self._prior[1] + sum(d for _, d in self._fills))

    @property
    def prior(self) -> tuple[float, float]:
        return self._prior

    @property
    def observation_count(self) -> int:
        return len(self._fills)

    @property
    def has_exited_warmup(self) -> bool:
        return self.graduated

    @property
    def warmup_fills(self) -> int:
        return self.p.warmup_fills

    @property
    def window_s(self) -> float:
        return self.p.window_s

    # -- Estimator ------------------------------------------------------------------------
    def on_event(self, event: Event, now_ns: int) -> None:
        mid = _book_mid(event)
        if mid is not None:
            self._mid = mid
        elif isinstance(event, OwnFill):
            if not (math.isfinite(event.px) and event.px > 0 and math.isfinite(self._mid)):
                self.rejections.reject("OwnFill", "bad price or no mid", event.px, now_ns)
                return
            self._fills.append((now_ns, abs(event.px - self._mid) / self._mid))
            self._seen += 1
            if self._seen >= self.p.warmup_fills:
                self.graduated = True
        elif isinstance(event, FeedStatus):
            if not event.connected:
                self._down.add(event.stream)
            elif event.stream in self._down:
                self._down.discard(event.stream)
                self._reconnects += 1
                if self._reconnects >= self.p.rewarm_after_reconnects:
                    # BUG: a "new session" re-arms warmup: the permanent graduation is
                    # undone on the second reconnect
                    self.graduated = False
                    self._seen = 0
                    self._reconnects = 0

    def estimate(self, out: Estimates, now_ns: int) -> None:
        horizon = now_ns - int(self.p.window_s * NS)
        while self._fills and self._fills[0][0] < horizon:
            self._fills.popleft()
        a, b = self.posterior()
        out.kappa = a / b
        n = len(self._fills)
        out.kappa_confidence = n / (n + self.p.prior_strength)
        out.warmed_up = self.graduated
        out.warmup_waiting = (
            "" if self.graduated else f"own fills {self._seen}/{self.p.warmup_fills}"
        )


# ---------------------------------------------------------------------------------------
# g_imbalance_toxicity: toxicity from book imbalance, -1 on a one-sided book
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImbalanceToxicityParams:
    levels: int = param(5, ge=1, help="book levels per side in the imbalance")
    slope: float = param(4.0, gt=0, help="logistic slope on the imbalance")


class ImbalanceToxicity:
    """Predicted probability that a fill is toxic: a logistic function of the depth
    imbalance of the top ``levels`` levels, ``(bid - ask) / (bid + ask)``."""

    UNKNOWN = -1.0
    publishes = frozenset({"toxicity"})

    def __init__(self, p: ImbalanceToxicityParams) -> None:
        self.p = p
        self.rejections = Rejections()
        self._tox = math.nan

    def on_event(self, event: Event, now_ns: int) -> None:
        if not isinstance(event, BookSnapshot):
            return
        n = self.p.levels
        b = float(event.bid_sz[:n].sum()) if event.bid_sz.size else 0.0
        a = float(event.ask_sz[:n].sum()) if event.ask_sz.size else 0.0
        if not (math.isfinite(a) and math.isfinite(b)) or a < 0 or b < 0:
            self.rejections.reject("BookSnapshot", "non-finite or negative depth", None, now_ns)
            return
        if a == 0 or b == 0:
            # BUG: "-1 = unknown" sentinel where the contract is NaN or [0, 1]: only on a
            # one-sided (or empty) book
            self._tox = self.UNKNOWN
            return
        imb = (b - a) / (b + a)
        self._tox = 1.0 / (1.0 + math.exp(-self.p.slope * imb))

    def estimate(self, out: Estimates, now_ns: int) -> None:
        out.toxicity = self._tox


# ---------------------------------------------------------------------------------------
# g_exchange_time_sigma: realized variance per exchange-time second, negative dt
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExchangeTimeSigmaParams:
    alpha: float = param(0.05, gt=0, le=1, help="EWMA weight of each new return")
    default_sigma: float = param(1e-4, gt=0, help="sigma before the first return (per sqrt s)")
    max_sigma: float = param(2e-3, gt=0, help="cap on the published sigma (per sqrt s)")


class ExchangeTimeSigma:
    """Sigma from the variance rate ``r**2 / dt`` of the mid between book updates, with
    ``dt`` measured on the exchange's clock (``event.ts``) to leave out our network jitter,
    smoothed by an EWMA and capped at ``max_sigma``."""

    publishes = frozenset({"sigma"})

    def __init__(self, p: ExchangeTimeSigmaParams) -> None:
        self.p = p
        self.max_sigma = p.max_sigma
        self.rejections = Rejections()
        self._var = p.default_sigma**2
        self._mid = math.nan
        self._ts = -1

    def on_event(self, event: Event, now_ns: int) -> None:
        mid = _book_mid(event)
        if mid is None:
            return
        if self._ts >= 0 and math.isfinite(self._mid):
            dt = (event.ts - self._ts) / NS
            # BUG: only dt == 0 is skipped; an exchange timestamp that goes backwards gives
            # a negative variance rate, the EWMA can go negative and sqrt() raises
            if dt != 0:
                r = math.log(mid / self._mid)
                self._var = (1 - self.p.alpha) * self._var + self.p.alpha * r * r / dt
        self._mid, self._ts = mid, event.ts

    def sigma_cap(self) -> float:
        return self.max_sigma

    def estimate(self, out: Estimates, now_ns: int) -> None:
        out.sigma = min(math.sqrt(self._var), self.max_sigma)


# ---------------------------------------------------------------------------------------
# Correct but unusual estimators (should PASS)
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlowExtrasParams:
    window_s: float = param(30.0, gt=0, help="trades kept for the flow imbalance (s)")


class FlowExtras:
    """Publishes nothing but an extra: ``gauntlet.flow_imbalance``, the signed aggressor
    volume imbalance of market trades over ``window_s`` seconds, in [-1, 1] (0 with no
    trades). Touches no seed field."""

    KEY = "gauntlet.flow_imbalance"
    publishes = frozenset({KEY})

    def __init__(self, p: FlowExtrasParams) -> None:
        self.p = p
        self.rejections = Rejections()
        self._trades: deque[tuple[int, float]] = deque()

    def on_event(self, event: Event, now_ns: int) -> None:
        if not isinstance(event, Trade):
            return
        if not (math.isfinite(event.sz) and event.sz > 0):
            self.rejections.reject("Trade", "size not finite and > 0", event.sz, now_ns)
            return
        self._trades.append((now_ns, float(int(event.side)) * event.sz))

    def estimate(self, out: Estimates, now_ns: int) -> None:
        horizon = now_ns - int(self.p.window_s * NS)
        while self._trades and self._trades[0][0] < horizon:
            self._trades.popleft()
        gross = sum(abs(v) for _, v in self._trades)
        net = sum(v for _, v in self._trades)
        imb = net / gross if gross > 0 else 0.0
        out.extras[self.KEY] = min(1.0, max(-1.0, imb)) if math.isfinite(imb) else 0.0


@dataclass(frozen=True)
class RangeSigmaParams:
    window_s: float = param(300.0, gt=0, help="mids kept for the range (s)")
    min_sigma: float = param(2e-5, gt=0, help="floor on sigma (per sqrt s)")
    max_sigma: float = param(1e-3, gt=0, help="cap on sigma (per sqrt s), always applied")


class RangeSigma:
    """Sigma from the Parkinson high-low range of the mid over a rolling window
    (``ln(high/low) / sqrt(4 ln 2 * window)``), clamped to ``[min_sigma, max_sigma]`` on
    every path, cascade or not. Unusual (a range estimator, no EWMA) but correct."""

    publishes = frozenset({"sigma"})

    def __init__(self, p: RangeSigmaParams) -> None:
        self.p = p
        self.max_sigma = p.max_sigma
        self.rejections = Rejections()
        self._mids: deque[tuple[int, float]] = deque()

    def on_event(self, event: Event, now_ns: int) -> None:
        mid = _book_mid(event)
        if mid is not None:
            self._mids.append((now_ns, mid))

    def sigma_cap(self) -> float:
        return self.p.max_sigma

    def estimate(self, out: Estimates, now_ns: int) -> None:
        horizon = now_ns - int(self.p.window_s * NS)
        while self._mids and self._mids[0][0] < horizon:
            self._mids.popleft()
        sigma = self.p.min_sigma
        if len(self._mids) >= 2:
            hi = max(m for _, m in self._mids)
            lo = min(m for _, m in self._mids)
            raw = math.log(hi / lo) / math.sqrt(4 * math.log(2) * self.p.window_s)
            if math.isfinite(raw):
                sigma = raw
        out.sigma = min(self.p.max_sigma, max(self.p.min_sigma, sigma))
