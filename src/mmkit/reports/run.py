"""Where a run's time went, and the one line that says what happened.

Pure functions of what a runner recorded: the gate transitions (:class:`GateRow`, as the
observer sees or the journal stores them), the warmup estimator's state
(:class:`WarmupInfo`) and a sampled record of the best bid and ask *resting at the venue*
(our orders the venue reported open, not what the quoter wanted).

Definitions (all times in seconds of engine time, ``start_ns`` = the run's first event,
``end_ns`` = the end of the market data, i.e. the engine's end-of-run shutdown):

* ``warmup_s``: from the run's start to the end of warmup (the warmup estimator's first
  market data plus ``finished_after_s``); the whole run when warmup never ended; 0 without a
  warmup estimator (``warmup_ended_by = "none"``).
* ``quoting_s``: the time after warmup during which at least one of our orders rested at the
  venue on *each* side. The resting state is sampled (each sample holds until the next one;
  the last holds to ``end_ns``), so it is exact to the sampling period.
* ``halted_s``: the union of closures in ``halt`` mode over the run, leaving out the warmup
  gate (reported as warmup) and the engine's end-of-run shutdown (gate ``engine``, reason
  ``Shutdown``: it is how every run ends, not a halt). ``post_warmup_halted_s`` is the same
  union clipped to the time after warmup.
* ``verdict``: ``halted`` when a kill switch tripped; else ``warmup_only`` when warmup never
  ended; else ``never_quoted`` when no time had both sides resting; else ``mostly_halted``
  when gates were closed for more than :data:`MOSTLY_HALTED` of the time after warmup; else
  ``faulted`` when a component raised (or returned something the engine refused: a fault
  proper, not rejected input) at least once: a fault during the session halts the quoting
  cycle after it, so the run's figures are not those of the configured strategy alone;
  else ``ok``. ``headline`` says it in one line, with the figures; a run's report prints
  the faults' own line (:func:`mmkit.faults.fault_headline`: how many, by component)
  after it.
* ``component_faults``: the number of those faults.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from mmkit.core.types import NS_PER_S
from mmkit.runtime.gate_timeline import GateRow, build_timeline, union_length

#: share of the post-warmup time halted above which a run is "mostly_halted"
MOSTLY_HALTED = 0.5
WARMUP_GATE = "warmup"


@dataclass(frozen=True)
class WarmupInfo:
    """The warmup estimator's state at the end of a run (see
    :class:`mmkit.estimators.warmup.WarmupEstimator`)."""

    first_ns: int  # first market data (engine ns), -1 when none arrived
    warmed_up: bool
    timed_out: bool
    finished_after_s: float  # from first_ns; NaN while not finished
    trades: int
    buckets: int

    @property
    def end_ns(self) -> int | None:
        """When warmup ended (engine ns), None when it did not."""
        if not self.warmed_up or self.first_ns < 0 or not math.isfinite(self.finished_after_s):
            return None
        return self.first_ns + round(self.finished_after_s * NS_PER_S)


@dataclass(frozen=True)
class KillTripRow:
    t_s: float  # seconds since the run's start
    gate: str
    reason: str
    description: str


@dataclass(frozen=True)
class ClosureRow:
    gate: str
    reason: str
    start_s: float  # seconds since the run's start
    end_s: float
    duration_s: float
    mode: str
    kill_switch: bool = False
    ended_by: str = ""


@dataclass(frozen=True)
class RunAccount:
    """The ``run`` object of reports (see the module docstring)."""

    verdict: str
    headline: str
    run_s: float
    warmup_s: float
    warmup_ended_by: str  # "ready" | "timeout" | "never" | "none" (no warmup estimator)
    warmup_data_frac: float
    post_warmup_s: float
    quoting_s: float
    quoting_frac: float  # of post_warmup_s; NaN when there is no post-warmup time
    halted_s: float
    kill_switch_trips: list[KillTripRow]
    gate_closures: list[ClosureRow]
    halted_frac: float = 0.0  # of run_s
    post_warmup_halted_s: float = 0.0
    warmup_trades: int = 0
    warmup_buckets: int = 0
    quoting_definition: str = (
        "seconds after warmup with at least one of our orders resting at the venue on each side"
    )
    notes: list[str] = field(default_factory=list)
    start_ns: int = -1  # the run's start (engine ns): the time base of every ``*_s`` above
    end_ns: int = -1  # the run's end (engine ns)
    component_faults: int = 0  # faults proper (a component raised or was refused)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: _finite(v) for k, v in d.items()}

    def closed_by_gate(self) -> dict[str, float]:
        """Seconds closed per gate (any mode), largest first."""
        out: dict[str, float] = {}
        for c in self.gate_closures:
            out[c.gate] = out.get(c.gate, 0.0) + c.duration_s
        return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


def _finite(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, list):
        return [_finite(x) for x in v]
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    return v


def is_shutdown(row: GateRow) -> bool:
    """The engine's end-of-run shutdown closure (not a halt of the run)."""
    return row.gate == "engine" and row.reason == "Shutdown"


