"""Standard statistics of a run, from plain arrays (no engine imports).

Equity statistics (:func:`equity_stats`)
    The equity path (USD, sampled at arbitrary times ``ts_ns``) is read as a step function:
    between two samples it keeps the earlier value. It is cut into consecutive windows of
    ``window_s`` seconds starting at the first sample; the equity at a window's end is the
    last sample at or before that end, and a window's return is the change of equity over
    it (USD). The trailing partial window is dropped, so ``n_windows = floor(span /
    window_s)``.

    * ``sharpe`` = mean / standard deviation (``ddof = 1``) of the window returns: per
      window, not annualised. ``sharpe_daily`` scales it by ``sqrt(86400 / window_s)``.
    * ``sortino`` = mean / downside deviation, the downside deviation being
      ``sqrt(mean(min(r, 0)^2))`` over all windows (target return 0).
    * ``max_drawdown_usd``: the largest fall of the sampled equity from its running peak;
      ``return_usd`` last minus first sample; ``return_over_max_dd`` their ratio.

    With fewer than :data:`MIN_WINDOWS` windows the ratios are still computed when they can
    be, but ``caveat`` says they are not meaningful. Every NaN comes with a caveat that says
    why.

Fill statistics (:func:`fill_stats`)
    ``side`` is +1 for a buy (our bid filled) and -1 for a sell (our ask filled).

    * ``spread_captured_bp``: size-weighted mean of ``side * (mid - px) / mid * 1e4``, with
      ``mid`` the last mid at or before the fill (positive: we bought below / sold above
      the mid).
    * markouts at ``h`` in :data:`MARKOUT_HORIZONS_S`: ``side * (mid(t + h) - px)``, with
      ``mid(t + h)`` the last mid at or before ``t + h``; only fills with ``t + h`` no later
      than the last mid count. ``markouts_bp`` is the size-weighted mean in bp of the fill
      price; ``markouts_usd`` the total over the counted fills in USD (``* sz``). Negative
      means adverse selection.
    * ``turnover`` is traded notional per hour of run (USD / hour), see ``turnover_unit``.
    * ``fees_paid_usd`` is the sum of positive fees, ``rebates_usd`` the sum of negative
      fees with the sign flipped (rebates received, >= 0); ``net_fees_usd`` their
      difference (paid minus received).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from mmkit.core.types import NS_PER_S

#: below this many windows a Sharpe or Sortino ratio is reported with a caveat
MIN_WINDOWS = 30
#: markout horizons in seconds; keys of ``markouts_bp`` are ``f"{h:g}s"``
MARKOUT_HORIZONS_S = (1.0, 5.0, 30.0, 60.0)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class EquityStats:
    """Statistics of an equity path; see the module docstring for the definitions."""

    window_s: float
    n_windows: int
    sharpe: float  # per window, not annualised
    sharpe_daily: float  # sharpe * sqrt(86400 / window_s)
    sortino: float  # per window
    sortino_daily: float
    max_drawdown_usd: float
    return_usd: float
    return_over_max_dd: float
    caveat: str = ""
    #: return_usd / notional_usd * 100 when a notional was given (NaN otherwise)
    return_pct: float = math.nan
    span_s: float = 0.0  # seconds from the first to the last sample


@dataclass(frozen=True)
class FillStats:
    """Statistics of our fills; see the module docstring for the definitions."""

    fills: int
    fills_bid: int  # buys: our bid filled
    fills_ask: int  # sells: our ask filled
    volume_usd: float
    volume_bid_usd: float
    volume_ask_usd: float
    fills_per_hour: float
    turnover: float  # USD traded per hour of run
    fees_paid_usd: float
    rebates_usd: float
    markouts_bp: dict[str, float]
    markouts_usd: dict[str, float]
    spread_captured_bp: float
    turnover_unit: str = "USD/hour"
    net_fees_usd: float = 0.0
    spread_captured_usd: float = 0.0
    markouts_n: dict[str, int] = field(default_factory=dict)
    run_s: float = 0.0
    caveat: str = ""


def _as_1d(name: str, x: Any, dtype: Any) -> npt.NDArray[Any]:
    a = np.asarray(x, dtype=dtype)
    if a.ndim != 1:
        raise ValueError(f"{name}: expected a 1-d array, got shape {a.shape}")
    return a


def _check_same(names: list[str], arrays: list[npt.NDArray[Any]]) -> None:
    n = arrays[0].size
    for name, a in zip(names, arrays, strict=True):
        if a.size != n:
            raise ValueError(
                f"{name}: length {a.size} differs from {names[0]} ({n}); "
                "the arrays must describe the same samples"
            )


def _check_finite(name: str, a: FloatArray) -> None:
    bad = np.flatnonzero(~np.isfinite(a))
    if bad.size:
        raise ValueError(f"{name}: value {float(a[bad[0]])!r} at index {int(bad[0])} is not finite")


def _check_sorted(name: str, ts: IntArray) -> None:
    if ts.size > 1:
        bad = np.flatnonzero(np.diff(ts) < 0)
        if bad.size:
            i = int(bad[0]) + 1
            raise ValueError(
                f"{name}: times must not decrease, but index {i} ({int(ts[i])}) is before "
                f"index {i - 1} ({int(ts[i - 1])})"
            )


def window_returns(ts_ns: IntArray, equity: FloatArray, window_s: float) -> FloatArray:
    """Equity change (USD) over each complete ``window_s`` window from the first sample."""
    if ts_ns.size < 2:
        return np.zeros(0, dtype=np.float64)
    w = round(window_s * NS_PER_S)
    k = int((int(ts_ns[-1]) - int(ts_ns[0])) // w)
    if k < 1:
        return np.zeros(0, dtype=np.float64)
    bounds = int(ts_ns[0]) + w * np.arange(k + 1, dtype=np.int64)
    idx = np.searchsorted(ts_ns, bounds, side="right") - 1
    return np.diff(equity[idx]).astype(np.float64)


def equity_stats(
    ts_ns: IntArray,
    equity: FloatArray,
    *,
    window_s: float = 60.0,
    notional_usd: float | None = None,
) -> EquityStats:
    """Sharpe, Sortino, drawdown and return of an equity path (USD at times ``ts_ns``).

    Raises ``ValueError`` naming the argument for arrays of different lengths, times that
    decrease, non-finite equity or a window that is not a positive number of seconds."""
    if not (isinstance(window_s, int | float) and math.isfinite(window_s) and window_s > 0):
        raise ValueError(f"window_s: must be a positive number of seconds, got {window_s!r}")
    ts = _as_1d("ts_ns", ts_ns, np.int64)
    eq = _as_1d("equity", equity, np.float64)
    _check_same(["ts_ns", "equity"], [ts, eq])
    _check_sorted("ts_ns", ts)
    _check_finite("equity", eq)
    caveats: list[str] = []
    if eq.size == 0:
        nan = math.nan
        return EquityStats(
            window_s, 0, nan, nan, nan, nan, 0.0, 0.0, nan, "no equity samples", nan, 0.0
        )
    span_s = (int(ts[-1]) - int(ts[0])) / NS_PER_S
    r = window_returns(ts, eq, window_s)
    n = int(r.size)
    scale = math.sqrt(86400.0 / window_s)
    sharpe = sortino = math.nan
    if n < 2:
        caveats.append(
            f"only {n} window{'s' if n != 1 else ''} of {window_s:g} s in {span_s:,.1f} s: "
            "Sharpe and Sortino need at least 2"
        )
    else:
        mean = float(np.mean(r))
        sd = float(np.std(r, ddof=1))
        if sd > 0:
            sharpe = mean / sd
        else:
            caveats.append("equity changed by the same amount in every window: Sharpe undefined")
        dd = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2)))
        if dd > 0:
            sortino = mean / dd
        else:
            caveats.append("no losing window: Sortino undefined")
        if n < MIN_WINDOWS:
            caveats.insert(
                0,
                f"only {n} windows of {window_s:g} s: Sharpe is not meaningful "
                f"(needs {MIN_WINDOWS} or more)",
            )
    mdd = float(np.max(np.maximum.accumulate(eq) - eq))
    ret = float(eq[-1] - eq[0])
    rodd = math.nan
    if mdd > 0:
        rodd = ret / mdd
    else:
        caveats.append("no drawdown: return over max drawdown undefined")
    pct = math.nan
    if notional_usd is not None:
        if math.isfinite(notional_usd) and notional_usd > 0:
            pct = ret / notional_usd * 100.0
        else:
            caveats.append(f"notional {notional_usd!r} is not positive: no return in %")
    return EquityStats(
        window_s=float(window_s),
        n_windows=n,
        sharpe=sharpe,
        sharpe_daily=sharpe * scale,
        sortino=sortino,
        sortino_daily=sortino * scale,
        max_drawdown_usd=mdd,
        return_usd=ret,
        return_over_max_dd=rodd,
        caveat="; ".join(caveats),
        return_pct=pct,
        span_s=span_s,
    )


def _mid_at(
    mids_ts: IntArray, mids: FloatArray, t: IntArray
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Last mid at or before each ``t`` (and whether there is one)."""
    k = np.searchsorted(mids_ts, t, side="right") - 1
    ok = k >= 0
    out = np.full(t.shape, math.nan)
    out[ok] = mids[k[ok]]
    return out, ok


