"""What one sweep run actually did, and whether it may be ranked.

A sweep that ranks every run by its objective lies when some runs did not trade: a run halted
by the kill switch after 40 s keeps the small profit it made before the halt, and a run that
never quoted has zero drawdown. So each run's report is read for what the engine did, and a
run is *excluded from the ranking* (it keeps its row, with the reason) when:

* ``halted``: the kill switch tripped (any trip, at any time; the switch latches, so the rest
  of the run is not the strategy's);
* ``never quoted``: no time with quotes resting (or, when the report does not measure it, no
  order sent);
* ``warmup only``: the estimators' warmup used the whole run;
* ``mostly halted``: halted for more than ``max_halted_frac`` of the post-warmup time;
* ``quoted too little``: quoting (both sides resting) for less than ``min_quoting_frac`` of
  the post-warmup time;
* ``failed``: the backtest raised an error.

The facts come from the report's ``run`` object (see ``BacktestReport.to_json``: ``verdict``,
``headline``, ``quoting_frac``, ``halted_s``, ``kill_switch_trips`` ...). A report without it
(an older mmkit) falls back on what the worker read from the engine itself
(:func:`engine_facts`: kill-switch trips and halted time) and on ``orders_sent``; every field
is read defensively, so a missing or malformed value gives ``None`` and the reason shows in
the row, never a traceback.

Everything here is a pure function of JSON-able data, so it is tested without running a
backtest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

#: the verdicts a backtest report's ``run.verdict`` may carry, plus ``failed`` (the run raised)
VERDICTS = ("ok", "faulted", "halted", "mostly_halted", "never_quoted", "warmup_only", "failed")

#: default of ``[sweep] max_halted_frac``: a run halted (gates in halt mode, warmup excluded)
#: for more than this fraction of its post-warmup time is not ranked
DEFAULT_MAX_HALTED_FRAC = 0.5

#: default of ``[sweep] min_quoting_frac``: 0 means only runs that never quoted are excluded
DEFAULT_MIN_QUOTING_FRAC = 0.0


@dataclass(frozen=True)
class Policy:
    """Which runs may be ranked. Fractions are of the post-warmup time, in [0, 1]."""

    max_halted_frac: float = DEFAULT_MAX_HALTED_FRAC
    min_quoting_frac: float = DEFAULT_MIN_QUOTING_FRAC


@dataclass(frozen=True)
class Outcome:
    """What one run did, as a sweep row shows it. Times in seconds of simulated time;
    fractions in [0, 1]; ``None`` when neither the report nor the engine said.
    ``halted_s`` is the run's time halted (warmup and the end-of-run shutdown left out);
    ``halted_frac`` is the halted share of the post-warmup time (``post_warmup_halted_s`` /
    ``post_warmup_s`` from the report, or ``halted_s`` / ``post_warmup_s`` without it).

    ``source`` says where the facts came from: ``report`` (the report's ``run`` object),
    ``engine`` (the worker's fallback read of the engine), ``none`` (neither: only the
    report's counts). ``excluded`` is ``""`` when the run may be ranked, else the reason."""

    verdict: str
    headline: str
    source: str
    run_s: float | None
    warmup_s: float | None
    post_warmup_s: float | None
    quoting_s: float | None
    quoting_frac: float | None
    halted_s: float | None
    halted_frac: float | None
    kill_switch_trips: int
    first_trip: str
    fills: int | None
    orders_sent: int | None
    excluded: str

    def to_json(self) -> dict[str, Any]:
        """The outcome as JSON-able data (``None`` stays ``null``; no NaN)."""
        return asdict(self)


def _num(x: object) -> float | None:
    """A finite float, or None (missing, not a number, NaN or infinite)."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    v = float(x)
    return v if math.isfinite(v) else None


def _count(x: object) -> int | None:
    v = _num(x)
    return int(v) if v is not None and v >= 0 else None


def _trips(x: object) -> tuple[int, dict[str, Any] | None]:
    """The number of kill-switch trips and the first one as a dict (``{}`` when the report
    gives only a count; ``None`` when there is none). A count is never expanded into that
    many entries: a corrupt report saying ``1e12`` must not exhaust the memory."""
    if isinstance(x, list):
        if not x:
            return 0, None
        t = x[0]
        return len(x), t if isinstance(t, dict) else {"description": str(t)}
    n = _count(x) or 0
    return n, ({} if n else None)


def _describe_trip(trip: Mapping[str, Any]) -> str:
    """``"at 41.2 s: too_many_rejections (gate kill_switch)"`` from what the trip carries."""
    t = _num(trip.get("t_s"))
    why = str(trip.get("reason") or trip.get("description") or "reason not reported")
    gate = trip.get("gate")
    at = f"at {t:,.1f} s: " if t is not None else ""
    return f"{at}{why}" + (f" (gate {gate})" if gate else "")


def engine_facts(
    kill_trips: list[tuple[float | None, str, str, str]], run_s: float, halted_s: float
) -> dict[str, Any]:
    """The fallback facts a worker reads from the engine when the report has no ``run``
    object: each trip as (seconds after the run's first event, gate, reason, description),
    the run's length and its time halted in seconds (the observer's figure, which includes
    the warmup; it is kept for the row but not used to exclude a run)."""
    return {
        "run_s": run_s,
        "halted_s_incl_warmup": halted_s,
        "kill_switch_trips": [
            {"t_s": t, "gate": g, "reason": r, "description": d} for t, g, r, d in kill_trips
        ],
    }


def outcome_of(
    report: Mapping[str, Any],
    engine: Mapping[str, Any] | None = None,
    policy: Policy = Policy(),
    error: str = "",
) -> Outcome:
    """The outcome of one run from its report JSON (``report["run"]`` when present, else
    ``engine``: see :func:`engine_facts`), and whether ``policy`` excludes it."""
    if error:
        return Outcome(
            verdict="failed",
            headline=f"FAILED: {error}",
            source="none",
            run_s=None,
            warmup_s=None,
            post_warmup_s=None,
            quoting_s=None,
            quoting_frac=None,
            halted_s=None,
            halted_frac=None,
            kill_switch_trips=0,
            first_trip="",
            fills=None,
            orders_sent=None,
            excluded=f"failed: {error}",
        )
    run = report.get("run")
    fills = _count(report.get("fills"))
    sent = _count(report.get("orders_sent"))
    if isinstance(run, Mapping):
        source = "report"
        facts: Mapping[str, Any] = run
    elif isinstance(engine, Mapping):
        source, facts = "engine", engine
    else:
        source, facts = "none", {}
    run_s = _num(facts.get("run_s"))
    warmup_s = _num(facts.get("warmup_s"))
    post = _num(facts.get("post_warmup_s"))
    if post is None and run_s is not None and warmup_s is not None:
        post = max(0.0, run_s - warmup_s)
    quoting_s = _num(facts.get("quoting_s"))
    quoting_frac = _num(facts.get("quoting_frac"))
    if quoting_frac is None and quoting_s is not None and post:
        quoting_frac = min(1.0, quoting_s / post)
    halted_s = _num(facts.get("halted_s"))
    # halted time after warmup when the report has it (the warmup is not a halt), else the
    # run's halted time (an upper bound of it)
    halted_post = _num(facts.get("post_warmup_halted_s"))
    if halted_post is None:
        halted_post = halted_s
    halted_frac = (
        min(1.0, max(0.0, halted_post / post)) if halted_post is not None and post else None
    )
    n_trips, first_trip = _trips(facts.get("kill_switch_trips"))
    first = _describe_trip(first_trip) if first_trip is not None else ""
    verdict = str(facts.get("verdict") or "")
    headline = str(facts.get("headline") or "")
    if not verdict:  # derive one from the facts available
        if n_trips:
            verdict = "halted"
        elif quoting_s == 0.0 or (quoting_s is None and sent == 0):
            verdict = "never_quoted"
        elif halted_frac is not None and halted_frac > policy.max_halted_frac:
            verdict = "mostly_halted"
        else:
            verdict = "ok"
    if not headline:
        headline = _headline(verdict, first, n_trips, fills, quoting_frac, source)
    excluded = _exclusion(
        verdict, bool(n_trips), first, quoting_s, quoting_frac, halted_frac, sent, policy
    )
    return Outcome(
        verdict=verdict,
        headline=headline,
        source=source,
        run_s=run_s,
        warmup_s=warmup_s,
        post_warmup_s=post,
        quoting_s=quoting_s,
        quoting_frac=quoting_frac,
        halted_s=halted_s,
        halted_frac=halted_frac,
        kill_switch_trips=n_trips,
        first_trip=first,
        fills=fills,
        orders_sent=sent,
        excluded=excluded,
    )


def _headline(
    verdict: str,
    first: str,
    n_trips: int,
    fills: int | None,
    quoting_frac: float | None,
    source: str,
) -> str:
    """A one-line account for reports that carry no headline of their own."""
    if verdict == "halted":
        more = f" (+{n_trips - 1} more)" if n_trips > 1 else ""
        return f"HALTED by kill switch {first}{more}"
    if verdict == "never_quoted":
        return "NEVER QUOTED: no order was sent"
    if verdict == "mostly_halted":
        return "MOSTLY HALTED"
    parts = [f"{fills} fills" if fills is not None else "fills not reported"]
    if quoting_frac is not None:
        parts.append(f"quoting {100.0 * quoting_frac:.0f}% of post-warmup time")
    elif source != "report":
        parts.append("time quoting not reported")
    return f"{verdict}: " + ", ".join(parts)


def _exclusion(
    verdict: str,
    tripped: bool,
    first: str,
    quoting_s: float | None,
    quoting_frac: float | None,
    halted_frac: float | None,
    sent: int | None,
    policy: Policy,
) -> str:
    """The reason a run may not be ranked, or ``""``. The report's verdict and the facts are
    both checked, so a report saying ``ok`` with a kill-switch trip is still excluded."""
    if tripped or verdict == "halted":
        return f"halted: kill switch tripped {first}".rstrip()
    if verdict == "warmup_only":
        return "warmup used the whole run"
    if verdict == "never_quoted" or quoting_s == 0.0 or sent == 0:
        return "never quoted"
    if halted_frac is not None and halted_frac > policy.max_halted_frac:
        return (
            f"mostly halted: {100.0 * halted_frac:.0f}% of post-warmup time "
            f"(> max_halted_frac {policy.max_halted_frac:g})"
        )
    if verdict == "mostly_halted":
        return "mostly halted (report's verdict)"
    if verdict == "faulted":
        return "faulted: a component raised during the run (its figures are not the strategy's)"
    if quoting_frac is not None and quoting_frac < policy.min_quoting_frac:
        return (
            f"quoted too little: {100.0 * quoting_frac:.0f}% of post-warmup time "
            f"(< min_quoting_frac {policy.min_quoting_frac:g})"
        )
    if verdict not in VERDICTS:
        return f"unknown verdict {verdict!r}"
    return ""