def quoting_seconds(
    ts_ns: npt.NDArray[np.int64],
    bid: npt.NDArray[np.float64],
    ask: npt.NDArray[np.float64],
    start_ns: int,
    end_ns: int,
) -> float:
    """Seconds in ``[start_ns, end_ns]`` during which both sides rested: sample ``i`` (a
    finite ``bid[i]`` and ``ask[i]`` = an order rests on that side) holds from ``ts_ns[i]``
    to the next sample, the last one to ``end_ns``. Before the first sample nothing rests."""
    if ts_ns.size == 0 or end_ns <= start_ns:
        return 0.0
    nxt = np.append(ts_ns[1:], max(int(end_ns), int(ts_ns[-1])))
    lo = np.maximum(ts_ns, start_ns)
    hi = np.minimum(nxt, end_ns)
    both = np.isfinite(bid) & np.isfinite(ask)
    dur = np.where(both & (hi > lo), hi - lo, 0)
    return float(np.sum(dur)) / NS_PER_S


def account_run(
    *,
    start_ns: int,
    end_ns: int,
    rows: Sequence[GateRow],
    warmup: WarmupInfo | None,
    quote_ts_ns: npt.NDArray[np.int64],
    quote_bid: npt.NDArray[np.float64],
    quote_ask: npt.NDArray[np.float64],
    fills: int,
    equity_usd: float,
    faults: Mapping[str, int] | None = None,
) -> RunAccount:
    """The run's time accounting and verdict (see the module docstring). ``faults``: the
    run's faults proper by component (rejected input left out), None or empty without
    any."""
    n_faults = sum(n for n in (faults or {}).values() if n > 0)
    end_ns = max(end_ns, start_ns)
    run_ns = end_ns - start_ns
    run_s = run_ns / NS_PER_S
    notes: list[str] = []
    # warmup
    if warmup is None:
        wu_end, ended_by = start_ns, "none"
        notes.append("no warmup estimator")
    else:
        e = warmup.end_ns
        if e is None:
            wu_end, ended_by = end_ns, "never"
        else:
            wu_end = min(max(e, start_ns), end_ns)
            ended_by = "timeout" if warmup.timed_out else "ready"
    warmup_s = (wu_end - start_ns) / NS_PER_S
    post_s = (end_ns - wu_end) / NS_PER_S
    # gate closures (the run's shutdown left out)
    kept = [r for r in rows if not is_shutdown(r)]
    tl = build_timeline(kept, start_ns, end_ns)
    closures: list[ClosureRow] = []
    halts: list[tuple[int, int]] = []
    for ep in tl.episodes:
        a, b = max(ep.closed_ns, start_ns), min(ep.end_ns, end_ns)
        closures.append(
            ClosureRow(
                gate=ep.gate,
                reason=ep.reason,
                start_s=(ep.closed_ns - start_ns) / NS_PER_S,
                end_s=(ep.end_ns - start_ns) / NS_PER_S,
                duration_s=max(0, b - a) / NS_PER_S,
                mode=ep.mode,
                kill_switch=ep.kill_switch,
                ended_by=ep.ended_by,
            )
        )
        if ep.mode != "reduce_only" and ep.gate != WARMUP_GATE and b > a:
            halts.append((a, b))
    halted_s = union_length(halts) / NS_PER_S
    post_halts = [(max(a, wu_end), b) for a, b in halts]
    post_halted_s = union_length(post_halts) / NS_PER_S
    trips = [
        KillTripRow(
            t_s=(ep.closed_ns - start_ns) / NS_PER_S,
            gate=ep.gate,
            reason=ep.reason,
            description=ep.detail
            if ep.detail.startswith(ep.reason)
            else f"{ep.reason}{' ' + ep.detail if ep.detail else ''}",
        )
        for ep in tl.kill_trips
    ]
    quoting_s = quoting_seconds(quote_ts_ns, quote_bid, quote_ask, wu_end, end_ns)
    quoting_frac = quoting_s / post_s if post_s > 0 else math.nan
    wfrac = warmup_s / run_s if run_s > 0 else (1.0 if ended_by == "never" else 0.0)
    verdict, headline = _verdict(
        run_s=run_s,
        warmup_s=warmup_s,
        wfrac=wfrac,
        ended_by=ended_by,
        post_s=post_s,
        quoting_s=quoting_s,
        halted_s=halted_s,
        post_halted_s=post_halted_s,
        trips=trips,
        closures=closures,
        fills=fills,
        equity=equity_usd,
        faults=n_faults,
    )
    return RunAccount(
        verdict=verdict,
        headline=headline,
        run_s=run_s,
        warmup_s=warmup_s,
        warmup_ended_by=ended_by,
        warmup_data_frac=wfrac,
        post_warmup_s=post_s,
        quoting_s=quoting_s,
        quoting_frac=quoting_frac,
        halted_s=halted_s,
        kill_switch_trips=trips,
        gate_closures=closures,
        halted_frac=halted_s / run_s if run_s > 0 else 0.0,
        post_warmup_halted_s=post_halted_s,
        warmup_trades=warmup.trades if warmup is not None else 0,
        warmup_buckets=warmup.buckets if warmup is not None else 0,
        notes=notes,
        start_ns=start_ns,
        end_ns=end_ns,
        component_faults=n_faults,
    )


