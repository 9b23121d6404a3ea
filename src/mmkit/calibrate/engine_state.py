"""The engine's own estimators run over a capture: their end state is calibrate's primary result.

The estimators are built exactly as :func:`mmkit.assembly.build_engine` builds them
(:func:`mmkit.assembly.build_estimators`: the configured ``[components] estimators``, their
parameters from the config and ``--params`` layers, the same seeds), and they are fed the
event stream an event-cadence backtest feeds the engine (:func:`mmkit.data.adapter.
events_from_chunks` over :func:`mmkit.data.market_stream.open_records`, every event at its
receive time, a timer event every ``engine.timer_ms``), calling ``estimate`` on every cycle
the engine would run (each market event and each timer). No quoter, executor or venue runs:
without our own quotes there are no own fills, so this is the engine's state on the market
data alone (the own-fill kappa source stays at its prior).

Estimators publish values and confidences, not intervals. Where a built-in source's
confidence maps to a sample size, :func:`engine_rows` gives an approximate 95% interval and
says how it was made:

* ``kappa.robust`` (Student-t of the last ``window_s`` of trade depths): ``log kappa`` has
  standard error ``scale * sqrt((nu + 3) / (nu + 1)) / sqrt(ess)`` (the t-location's Fisher
  information), never less than ``1 / sqrt(ess)`` (the information bound of ``ess``
  exponential depths: no estimate of kappa from them is sharper);
* ``A`` (trades in the window per second per side): exact Poisson interval of the count;
* ``sigma``: the particle filter's own posterior for its part, each bipower scale's
  interval at its effective sample for the rest (:func:`_variance_interval`), through the
  estimator's clamp, and widened to the cascade floor when that is what it publishes.

The blended ``kappa`` has no interval (a confidence-weighted mix of sources, EWMA-smoothed
and clamped): its row says so and the per-source rows carry the intervals.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mmkit.calibrate.estimate import Z95, Estimate, nan_estimate
from mmkit.calibrate.intensity import A_UNIT, K_UNIT, poisson_rate
from mmkit.calibrate.volatility import THETA
from mmkit.calibrate.volatility import UNIT as S_UNIT
from mmkit.components import Estimates
from mmkit.config.loader import Settings
from mmkit.core.events import Event, EventKind, Timer
from mmkit.core.types import NS_PER_MS, NS_PER_S
from mmkit.data.schema import Chunk
from mmkit.engine import _REQUOTE_KINDS, _TIMER_ONLY
from mmkit.errors import DataError


@dataclass
class EngineState:
    """The configured estimators after the whole capture (times in ns)."""

    estimator_names: list[str]
    estimates: Estimates
    components: dict[str, Any]
    events: int = 0
    market_trades: int = 0
    cycles: int = 0
    start_ns: int = -1
    end_ns: int = -1
    timer_ms: float = 100.0
    #: estimator -> first exception message (an estimator that raised is a bug)
    faults: dict[str, str] = field(default_factory=dict)
    #: events fed, by kind name (e.g. ``BOOK_SNAPSHOT``), timers excluded
    kinds: dict[str, int] = field(default_factory=dict)

    @property
    def span_s(self) -> float:
        """Seconds of data the estimators saw (first to last event)."""
        return (self.end_ns - self.start_ns) / NS_PER_S if self.start_ns >= 0 else 0.0


def _event_time(ev: Event) -> int:
    """The receive time (as the paper runner orders events), else the exchange time."""
    return ev.local_ts if ev.local_ts >= 0 else ev.ts


def _events(paths: Sequence[Path], fmt: str, min_latency_ms: float) -> Iterator[Event]:
    """The event stream an event-cadence backtest gives the engine: files chained, exchange
    times on the capture's clock as the backtest aligns them (:mod:`mmkit.data.clock`)."""
    from mmkit.data.adapter import events_from_chunks
    from mmkit.data.clock import ClockAlignment
    from mmkit.data.market_stream import open_records

    def chunks() -> Iterator[Chunk]:
        for p in paths:
            yield from open_records(Path(p), fmt).chunks

    yield from events_from_chunks(ClockAlignment(chunks(), min_latency_ms=min_latency_ms))