def fill_stats(
    ts_ns: IntArray,
    side: npt.NDArray[Any],
    px: FloatArray,
    sz: FloatArray,
    fee: FloatArray,
    *,
    run_s: float,
    mids_ts_ns: IntArray,
    mids: FloatArray,
) -> FillStats:
    """Counts, volume, fees, spread captured and markouts of fills (see the module
    docstring). ``run_s`` is the run's length in seconds (for the per-hour rates); the mids
    (``mids_ts_ns`` ascending) price the spread captured and the markouts.

    Raises ``ValueError`` naming the argument for arrays of different lengths, a side other
    than +1/-1, a non-finite or non-positive price, size or mid, a non-finite fee, or mid
    times that decrease."""
    ts = _as_1d("ts_ns", ts_ns, np.int64)
    sd = _as_1d("side", side, np.float64)
    p = _as_1d("px", px, np.float64)
    s = _as_1d("sz", sz, np.float64)
    f = _as_1d("fee", fee, np.float64)
    _check_same(["ts_ns", "side", "px", "sz", "fee"], [ts, sd, p, s, f])
    bad = np.flatnonzero((sd != 1.0) & (sd != -1.0))
    if bad.size:
        raise ValueError(
            f"side: value {float(sd[bad[0]])!r} at index {int(bad[0])} is not +1 or -1"
        )
    for name, a in (("px", p), ("sz", s)):
        _check_finite(name, a)
        nonpos = np.flatnonzero(a <= 0)
        if nonpos.size:
            i = int(nonpos[0])
            raise ValueError(f"{name}: value {float(a[i])!r} at index {i} is not positive")
    _check_finite("fee", f)
    mts = _as_1d("mids_ts_ns", mids_ts_ns, np.int64)
    m = _as_1d("mids", mids, np.float64)
    _check_same(["mids_ts_ns", "mids"], [mts, m])
    _check_sorted("mids_ts_ns", mts)
    _check_finite("mids", m)
    nonpos_mid = np.flatnonzero(m <= 0)
    if nonpos_mid.size:
        i = int(nonpos_mid[0])
        raise ValueError(f"mids: value {float(m[i])!r} at index {i} is not positive")
    if not (math.isfinite(run_s) and run_s >= 0):
        raise ValueError(f"run_s: must be a finite number of seconds >= 0, got {run_s!r}")
    caveats: list[str] = []
    notional = p * s
    buy = sd > 0
    n = int(ts.size)
    per_h = 3600.0 / run_s if run_s > 0 else math.nan
    if run_s <= 0:
        caveats.append("run of 0 s: no per-hour rates")
    spread_bp = math.nan
    spread_usd = 0.0
    keys = [f"{h:g}s" for h in MARKOUT_HORIZONS_S]
    mk_bp = dict.fromkeys(keys, math.nan)
    mk_usd = dict.fromkeys(keys, math.nan)
    mk_n = dict.fromkeys(keys, 0)
    if n == 0:
        caveats.append("no fills: no spread captured or markouts")
    elif m.size == 0:
        caveats.append("no mid prices: no spread captured or markouts")
    else:
        mid0, ok = _mid_at(mts, m, ts)
        if ok.any():
            w = s[ok]
            edge = sd[ok] * (mid0[ok] - p[ok])
            spread_bp = float(np.sum(edge / mid0[ok] * 1e4 * w) / np.sum(w))
            spread_usd = float(np.sum(edge * w))
        else:
            caveats.append("every fill is before the first mid: no spread captured")
        last = int(mts[-1])
        for h, key in zip(MARKOUT_HORIZONS_S, keys, strict=True):
            th = ts + round(h * NS_PER_S)
            mh, okh = _mid_at(mts, m, th)
            okh &= th <= last
            if not okh.any():
                continue
            w = s[okh]
            mo = sd[okh] * (mh[okh] - p[okh])
            mk_bp[key] = float(np.sum(mo / p[okh] * 1e4 * w) / np.sum(w))
            mk_usd[key] = float(np.sum(mo * w))
            mk_n[key] = int(okh.sum())
        short = [k for k in keys if mk_n[k] == 0]
        if short:
            caveats.append(
                f"markouts {', '.join(short)}: no fill early enough before the data ended"
            )
    vol = float(np.sum(notional))
    return FillStats(
        fills=n,
        fills_bid=int(np.sum(buy)),
        fills_ask=int(n - np.sum(buy)),
        volume_usd=vol,
        volume_bid_usd=float(np.sum(notional[buy])),
        volume_ask_usd=float(np.sum(notional[~buy])),
        fills_per_hour=n * per_h,
        turnover=vol * per_h,
        fees_paid_usd=float(np.sum(f[f > 0])),
        rebates_usd=float(-np.sum(f[f < 0])) + 0.0,
        markouts_bp=mk_bp,
        markouts_usd=mk_usd,
        spread_captured_bp=spread_bp,
        net_fees_usd=float(np.sum(f)),
        spread_captured_usd=spread_usd,
        markouts_n=mk_n,
        run_s=float(run_s),
        caveat="; ".join(caveats),
    )


