"""Position reconciliation (seed §4-5): the exchange is authoritative.

A sync (``SyncState``: position and open orders) is requested on a timer (10 s), after an
order rejection, after a fill for an order we do not know (oid-0 artefacts ignored), and
when the position moved more than 5 % of max position since the last sync; never more
often than once per 2 s. Each answer is compared with our own running estimate (last
snapshot + our fills since): the divergence's magnitude and frequency are counted, logged
and exposed for metrics.

Snapshots race fills (seed §5): a REST snapshot taken at venue time ``T`` holds exactly the
fills with venue time ``<= T``; fills after ``T`` are not in it, and fills before ``T`` may
still be in flight on the WebSocket. :class:`PositionReconciler` (used by the engine on its
portfolio) therefore compares the venue position with ``local - sum(fills received with
ts > T)``, adopts a remaining divergence only when two successive snapshots both show it,
books an adopted difference as a reconciliation adjustment at the venue's entry price, and
adopts the venue position *with its entry price* at start-up.
"""

from __future__ import annotations

import bisect
import logging
import math
from dataclasses import dataclass

from mmkit.core.events import OwnFill, PositionSnapshot
from mmkit.core.portfolio import Portfolio, fill_problem
from mmkit.core.types import NS_PER_S

log = logging.getLogger("mmkit.execution")

TIMER = "timer"
REJECTION = "rejection"
UNMATCHED_FILL = "unmatched_fill"
POSITION_CHANGE = "position_change"
STARTUP = "startup"
#: a snapshot disagreed with our fills: confirm (or clear) it with another one soon
DIVERGENCE = "divergence"

#: Default minimum age (s of venue time) of a divergence before it may be adopted.
#:
#: A snapshot at venue time ``T1`` that disagrees with our fills may simply be missing a
#: fill ``ts <= T1`` still on its way over the WebSocket. That fill is in flight for at most
#: the user-event delay ``d``; a confirming snapshot taken at ``T2 >= T1 + age`` arrives
#: after it whenever ``d < age`` (plus the REST reply's own delay), so such a fill can never
#: be adopted. Why 5 s: Hyperliquid pushes ``userFills`` within a block or two (well under
#: 1 s); the emulator's ``delay_updates`` fault defaults to 0.5 s and the soak uses 1 s; the
#: fastest two snapshots come 2 s apart (``sync_min_interval_s``), which is the delay round 1
#: could still adopt. 5 s is 2.5 snapshot gaps and several times any plausible delay of a
#: healthy stream, while a real divergence (a liquidation, a fill we never got) is still
#: adopted well within the 10 s sync timer's next tick. A stream late by more than this is a
#: stalled connection: the adoption is then replaced exactly by the fill when it comes.
CONFIRM_AGE_S = 5.0