def run_engine_estimators(
    paths: Sequence[Path],
    settings: Settings,
    *,
    fmt: str = "auto",
    registry: Any = None,
    on_event: Callable[[int], None] | None = None,
) -> EngineState:
    """Feed the capture to the engine's estimators as the engine would; return their state.

    ``registry`` defaults to the plugin host's. An estimator that raises is reported in
    :attr:`EngineState.faults` (as the engine would) and skipped from then on.
    """
    from mmkit.assembly import build_estimators

    if registry is None:
        from mmkit.plugin_manager import get_host

        host = get_host()
        host.check()
        registry = host.registry
    built = build_estimators(registry, settings)
    out = Estimates()
    st = EngineState(
        [n for n, _ in built], out, dict(built), timer_ms=float(settings.engine.timer_ms)
    )
    live = list(built)
    timer_ns = max(1, int(settings.engine.timer_ms * NS_PER_MS))
    # the event kinds on which the engine runs a quoting cycle (and so calls ``estimate``):
    # the engine's own sets, chosen by ``engine.requote`` as the engine chooses them
    cycle_kinds = _REQUOTE_KINDS if settings.engine.requote == "event" else _TIMER_ONLY
    next_timer = -1
    last = -(2**62)

    def fault(name: str, where: str, exc: Exception) -> None:
        st.faults.setdefault(name, f"{where} raised {type(exc).__name__}: {exc}")
        live[:] = [(n, c) for n, c in live if n != name]

    def feed(ev: Event, now: int) -> None:
        for name, comp in list(live):
            try:
                comp.on_event(ev, now)
            except Exception as exc:  # the engine's isolation: reported, not fatal
                fault(name, "on_event", exc)
        if ev.kind in cycle_kinds:
            st.cycles += 1
            for name, comp in list(live):
                try:
                    comp.estimate(out, now)
                except Exception as exc:  # the engine's isolation: reported, not fatal
                    fault(name, "estimate", exc)

    from mmkit.data.clock import venue_feed_latency_ms

    for ev in _events(paths, fmt, venue_feed_latency_ms(settings)):
        t = max(_event_time(ev), last)  # the engine's clock never goes back
        if st.start_ns < 0:
            st.start_ns = t
            next_timer = t
        while next_timer <= t:
            feed(Timer(next_timer, local_ts=next_timer), next_timer)
            next_timer += timer_ns
        feed(ev, t)
        last = t
        st.events += 1
        st.kinds[ev.kind.name] = st.kinds.get(ev.kind.name, 0) + 1
        if ev.kind is EventKind.TRADE:
            st.market_trades += 1
        if on_event is not None and st.events % 65536 == 0:
            on_event(st.events)
    if st.start_ns < 0:
        raise DataError(f"{', '.join(map(str, paths))}: no market events for the estimators")
    st.end_ns = last
    return st


def ewma_effective_n(half_life: float) -> float:
    """Effective sample size ``(1 + l) / (1 - l)`` of an EWMA with ``l = 0.5 ** (1 / h)``
    (``h`` in samples): the number of equally weighted samples with the same variance."""
    if not (half_life > 0 and math.isfinite(half_life)):
        return math.nan
    lam = 0.5 ** (1.0 / half_life)
    return float((1.0 + lam) / (1.0 - lam))