def _num(x: float, fmt: str, unit: str = "") -> str:
    if not math.isfinite(x):
        return "n/a"
    return f"{x:{fmt}}{unit}"


def to_rows(obj: EquityStats | FillStats) -> list[tuple[str, str]]:
    """Human-readable ``(label, value)`` rows with units, for tables. A value that is not a
    number reads ``n/a`` and the object's caveat (a row of its own) says why."""
    rows: list[tuple[str, str]] = []
    if isinstance(obj, EquityStats):
        w = f"{obj.window_s:g} s"
        rows += [
            (f"Sharpe (per {w} window, {obj.n_windows} windows)", _num(obj.sharpe, ".3f")),
            (f"Sharpe (daily, from {w} windows)", _num(obj.sharpe_daily, ".2f")),
            (f"Sortino (per {w} window)", _num(obj.sortino, ".3f")),
            (f"Sortino (daily, from {w} windows)", _num(obj.sortino_daily, ".2f")),
            ("max drawdown (USD)", _num(obj.max_drawdown_usd, ",.4f")),
            ("return (USD)", _num(obj.return_usd, "+,.4f")),
            ("return / max drawdown", _num(obj.return_over_max_dd, "+.3f")),
        ]
        if math.isfinite(obj.return_pct):
            rows.append(("return (% of notional)", _num(obj.return_pct, "+.4f", " %")))
    elif isinstance(obj, FillStats):
        rows += [
            ("fills (bid / ask)", f"{obj.fills:,} ({obj.fills_bid:,} / {obj.fills_ask:,})"),
            (
                "volume USD (bid / ask)",
                f"{obj.volume_usd:,.2f} ({obj.volume_bid_usd:,.2f} / {obj.volume_ask_usd:,.2f})",
            ),
            ("fills per hour", _num(obj.fills_per_hour, ",.1f")),
            (f"turnover ({obj.turnover_unit})", _num(obj.turnover, ",.2f")),
            ("spread captured (bp, size weighted)", _num(obj.spread_captured_bp, "+.3f")),
            ("spread captured (USD)", _num(obj.spread_captured_usd, "+,.4f")),
        ]
        for k, v in obj.markouts_bp.items():
            usd = obj.markouts_usd.get(k, math.nan)
            nk = obj.markouts_n.get(k, 0)
            rows.append(
                (
                    f"markout {k} (bp; USD total; fills)",
                    f"{_num(v, '+.3f')}; {_num(usd, '+,.4f')}; {nk}",
                )
            )
        rows += [
            ("fees paid (USD)", _num(obj.fees_paid_usd, ",.4f")),
            ("rebates received (USD)", _num(obj.rebates_usd, ",.4f")),
            ("net fees (USD)", _num(obj.net_fees_usd, "+,.4f")),
        ]
    else:
        raise TypeError(f"to_rows: expected EquityStats or FillStats, got {type(obj).__name__}")
    if obj.caveat:
        rows.append(("caveat", obj.caveat))
    return rows