class PositionSync:
    def __init__(
        self,
        *,
        interval_s: float = 10.0,
        min_interval_s: float = 2.0,
        change_frac: float = 0.05,
        timeout_s: float = 5.0,
        confirm_age_s: float = CONFIRM_AGE_S,
    ) -> None:
        self.interval_ns = int(interval_s * NS_PER_S)
        #: a divergence younger than this (venue ns since first seen) is not yet confirmed
        self.confirm_age_ns = int(confirm_age_s * NS_PER_S)
        self.min_interval_ns = int(min_interval_s * NS_PER_S)
        self.timeout_ns = int(timeout_s * NS_PER_S)
        self.change_frac = change_frac
        self.last_sent_ns = -(1 << 62)
        self.last_done_ns = -1
        #: outstanding requests, oldest first: (request id, reason, sent at)
        self.in_flight: list[tuple[int, str, int]] = []
        self._pending: set[str] = set()
        self.position_at_sync: float | None = None
        self.estimate: float | None = None
        self.syncs = 0
        self.by_reason: dict[str, int] = {}
        self.divergences = 0
        self.divergence_abs_total = 0.0
        self.divergence_max = 0.0
        self.last_divergence = 0.0
        #: snapshots that disagreed with our fills while the difference was younger than
        #: ``confirm_age_s`` (possibly fills in flight)
        self.unconfirmed = 0
        #: divergences that outlived ``confirm_age_s`` unexplained (logged as warnings)
        self.confirmed = 0
        #: fills since the last snapshot that carry a venue time: (venue ns, signed size)
        self._recent: list[tuple[int, float]] = []
        #: the divergence being aged: (venue ns first seen, part not yet explained by a late
        #: fill, base units); None when the venue agrees with our fills
        self._open_div: tuple[int, float] | None = None
        #: venue time (ns) of the newest snapshot the estimate is based on
        self._venue_ts = -(1 << 62)

    def request(self, reason: str) -> None:
        """Ask for a sync (it goes out when the minimum interval allows)."""
        self._pending.add(reason)

    def on_fill(self, signed_sz: float, ts: int | None = None) -> None:
        """One of our fills (signed base units); ``ts`` is its venue time (ns) when known,
        so a later snapshot taken before it is not blamed for missing it."""
        if ts is not None and ts <= self._venue_ts:
            # the last snapshot (our estimate's base) already holds it; one no later than a
            # divergence's first snapshot explains (part of) that divergence: in flight
            d = self._open_div
            if d is not None and ts <= d[0] and math.isfinite(signed_sz):
                self._open_div = (d[0], d[1] - signed_sz)
            return
        if self.estimate is not None and math.isfinite(signed_sz):
            self.estimate += signed_sz
            if ts is not None:
                self._recent.append((ts, signed_sz))

    def due(self, now_ns: int, position: float, max_position: float) -> str | None:
        """The reason of a sync that should go out now, or None."""
        if now_ns - self.last_sent_ns < self.min_interval_ns:
            return None
        if self.in_flight:
            self.in_flight = [f for f in self.in_flight if now_ns - f[2] < self.timeout_ns]
            if self.in_flight:
                return None
        if self._pending:
            return sorted(self._pending)[0]
        if now_ns - self.last_sent_ns >= self.interval_ns:
            return TIMER
        if (
            self.position_at_sync is not None
            and abs(position - self.position_at_sync) > self.change_frac * max_position
        ):
            return POSITION_CHANGE
        return None

    def sent(self, req: int, reason: str, now_ns: int) -> None:
        self.in_flight.append((req, reason, now_ns))
        self.last_sent_ns = now_ns
        self._pending.clear()
        self.by_reason[reason] = self.by_reason.get(reason, 0) + 1

    def failed(self, req: int) -> None:
        self.in_flight = [f for f in self.in_flight if f[0] != req]

    def answered(
        self, position: float, now_ns: int, venue_ts: int | None = None
    ) -> tuple[int, str] | None:
        """Record a snapshot; returns the (request id, reason) it answers, if any.

        With ``venue_ts`` (the venue time of the state, ns) the snapshot is compared with our
        estimate minus the fills received with a later venue time (they cannot be in it). A
        divergence seen once asks for another sync soon, and again at each snapshot while it
        is younger than ``confirm_age_s`` of venue time; only one that outlived that age is
        logged as a warning (the reconciler adopts on the same rule).
        """
        answered = self.in_flight.pop(0)[:2] if self.in_flight else None
        later = 0.0
        if venue_ts is not None:
            if venue_ts <= self._venue_ts:  # older than the base: compares nothing
                self.last_done_ns = now_ns
                self.syncs += 1
                return answered
            self._venue_ts = venue_ts
            self._recent = [f for f in self._recent if f[0] > venue_ts]
            later = math.fsum(sz for _, sz in self._recent)
        else:
            self._recent = []
        if self.estimate is not None:
            div = position - (self.estimate - later)
            self._age_divergence(div, position, venue_ts)
        self.estimate = position + later
        self.position_at_sync = position + later
        self.last_done_ns = now_ns
        self.syncs += 1
        return answered

    def _age_divergence(self, div: float, position: float, venue_ts: int | None) -> None:
        """Count a snapshot's divergence ``div`` (base units) and age it.

        The divergence being aged is the sum of the snapshots' differences less the late
        fills that explained them (fills no later than its first snapshot). While it is
        younger than ``confirm_age_s`` of venue time another sync is asked for soon; one
        that outlives that age unexplained is confirmed (a warning). Without a venue time
        the next diverging snapshot confirms.
        """
        if abs(div) > 1e-12:
            self.divergences += 1
            self.divergence_abs_total += abs(div)
            self.divergence_max = max(self.divergence_max, abs(div))
            self.last_divergence = div
        d = self._open_div
        first = d is None
        if d is None:
            if abs(div) <= 1e-12:
                return
            d = (venue_ts if venue_ts is not None else -(1 << 62), 0.0)
        residual = d[1] + div
        if abs(residual) <= 1e-12:
            self._open_div = None  # explained by fills that were in flight
            return
        young = venue_ts is not None and venue_ts - d[0] < self.confirm_age_ns
        if first or young:
            self._open_div = (d[0], residual)
            self.unconfirmed += 1
            self.request(DIVERGENCE)  # a later snapshot confirms or clears it
            return
        self._open_div = None
        self.confirmed += 1
        log.warning(
            "position divergence confirmed: venue %.10g differs from our fills by %+.10g (#%d)",
            position,
            residual,
            self.confirmed,
        )

    def status(self) -> dict[str, float]:
        return {
            "syncs": float(self.syncs),
            "divergences": float(self.divergences),
            "divergence_max": self.divergence_max,
            "divergence_abs_total": self.divergence_abs_total,
            "last_divergence": self.last_divergence,
            "divergences_unconfirmed": float(self.unconfirmed),
            "divergences_confirmed": float(self.confirmed),
        }