def _kappa_rows(
    name: str, comp: Any, est: Estimates, span_s: float, snapshots: int
) -> list[Estimate]:
    """Rows of the built-in kappa orchestrator (blend, robust, book, own, A)."""
    ex = est.extras
    method = f"engine end state ({name})"
    p = getattr(comp, "p", None)
    robust = getattr(comp, "robust", None)
    window_s = float(getattr(p, "window_s", math.nan))
    rows = [
        Estimate(
            "kappa",
            float(est.kappa),
            math.nan,
            math.nan,
            K_UNIT,
            method,
            0,
            {"confidence": float(est.kappa_confidence)},
            "published blend of book, robust-trade, own-fill and prior kappa (EWMA, clamped "
            f"to [{getattr(p, 'kappa_floor', math.nan):g}, {getattr(p, 'kappa_cap', math.nan):g}]"
            f"; robust source capped at {ex.get('kappa.robust_cap', math.inf):g} before own-fill "
            "graduation): no interval, see the source rows",
        )
    ]
    n_rob = int(robust.observation_count) if robust is not None else 0
    kr = ex.get("kappa.robust", math.nan)
    cr = ex.get("kappa.robust_confidence", 0.0)
    if math.isfinite(kr) and cr > 0 and robust is not None:
        ess = float(getattr(robust, "ess", math.nan))
        nu = float(getattr(robust, "nu", 4.0))
        scale = float(getattr(robust, "_scale", math.nan))
        se = 1.0 / math.sqrt(max(ess, 1.0))
        if math.isfinite(scale) and scale > 0:
            se = max(se, scale * math.sqrt((nu + 3.0) / (nu + 1.0)) / math.sqrt(max(ess, 1.0)))
        rows.append(
            Estimate(
                "kappa.robust",
                kr,
                kr * math.exp(-Z95 * se),
                kr * math.exp(Z95 * se),
                K_UNIT,
                method,
                n_rob,
                {"confidence": cr, "effective_sample_size": ess, "window_s": window_s},
                f"Student-t of the last {window_s:g} s of trade depths (at most "
                f"{getattr(p, 'robust_max_trades', 0)} trades); interval from the effective "
                "sample size",
            )
        )
    else:
        why = (
            f"only {n_rob} trades with a usable depth in the window (needs "
            f"{getattr(p, 'robust_min_trades', '?')}; a trade needs a book mid before it)"
            if n_rob < int(getattr(p, "robust_min_trades", 10))
            else "the robust fit did not converge on these depths (degenerate, e.g. all equal)"
        )
        rows.append(nan_estimate("kappa.robust", K_UNIT, method, why))
    kb = ex.get("kappa.book", math.nan)
    cb = ex.get("kappa.book_confidence", 0.0)
    book = getattr(comp, "book", None)
    if math.isfinite(kb) and cb > 0:
        rows.append(
            Estimate(
                "kappa.book",
                kb,
                math.nan,
                math.nan,
                K_UNIT,
                method,
                int(getattr(book, "fits", 0)),
                {"confidence_r_squared": cb},
                "regression on the last book snapshot only: R-squared confidence, no interval",
            )
        )
    else:
        rows.append(
            nan_estimate(
                "kappa.book",
                K_UNIT,
                method,
                "no book snapshot in the data (the estimator fits full snapshots only, not "
                "deltas or BBO)"
                if snapshots == 0
                else f"the last of {snapshots} book snapshots gave no fit (fewer than "
                f"{getattr(p, 'book_min_levels', '?')} levels within "
                f"{getattr(p, 'book_max_depth', math.nan):g} of mid, or a book that "
                "thickens away from mid)",
            )
        )
    own_n = int(ex.get("kappa.own_n", 0.0))
    rows.append(
        Estimate(
            "kappa.own",
            ex.get("kappa.own", math.nan),
            math.nan,
            math.nan,
            K_UNIT,
            method,
            own_n,
            {"confidence": ex.get("kappa.own_confidence", 0.0)},
            "prior only: calibrate runs no quotes, so there are no own fills (use --journal "
            "for own-fill kappa)",
        )
    )
    a = float(est.A)
    if math.isfinite(a) and n_rob > 0 and a > 0:
        basis = getattr(comp, "intensity_basis", None)
        n_a, cover_s, by_buffer = basis() if callable(basis) else (n_rob, math.nan, False)
        if n_a <= 0 or not cover_s > 0:
            n_a, cover_s = n_rob, min(window_s, span_s)
        exposure = n_a / a  # = 2 x the seconds counted (how the estimator defines A)
        _, lo, hi = poisson_rate(n_a, exposure)
        how = (
            f"trades since the buffer's last drop / (2 x {cover_s:.4g} s they span; the "
            "buffer holds less than the window)"
            if by_buffer
            else "trades in the window / (2 x window)"
        )
        rows.append(
            Estimate(
                "A",
                a,
                lo,
                hi,
                A_UNIT,
                method,
                n_a,
                {"window_s": cover_s},
                how + "; exact Poisson interval of the count",
            )
        )
    else:
        rows.append(nan_estimate("A", A_UNIT, method, "no robust trade fit yet (too few trades)"))
    return rows


def _sigma_rows(name: str, comp: Any, est: Estimates) -> list[Estimate]:
    """Rows of the built-in sigma estimator (published sigma and its sources)."""
    ex = est.extras
    method = f"engine end state ({name})"
    p = getattr(comp, "p", None)
    returns = int(getattr(comp, "returns", 0))
    dt = float(getattr(p, "sample_interval_s", 1.0))
    warm = int(getattr(p, "warmup_returns", 30))
    s = float(est.sigma)
    floor = ex.get("sigma.cascade_floor", 0.0)
    q: dict[str, float] = {
        "confidence": float(est.sigma_confidence),
        "returns": float(returns),
        "sample_interval_s": dt,
        "particle_filter": ex.get("sigma.pf", math.nan),
        "bipower": ex.get("sigma.bipower", math.nan),
        "cascade_floor": floor,
        "p_turbulent": ex.get("sigma.p_turbulent", math.nan),
    }
    if returns < warm:
        return [
            Estimate(
                "sigma",
                s,
                math.nan,
                math.nan,
                S_UNIT,
                method,
                returns,
                q,
                f"still default_sigma: {returns} sampled returns, the filter needs {warm}",
            )
        ]
    w = float(getattr(p, "pf_weight", 0.7))
    lo_v, hi_v, how = _variance_interval(comp, p, returns, dt, w)
    clamp = getattr(comp, "_clamp", None)
    lo, hi = math.sqrt(lo_v / dt), math.sqrt(hi_v / dt)
    if callable(clamp):
        lo, hi = float(clamp(lo)), float(clamp(hi))
    note = (
        f"{w:g} x particle filter + {1 - w:g} x multi-scale bipower variance over {dt:g} s "
        f"returns; interval: {how}"
    )
    if floor > 0 and s <= floor * (1 + 1e-9):
        note += (
            f"; CASCADE FLOOR active ({floor:.3g}): the published sigma is the floor, not a "
            f"measurement (sources: pf {q['particle_filter']:.3g}, bipower {q['bipower']:.3g})"
        )
        hi = max(hi, s)
    lo, hi = min(lo, s), max(hi, s)
    return [Estimate("sigma", s, lo, hi, S_UNIT, method, returns, q, note)]