def as_dict(obj: EquityStats | FillStats) -> dict[str, Any]:
    """The fields as a JSON-ready dict (non-finite floats become None)."""
    out: dict[str, Any] = {}
    for f_ in fields(obj):
        v = getattr(obj, f_.name)
        if isinstance(v, dict):
            v = {
                k: (None if isinstance(x, float) and not math.isfinite(x) else x)
                for k, x in v.items()
            }
        elif isinstance(v, float) and not math.isfinite(v):
            v = None
        out[f_.name] = v
    return out


class FillLike(Protocol):
    """What :func:`fill_stats_of` reads of a fill (an :class:`~mmkit.core.events.OwnFill`)."""

    @property
    def ts(self) -> int: ...
    @property
    def side(self) -> Any: ...
    @property
    def px(self) -> float: ...
    @property
    def sz(self) -> float: ...
    @property
    def fee(self) -> float: ...


def fill_stats_of(
    fills: Sequence[FillLike], *, run_s: float, mids_ts_ns: IntArray, mids: FloatArray
) -> FillStats:
    """:func:`fill_stats` of fill objects; mids that are not finite and positive are
    dropped first (a mid is unknown while a side of the book is empty)."""
    ok = np.isfinite(mids) & (mids > 0)
    return fill_stats(
        np.array([f.ts for f in fills], dtype=np.int64),
        np.array([int(f.side) for f in fills], dtype=np.float64),
        np.array([f.px for f in fills], dtype=np.float64),
        np.array([f.sz for f in fills], dtype=np.float64),
        np.array([f.fee for f in fills], dtype=np.float64),
        run_s=run_s,
        mids_ts_ns=mids_ts_ns[ok],
        mids=mids[ok],
    )