# --------------------------------------------------------------------------------------
# sequencing snapshots against fills (the engine's side)
# --------------------------------------------------------------------------------------

#: what became of a fill (:meth:`PositionReconciler.on_fill`)
APPLIED = "applied"
DUPLICATE = "duplicate"
IN_SNAPSHOT = "in_snapshot"
REPLACED = "replaced"
#: what became of a snapshot (:meth:`PositionReconciler.on_snapshot`)
OPENED = "opened"
CONSISTENT = "consistent"
PENDING = "pending"
ADOPTED = "adopted"
STALE = "stale"
_VERDICTS = (APPLIED, DUPLICATE, IN_SNAPSHOT, REPLACED, OPENED, CONSISTENT, PENDING, ADOPTED, STALE)


@dataclass(frozen=True, slots=True)
class SnapshotOutcome:
    """The reconciler's verdict on one snapshot (positions in base units)."""

    kind: str
    #: what the venue should hold if it agreed with our fills: local - fills after its time
    expected: float
    venue: float
    #: venue - expected (0 when within half a lot)
    diff: float = 0.0


class PositionReconciler:
    """Sequences the venue's position snapshots against our fills, by venue time.

    A snapshot at venue time ``T`` holds every fill with ``ts <= T`` and none after. So:

    * **expected** = local position - sum(fills applied with ``ts > T``); a difference of at
      most ``tolerance`` (half a lot) is float noise, snapped away without booking.
    * A larger difference may be fills still in flight: it is remembered (with the venue
      time ``T1`` of the snapshot that first showed it), and adopted only when a newer
      snapshot at ``T2 >= T1 + min_age_s`` diverges the same way *and* the ``T1``
      difference is still there counting every fill received since. Two snapshots alone
      are not enough: a fill delayed less than ``min_age_s`` (default
      :data:`CONFIRM_AGE_S`) has always arrived by then, so it is never adopted. The
      adoption is a reconciliation adjustment (:meth:`Portfolio.adjust`) at the venue's
      entry price (the mark when the venue gives none), never a trading loss.
    * A snapshot no newer than one already processed is stale and changes nothing (it must
      not roll the position back).
    * The first snapshot (start-up) opens the book at the venue's position and entry price;
      fills received before it are re-applied only if newer than it.
    * A fill with ``ts`` no later than an adopted snapshot is already in it: never applied on
      top. One the opening snapshot holds is journaled by the caller and otherwise ignored
      (equity starts at the venue's unrealized PnL); one a confirmed divergence stood for
      *replaces* its part of the adjustment (position unchanged, cash corrected from the
      adjustment's price to the fill's price and fee), so once every fill has arrived the
      cash is exactly that of the real fills.
    * Fills repeated with the same trade id (``tid >= 0``) are applied once.

    Venue times are integer ns; ``horizon_ns`` bounds the memory kept for the sequencing
    (fills and trade ids older than the newest fill by more than that are forgotten, and a
    snapshot that old is stale).
    """

    def __init__(
        self,
        portfolio: Portfolio,
        *,
        tolerance: float,
        horizon_s: float = 600.0,
        min_age_s: float = CONFIRM_AGE_S,
    ) -> None:
        if not (math.isfinite(tolerance) and tolerance >= 0):
            raise ValueError(f"PositionReconciler tolerance must be finite and >= 0: {tolerance!r}")
        if not (math.isfinite(min_age_s) and 0 <= min_age_s < horizon_s):
            raise ValueError(
                f"PositionReconciler min_age_s must be finite, >= 0 and below the horizon "
                f"({horizon_s} s): {min_age_s!r}"
            )
        self.pf = portfolio
        self.tolerance = tolerance
        #: venue ns a divergence must persist (first seen -> confirming snapshot) to be adopted
        self.min_age_ns = int(min_age_s * NS_PER_S)
        self.horizon_ns = int(horizon_s * NS_PER_S)
        self.opened = portfolio.position_known
        #: fills received before the opening snapshot (re-applied after it when newer)
        self._early: list[OwnFill] = []
        #: applied fills not yet covered by a processed snapshot: (venue ns, signed size)
        self._window: list[tuple[int, float]] = []
        #: trade id -> venue ns, for de-duplication
        self._tids: dict[int, int] = {}
        self.newest_fill_ns = -(1 << 62)
        #: venue time of the newest snapshot processed, and of the newest adopted one
        self.snap_ts = -(1 << 62)
        self.adopted_ts = -(1 << 62)
        #: venue time of the opening snapshot: fills no later than it are in the opening
        self.open_ts = -(1 << 62)
        #: adopted divergences, oldest first: (venue ns, price booked at)
        self._adoptions: list[tuple[int, float]] = []
        #: adjusted size not yet explained by a late fill (signed base units)
        self.replaceable = 0.0
        #: a snapshot that diverged once: (its venue ns, its venue position)
        self.pending: tuple[int, float] | None = None
        #: divergences seen (each counted once, however many snapshots showed it); those not
        #: adopted were fills in flight (or cleared by the venue)
        self.divergences_seen = 0
        #: the venue's account value (USD) in the opening snapshot (NaN: not given / not yet)
        self.open_account_value = math.nan
        self.counts: dict[str, int] = dict.fromkeys(_VERDICTS, 0)

    # -- fills -----------------------------------------------------------------------------
    def on_fill(self, f: OwnFill) -> str:
        """Book a fill where it belongs; returns APPLIED, DUPLICATE, IN_SNAPSHOT or REPLACED.

        Raises ``ValueError`` (nothing booked) for a fill with a non-finite or non-positive
        price or size.
        """
        problem = fill_problem(f)
        if problem is not None:
            raise ValueError(problem)
        if f.tid >= 0:
            if f.tid in self._tids:
                return self._count(DUPLICATE)
            self._tids[f.tid] = f.ts
        signed = float(f.side) * f.sz
        pf = self.pf
        if not self.opened:
            self._early.append(f)
        elif f.ts <= self.open_ts:
            return self._count(IN_SNAPSHOT)  # the opening position holds it
        elif f.ts <= self.adopted_ts:
            # one of the fills an adopted divergence stood for (the first adoption at or
            # after its time): it replaces that part of the adjustment, position unchanged,
            # cash moved from the adjustment's price to the fill's price and fee
            i = bisect.bisect_left(self._adoptions, (f.ts, -math.inf))
            px = self._adoptions[i][1] if i < len(self._adoptions) else math.nan
            pf.apply_fill(f)
            pf.fill_position -= signed  # no position change to explain: the adjustment did
            pf.adjust(-signed, px, count=False)
            self.replaceable -= signed
            return self._count(REPLACED)
        pf.apply_fill(f)
        self._window.append((f.ts, signed))
        if f.ts > self.newest_fill_ns:
            self.newest_fill_ns = f.ts
        if len(self._window) > 4096 or len(self._tids) > 65536:
            self._forget()
        return self._count(APPLIED)

    def _forget(self) -> None:
        """Drop sequencing memory older than the horizon (no snapshot can be that old)."""
        cut = self.newest_fill_ns - self.horizon_ns
        self._window = [w for w in self._window if w[0] > cut]
        self._tids = {t: ts for t, ts in self._tids.items() if ts > cut}
        self.snap_ts = max(self.snap_ts, cut)

    # -- snapshots -------------------------------------------------------------------------
    def expected(self, venue_ts: int) -> float:
        """Local position minus the fills applied after ``venue_ts`` (base units)."""
        later = math.fsum(sz for ts, sz in self._window if ts > venue_ts)
        return self.pf.position - later

    def on_snapshot(self, snap: PositionSnapshot, mark: float) -> SnapshotOutcome:
        """Judge one snapshot (finite ``snap.position`` required); ``mark`` prices an
        adjustment when the venue gives no entry price (NaN: priced at the first mark).

        A divergence first seen at ``T1`` is re-judged at each newer snapshot ``T2`` with the
        fills received since. It is adopted only if ``T2 - T1 >= min_age_s``, it is still
        there (a fill merely in flight at ``T1`` has arrived by then) *and* ``T2`` diverges
        the same way; younger, it stays pending at ``T1``. The adoption books the whole
        ``T2`` difference, so the book then holds every fill with ``ts <= T2``.
        """
        venue = snap.position
        entry = snap.entry_px if math.isfinite(snap.entry_px) and snap.entry_px > 0 else mark
        if not self.opened:
            return self._open(snap, entry)
        t = snap.ts
        if t <= self.snap_ts or t <= self.adopted_ts:
            self._count(STALE)
            return SnapshotOutcome(STALE, self.expected(t), venue)
        seen = self.pending
        # the first snapshot's divergence, re-judged with every fill received since
        still = 0.0 if seen is None else seen[1] - self.expected(seen[0])
        # keep the fills after a pending divergence's time: it is re-judged against them
        keep = t if seen is None else min(t, seen[0])
        self._window = [w for w in self._window if w[0] > keep]
        pf = self.pf
        expected = self.expected(t)
        later = pf.position - expected
        self.snap_ts = t
        diff = venue - expected
        if abs(diff) <= self.tolerance:
            self.pending = None
            if diff != 0.0:  # float noise of summed fills (< 1e-12 USD): set, not booked
                pf.position = venue + later
                if pf.position == 0.0:
                    pf.avg_entry = 0.0
            return SnapshotOutcome(self._count(CONSISTENT), expected, venue)
        if seen is None or abs(still) <= self.tolerance or (still > 0) != (diff > 0):
            self.pending = (t, venue)  # a new divergence: its age counts from here
            self.divergences_seen += 1
            return SnapshotOutcome(self._count(PENDING), expected, venue, diff)
        if t - seen[0] < self.min_age_ns:
            # the same divergence, but too young: a fill of ts <= T1 may still be on its way
            return SnapshotOutcome(self._count(PENDING), expected, venue, diff)
        # the same divergence in two successive snapshots: the venue is authoritative
        self.pending = None
        pf.divergence_count += 1
        pf.last_divergence = diff
        pf.adjust(diff, entry)
        self.adopted_ts = t
        self._adoptions.append((t, entry if math.isfinite(entry) else math.nan))
        self.replaceable += diff
        log.warning(
            "position divergence confirmed (first seen %.3f s of venue time earlier): local "
            "%.10g, venue %.10g at venue time %d; adopted %+.10g as a reconciliation "
            "adjustment at %.10g",
            (t - seen[0]) / NS_PER_S,
            expected,
            venue,
            t,
            diff,
            entry,
        )
        return SnapshotOutcome(self._count(ADOPTED), expected, venue, diff)

    def _open(self, snap: PositionSnapshot, entry: float) -> SnapshotOutcome:
        """Start-up: the venue's position at its entry price, then our newer fills."""
        t = snap.ts
        early = sorted(self._early, key=lambda f: (f.ts, f.tid))
        self._early = []
        local = self.pf.position
        self.pf.open_at(snap.position, entry)
        self.opened = True
        self.snap_ts = self.adopted_ts = self.open_ts = t
        self.open_account_value = snap.account_value
        self._window = []
        for f in early:
            if f.ts <= t:
                self._count(IN_SNAPSHOT)
                continue
            signed = float(f.side) * f.sz
            self.pf.apply_fill(f)
            self._window.append((f.ts, signed))
            self.newest_fill_ns = max(self.newest_fill_ns, f.ts)
        return SnapshotOutcome(self._count(OPENED), local, snap.position)

    def _count(self, what: str) -> str:
        self.counts[what] += 1
        return what

    def status(self) -> dict[str, float]:
        """Counters for metrics and the summary (fills and snapshots by verdict)."""
        out = {f"reconcile_{k}": float(v) for k, v in self.counts.items()}
        out["reconcile_pending"] = 0.0 if self.pending is None else 1.0
        out["divergences_seen"] = float(self.divergences_seen)
        return out
