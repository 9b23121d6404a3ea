"""Does the offline fit agree with the engine's end state? If not, the known reasons why.

Two estimates *agree* when their 95% intervals overlap. Each check below compares an
engine row (:mod:`.engine_state`) with the offline fit of the same quantity and, when they
disagree, names the differences between the two computations that can explain the gap:

* trade kappa: the engine's robust source holds only the last ``window_s`` seconds and at
  most ``robust_max_trades`` trades; the offline fits use every trade. The offline
  Student-t fit on exactly that window (:func:`window_fit`) tells the window apart from the
  other differences (depth measured from the last book/BBO event's mid by the engine, from
  the rebuilt book by the offline scan; trades deeper than ``max_trade_depth`` dropped by
  the engine);
* ``A``: same window; the engine divides the held trades by the whole window, so a full
  trade buffer (a busy market) understates it;
* published kappa: a blend of sources, clamped to ``[kappa_floor, kappa_cap]``, with the
  trade source capped before own-fill graduation;
* sigma: the cascade floor, the warmup default, the filter's half-life (the end state is
  the last minutes, the offline bipower the whole data) and the sampling interval.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mmkit.calibrate.estimate import Estimate
from mmkit.calibrate.intensity import IntensityFit, fit_student_t


def overlap(a: Estimate, b: Estimate) -> bool | None:
    """True when the 95% intervals overlap; None when either has no finite interval."""
    if not (a.finite and b.finite):
        return None
    return a.lo <= b.hi and b.lo <= a.hi


def window_fit(
    trade_ts: np.ndarray[Any, Any],
    depths: np.ndarray[Any, Any],
    end_ns: int,
    window_s: float,
    max_trades: int,
    nu: float,
) -> IntensityFit:
    """The offline Student-t fit on the trades the engine's robust source holds at the end:
    those of the last ``window_s`` seconds, at most the last ``max_trades`` of them."""
    keep = trade_ts > end_ns - int(window_s * 1e9)
    ts, d = trade_ts[keep], depths[keep]
    if d.size > max_trades:
        ts, d = ts[-max_trades:], d[-max_trades:]
    span = float(ts[-1] - ts[0]) / 1e9 if ts.size > 1 else 0.0
    fit = fit_student_t(d, max(span, 1e-9), nu=nu)
    fit.kappa.name = "kappa.window"
    fit.kappa.method = "offline fit: student_t on the engine's trade window"
    fit.kappa.quality["window_span_s"] = span
    return fit


def _fmt(e: Estimate) -> str:
    if e.finite:
        return f"{e.value:.4g} [{e.lo:.4g}, {e.hi:.4g}]"
    return f"{e.value:.4g}"


def _label(e: Estimate) -> str:
    """``offline fit <method>`` (the method without its ``offline fit:`` label)."""
    return "offline fit " + e.method.removeprefix("offline fit: ")


def _verdict(what: str, eng: Estimate, off: Estimate) -> tuple[bool | None, str]:
    ok = overlap(eng, off)
    head = f"{what}: engine {_fmt(eng)} vs {_label(off)} {_fmt(off)}"
    if ok is None:
        return None, head + ": not comparable (an interval is missing)"
    return ok, head + (": AGREE (intervals overlap)" if ok else ": DISAGREE")


def compare(
    engine: list[Estimate],
    offline: dict[str, Estimate],
    *,
    window: Estimate | None,
    kappa_params: Any = None,
    sigma_params: Any = None,
    sample_s: float = 1.0,
    duration_s: float = math.nan,
    trades: int = 0,
) -> list[str]:
    """One line per comparison (engine vs offline), each with the reasons of a gap.

    ``offline`` maps ``"kappa_student_t"``, ``"kappa_chosen"``, ``"A"``, ``"sigma"`` to the
    offline estimates; missing keys are skipped."""
    rows = {e.name: e for e in engine}
    out: list[str] = []
    kr = rows.get("kappa.robust")
    kt = offline.get("kappa_student_t")
    if kr is not None and kt is not None:
        ok, line = _verdict("trade kappa (Student-t)", kr, kt)
        if ok is False:
            window_s = getattr(kappa_params, "window_s", "?")
            cap = getattr(kappa_params, "robust_max_trades", "?")
            why = [
                f"the engine holds the last {kr.n} trades (window {window_s} s, at most "
                f"{cap} trades); the offline fit uses all {trades} over {duration_s:.0f} s"
            ]
            if window is not None and math.isfinite(window.value):
                wok = overlap(kr, window)
                why.append(
                    f"offline Student-t on that same window: {_fmt(window)}, which "
                    + (
                        "AGREES with the engine: the gap is the window (the market's depths "
                        "changed over the data)"
                        if wok
                        else "still differs: depth is measured from the mid of the last book "
                        "snapshot/BBO event by the engine and from the rebuilt book by the "
                        "offline scan, and the engine drops trades deeper than "
                        f"{getattr(kappa_params, 'max_trade_depth', '?')}"
                    )
                )
            line += " because " + "; ".join(why)
        out.append(line)
    ka = rows.get("A")
    oa = offline.get("A")
    if ka is not None and oa is not None:
        ok, line = _verdict("A", ka, oa)
        if ok is False:
            line += (
                " because the engine's A counts only the trades it holds (the last "
                f"{ka.quality.get('window_s', math.nan):.4g} s, at most "
                f"{getattr(kappa_params, 'robust_max_trades', '?')} trades), the offline "
                "fit every trade of the capture: the rate changed over the capture"
            )
        out.append(line)
    kb = rows.get("kappa")
    kc = offline.get("kappa_chosen")
    if kb is not None and kc is not None and math.isfinite(kc.value):
        floor = float(getattr(kappa_params, "kappa_floor", 0.0))
        cap = float(getattr(kappa_params, "kappa_cap", math.inf))
        line = (
            f"published kappa: engine {kb.value:.4g} (confidence "
            f"{kb.quality.get('confidence', math.nan):.2f}) vs {_label(kc)} "
            f"{_fmt(kc)}"
        )
        reasons = []
        if kc.value > cap or kc.value < floor:
            reasons.append(
                f"the engine clamps kappa to [{floor:g}, {cap:g}] and the offline fit is outside"
            )
        rcap = float(getattr(kappa_params, "warmup_robust_cap_mult", math.nan)) * float(
            getattr(kappa_params, "prior_kappa", math.nan)
        )
        if kr is not None and math.isfinite(kr.value) and kr.value > rcap:
            reasons.append(
                f"before own-fill graduation the trade source is capped at {rcap:g} "
                "(warmup_robust_cap_mult x prior_kappa: trades print at the touch)"
            )
        kbook = rows.get("kappa.book")
        if kbook is not None and math.isfinite(kbook.value):
            reasons.append(
                f"the blend includes the book kappa {kbook.value:.4g} (weight R-squared "
                f"{kbook.quality.get('confidence_r_squared', math.nan):.2f})"
            )
        line += (
            ": a blend, not a fit (" + "; ".join(reasons) + ")"
            if reasons
            else ": a confidence-weighted blend of the sources above"
        )
        out.append(line)
    ks = rows.get("sigma")
    os_ = offline.get("sigma")
    if ks is not None and os_ is not None:
        ok, line = _verdict("sigma", ks, os_)
        if ok is not True:
            why = []
            q = ks.quality
            if q.get("cascade_floor", 0.0) > 0 and ks.value <= q["cascade_floor"] * (1 + 1e-9):
                why.append(
                    f"the engine's sigma is its CASCADE FLOOR {q['cascade_floor']:.3g} (a jump, "
                    "trade burst or open-interest drop in the last minutes), not a measurement: "
                    f"its sources are particle filter {q.get('particle_filter', math.nan):.3g}, "
                    f"bipower {q.get('bipower', math.nan):.3g}"
                )
            if "still default_sigma" in ks.note:
                why.append("the engine is still in its sigma warmup (publishes default_sigma)")
            dt = float(getattr(sigma_params, "sample_interval_s", sample_s))
            if abs(dt - sample_s) > 1e-12:
                why.append(f"sampling: engine every {dt:g} s, offline every {sample_s:g} s")
            hl = getattr(sigma_params, "half_life_s", None)
            if hl is not None:
                why.append(
                    f"the engine's filter forgets with a {hl:g} s half-life (its end state is "
                    f"the last minutes), the offline bipower weighs all {duration_s:.0f} s "
                    "equally"
                )
            if ok is False or why:
                line += " because " + "; ".join(why) if why else ""
        out.append(line)
    return out