def _variance_interval(
    comp: Any, p: Any, returns: int, dt: float, w: float
) -> tuple[float, float, str]:
    """95% interval of the sigma estimator's per-interval variance ``w * pf + (1 - w) *
    mean(bipower scales)``, and how it was made.

    The filter part uses the filter's own posterior: the weighted 2.5% and 97.5% points of
    its particles' variances ``exp(h)`` (the filter's model lets volatility move, so its
    memory is much shorter than ``half_life_s`` and its posterior says how short). Each
    bipower scale (an EWMA of half-life ``h`` s) gets the bipower interval
    ``v (1 -+ z sqrt(theta / n_eff))`` at its effective sample ``n_eff = min(returns,
    (1 + l) / (1 - l))``. The parts are combined end to end, as if perfectly correlated
    (conservative: wider than any real correlation gives)."""
    pf = getattr(comp, "pf", None)
    bip = getattr(comp, "bipower", None)
    hls = list(getattr(p, "bipower_half_lives", []))
    scales = list(getattr(bip, "scales", []))
    if pf is None or bip is None or len(scales) != len(hls) or not scales:
        v = float(comp._variance()) if hasattr(comp, "_variance") else math.nan
        return v, v, "not available for this estimator"
    h = np.asarray(pf.h, dtype=np.float64)
    wt = np.asarray(pf.w, dtype=np.float64)
    ok = np.isfinite(h) & np.isfinite(wt) & (wt >= 0)
    h, wt = h[ok], wt[ok]
    if not h.size or not wt.sum() > 0:
        pf_lo = pf_hi = float(pf.mean_variance)
    else:
        order = np.argsort(h)
        cdf = np.cumsum(wt[order]) / wt.sum()
        hs = h[order]
        pf_lo = math.exp(float(hs[min(int(np.searchsorted(cdf, 0.025)), hs.size - 1)]))
        pf_hi = math.exp(float(hs[min(int(np.searchsorted(cdf, 0.975)), hs.size - 1)]))
    bv_lo = bv_hi = 0.0
    for v, hl in zip(scales, hls, strict=True):
        n_eff = min(float(returns), ewma_effective_n(hl / dt))
        rel = Z95 * math.sqrt(THETA / max(n_eff, 1.0))
        bv_lo += max(0.0, v * (1 - rel)) / len(scales)
        bv_hi += v * (1 + rel) / len(scales)
    return (
        w * pf_lo + (1 - w) * bv_lo,
        w * pf_hi + (1 - w) * bv_hi,
        "the filter's particle posterior (2.5%-97.5%) and each bipower scale's interval at "
        "its effective sample, combined as if perfectly correlated",
    )


def engine_rows(st: EngineState) -> list[Estimate]:
    """Report rows of the end state: the built-in kappa and sigma estimators in detail, any
    other estimator's published kappa / A / sigma with its confidence (no interval)."""
    rows: list[Estimate] = []
    est = st.estimates
    # a compiled twin (mmkit.twins) has its reference's attributes: detailed the same way
    kinds = {type(c).__name__.removesuffix("Twin"): n for n, c in st.components.items()}
    k_name = kinds.get("KappaOrchestrator")
    s_name = kinds.get("SigmaEstimator")
    if k_name is not None:
        snaps = st.kinds.get("BOOK_SNAPSHOT", 0)
        rows += _kappa_rows(k_name, st.components[k_name], est, st.span_s, snaps)
    if s_name is not None:
        rows += _sigma_rows(s_name, st.components[s_name], est)
    others = [n for n in st.estimator_names if n not in (k_name, s_name)]
    method = f"engine end state ({', '.join(others) or 'defaults'})"
    note = "published by a plugin estimator: confidence only, no interval"
    if k_name is None:
        rows.append(
            Estimate(
                "kappa",
                est.kappa,
                math.nan,
                math.nan,
                K_UNIT,
                method,
                0,
                {"confidence": est.kappa_confidence},
                note,
            )
        )
        rows.append(Estimate("A", est.A, math.nan, math.nan, A_UNIT, method, 0, {}, note))
    if s_name is None:
        rows.append(
            Estimate(
                "sigma",
                est.sigma,
                math.nan,
                math.nan,
                S_UNIT,
                method,
                0,
                {"confidence": est.sigma_confidence},
                note,
            )
        )
    for name, msg in st.faults.items():
        for r in rows:
            if name in r.method:
                r.note = f"ESTIMATOR FAULT ({msg}); " + r.note
    return rows