def _pct(x: float) -> str:
    return f"{100.0 * x:.0f}%" if math.isfinite(x) else "n/a"


def _warmup_phrase(ended_by: str, warmup_s: float, wfrac: float) -> str:
    if ended_by == "none":
        return "no warmup estimator"
    if ended_by == "never":
        return f"warmup never ended ({warmup_s:,.1f} s, all of the data)"
    return f"warmup used {_pct(wfrac)} of the data ({warmup_s:,.1f} s, ended by {ended_by})"


def _verdict(
    *,
    run_s: float,
    warmup_s: float,
    wfrac: float,
    ended_by: str,
    post_s: float,
    quoting_s: float,
    halted_s: float,
    post_halted_s: float,
    trips: list[KillTripRow],
    closures: list[ClosureRow],
    fills: int,
    equity: float,
    faults: int = 0,
) -> tuple[str, str]:
    wu = _warmup_phrase(ended_by, warmup_s, wfrac)
    eq = f"{equity:+,.4f} USD" if math.isfinite(equity) else "n/a"
    tail = f"{fills:,} fills, equity {eq}"
    if trips:
        t = trips[0]
        more = f" (+{len(trips) - 1} more trips)" if len(trips) > 1 else ""
        frac = halted_s / run_s if run_s > 0 else math.nan
        return "halted", (
            f"HALTED by kill switch at {t.t_s:,.1f} s ({t.reason}){more}: {_pct(frac)} of the "
            f"{run_s:,.1f} s run halted; {wu}; {tail}"
        )
    if ended_by == "never":
        return "warmup_only", f"WARMUP ONLY: {wu}; never quoted; {tail}"
    if quoting_s <= 0:
        gates = _gates_phrase(closures)
        return "never_quoted", (
            f"NEVER QUOTED: no time with both sides resting in the {post_s:,.1f} s after "
            f"warmup{gates}; {wu}; {tail}"
        )
    hfrac = post_halted_s / post_s if post_s > 0 else 0.0
    q = quoting_s / post_s if post_s > 0 else math.nan
    if hfrac > MOSTLY_HALTED:
        return "mostly_halted", (
            f"MOSTLY HALTED: gates closed {_pct(hfrac)} of the {post_s:,.1f} s after "
            f"warmup{_gates_phrase(closures)}; quoted {_pct(q)}; {wu}; {tail}"
        )
    said = f"quoted {_pct(q)} of the {post_s:,.1f} s after warmup; {wu}; {tail}"
    if faults > 0:
        what = "fault" if faults == 1 else "faults"
        return "faulted", f"FAULTED: {faults:,} component {what}; {said}"
    return "ok", f"OK: {said}"


def _gates_phrase(closures: list[ClosureRow]) -> str:
    per: dict[str, float] = {}
    for c in closures:
        if c.gate != WARMUP_GATE:
            per[c.gate] = per.get(c.gate, 0.0) + c.duration_s
    if not per:
        return ""
    top = sorted(per.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    return " (gates closed: " + ", ".join(f"{g} {s:,.1f} s" for g, s in top) + ")"
