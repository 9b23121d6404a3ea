"""The run observer: what the engine reports goes to the journal, metrics, logs and plugins.

It also keeps the run's gate timeline in memory: every closure and reopening is logged once
per transition (closings as warnings, reopenings with how long the gate was closed), kill
switch trips are kept with their reason, and the time spent halted (any gate closed in
``halt`` mode) is accumulated, for the summary's first lines and the exit status.

For the run's report (:mod:`mmkit.reports.summary`) it keeps, in memory: every fill with the
engine time it was applied at, every gate transition as a
:class:`~mmkit.runtime.gate_timeline.GateRow`, and samples of (time, mid, position, equity,
our best bid and ask acknowledged resting) taken by :meth:`RunObserver.on_snapshot`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mmkit.components import GateDecision, GateMode, Ladder
from mmkit.core.actions import Action
from mmkit.core.events import OwnFill
from mmkit.core.resting import best_resting
from mmkit.core.types import NS_PER_S
from mmkit.hookspecs import OBSERVER_HOOKS
from mmkit.runtime.gate_timeline import GateRow
from mmkit.runtime.journal import Journal

if TYPE_CHECKING:
    from mmkit.runtime.order_quotes import Quote

log = logging.getLogger("mmkit.run")


def is_kill_switch(decision: GateDecision) -> bool:
    """Whether a closure is a kill-switch trip: an emergency decision of a gate (the kill
    switch, or any plugin gate that closes as an emergency). The engine's own shutdown on
    exit (gate ``engine``) is an emergency halt too, but not a trip."""
    return decision.emergency and decision.gate != "engine"


@dataclass(frozen=True)
class KillTrip:
    """One kill-switch trip: when (engine ns), which gate, its reason code and description."""

    ts: int
    gate: str
    reason: str
    description: str


@dataclass(frozen=True)
class HaltReport:
    """Where the run's time went, in seconds (from the first to the last event)."""

    start_ns: int  # the run's first event (engine ns; -1 when there was none)
    run_s: float
    halted_s: float  # any gate closed in halt mode (warmup included)
    closed_s: dict[str, float]  # per gate: total seconds closed, any mode
    kill_trips: list[KillTrip]


class FaultLogLimiter:
    """Which log lines a run's faults make: a component that raises on every quoting cycle
    (ten a second) must not bury the log under thousands of the same line, and a message
    that changes every time (a value in it) must not either. Per component and per
    ``window_ns`` of engine time, its first ``max_lines`` new messages are logged in full;
    the faults after them are counted, and the component's next fault after the window
    says how many there were and the latest message. At most ``max_lines + 1`` lines per
    component and window, whatever the faults; the run's summary lists every distinct
    message with its count, and the journal keeps every fault."""

    def __init__(self, window_ns: int = 60 * NS_PER_S, max_lines: int = 10) -> None:
        self.window_ns = window_ns
        self.max_lines = max_lines
        #: component -> [window start ns, lines logged in it, faults not logged, latest
        #: message not logged]
        self._state: dict[str, list[Any]] = {}
        #: component -> its messages already logged (at most ``MAX_REMEMBERED`` kept)
        self._seen: dict[str, set[str]] = {}

    #: distinct messages remembered per component (beyond: treated as new, still limited)
    MAX_REMEMBERED = 1000

    def lines(self, component: str, message: str, now_ns: int) -> list[str]:
        """The log lines for one more fault of ``component`` at engine time ``now_ns``."""
        st = self._state.get(component)
        out: list[str] = []
        if st is None:
            st = self._state[component] = [now_ns, 0, 0, ""]
        elif now_ns - st[0] >= self.window_ns:
            if st[2]:
                out.append(
                    f"fault in {component}: {st[2]:,} more fault(s) in "
                    f"{(now_ns - st[0]) / NS_PER_S:.0f} s not logged one by one "
                    f"(latest: {st[3]}; the run's summary counts each message)"
                )
            st[:] = [now_ns, 0, 0, ""]
        seen = self._seen.setdefault(component, set())
        if message not in seen and st[1] < self.max_lines:
            out.append(f"fault in {component}: {message}")
            st[1] += 1
            if len(seen) < self.MAX_REMEMBERED:
                seen.add(message)
        else:
            st[2] += 1
            st[3] = message
        return out


class RunObserver:
    """Implements :class:`mmkit.engine.EngineObserver` for runners.

    ``hooks`` are the pluggy observer hooks some plugin implements
    (:meth:`mmkit.plugin_manager.PluginHost.observer_hooks`), keyed by their names in
    :data:`mmkit.hookspecs.OBSERVER_HOOKS`; each ``on_*`` method below calls the hook of
    the same moment (``on_quotes`` -> ``mmkit_on_quote_published``, the others
    ``on_X`` -> ``mmkit_on_X``), and a name that is not a spec is refused here.
    ``metrics`` is optional.
    """

    def __init__(
        self,
        journal: Journal | None,
        hooks: Mapping[str, Any] | None = None,
        metrics: Any | None = None,
        run: Any = None,
    ) -> None:
        self.journal = journal
        self.hooks = dict(hooks or {})
        unknown = sorted(set(self.hooks) - set(OBSERVER_HOOKS))
        if unknown:
            raise ValueError(
                f"unknown observer hook(s) {', '.join(unknown)}; the observer hooks are "
                f"{', '.join(OBSERVER_HOOKS)} (mmkit.hookspecs)"
            )
        self.metrics = metrics
        self.run = run
        self.fills = 0
        self.quote_updates = 0
        self.faults: list[tuple[int, str, str]] = []
        self._fault_lines = FaultLogLimiter()
        self.gate_log: list[tuple[int, str, str]] = []
        self.divergences = 0
        #: gate -> (ns the current closure began, its latest decision)
        self.closed: dict[str, tuple[int, GateDecision]] = {}
        #: gate -> ns closed in finished closures
        self.closed_ns: dict[str, int] = {}
        self.kill_trips: list[KillTrip] = []
        self.halted_ns = 0  # in finished halts
        self._halt_since = -1  # ns the current halt began, -1 while not halted
        #: every fill applied, and the engine time (ns) it was applied at
        self.fill_log: list[OwnFill] = []
        self.fill_recv_ns: list[int] = []
        #: every gate transition, as the journal's gate_events rows would hold it
        self.gate_rows: list[GateRow] = []
        #: engine ns of the end-of-run shutdown (gate "engine", reason "Shutdown"), -1 before
        self.shutdown_ns = -1
        #: on_snapshot samples: engine ns, mid, position, equity (USD), our best bid / ask
        #: resting (NaN: none on that side)
        self.samples: list[tuple[int, float, float, float, float, float]] = []
        #: the venue's order updates as the journal keeps them (time, oid, side, resting,
        #: price), in arrival order: the summary's quoting time comes from them, as
        #: ``mmkit journal show``'s does (samples miss what happens between two of them)
        self.order_quotes: list[Quote] = []

    def _hook(self, name: str, **kwargs: Any) -> None:
        hook = self.hooks.get(name)
        if hook is None:
            return
        try:
            hook(run=self.run, **kwargs)
        except Exception as exc:  # an observer plugin must never stop trading
            log.warning("observer hook %s raised %s: %s", name, type(exc).__name__, exc)

    def on_snapshot(self, engine: Any, now_ns: int) -> None:
        """Sample the run for its report (the session calls this once per snapshot period).
        The resting bid / ask are the executor's orders the venue acknowledged
        (``executor.open_orders()``; NaN when it cannot tell)."""
        mid = float(engine.market.mid)
        pf = engine.portfolio
        opens = getattr(engine.executor, "open_orders", None)
        try:
            resting = list(opens()) if callable(opens) else []
        except Exception as exc:  # a report sample must never stop trading
            log.debug("report sample: open_orders raised %s: %s", type(exc).__name__, exc)
            resting = []
        bid, ask = best_resting(resting)
        eq = float(pf.equity(mid)) if math.isfinite(mid) else math.nan
        self.samples.append((now_ns, mid, float(pf.position), eq, bid, ask))

    def engine_clock_fills(self) -> list[OwnFill]:
        """The fills stamped (``ts``) with the engine time they were applied at, the clock
        of the samples. A venue's own ``ts`` may be on another clock: replayed captures
        stamp trades with the exchange's time, which can run ahead of the recorder's clock
        the engine runs on (1.27 s on the Binance USD-M captures)."""
        return [
            dataclasses.replace(f, ts=t)
            for f, t in zip(self.fill_log, self.fill_recv_ns, strict=True)
        ]

    def on_fill(self, fill: OwnFill, now_ns: int) -> None:
        self.fills += 1
        self.fill_log.append(fill)
        self.fill_recv_ns.append(now_ns)
        if self.metrics is not None:
            self.metrics.fill(fill)
        self._hook("mmkit_on_fill", fill=fill)

    def on_gate_closed(self, decision: GateDecision, now_ns: int) -> None:
        """A gate closed, or a closed gate's reason changed (one call per transition)."""
        gate = decision.gate
        self.gate_log.append((now_ns, gate, decision.describe()))
        self.gate_rows.append(
            GateRow(
                ts=now_ns,
                gate=gate,
                state="closed",
                reason=decision.reason,
                detail=decision.describe(),
                mode=decision.mode.value,
                emergency=decision.emergency,
            )
        )
        if gate == "engine" and decision.reason == "Shutdown" and self.shutdown_ns < 0:
            self.shutdown_ns = now_ns
        since = self.closed[gate][0] if gate in self.closed else now_ns
        self.closed[gate] = (since, decision)
        self._account_halt(now_ns)
        if is_kill_switch(decision):
            self.kill_trips.append(KillTrip(now_ns, gate, decision.reason, decision.describe()))
            log.error("KILL SWITCH TRIPPED (gate %s): %s", gate, decision.describe())
        else:
            log.warning("gate %s closed: %s", gate, decision.describe())
        if self.journal is not None:
            self.journal.gate(
                now_ns,
                gate,
                "closed",
                decision.reason,
                decision.detail,
                decision.mode.value,
                emergency=decision.emergency,
            )
        if self.metrics is not None:
            self.metrics.gate(decision.gate, closed=True)
        self._hook("mmkit_on_gate_closed", decision=decision, now_ns=now_ns)

    def on_gate_opened(self, gate: str, now_ns: int) -> None:
        """A closed gate reopened: logged (at warning level, like the closing, so the console
        shows both) with how long it was closed."""
        self.gate_log.append((now_ns, gate, "opened"))
        self.gate_rows.append(GateRow(ts=now_ns, gate=gate, state="opened"))
        episode = self.closed.pop(gate, None)
        if episode is None:
            log.warning("gate %s reopened", gate)
        else:
            since, decision = episode
            dur = max(0, now_ns - since)
            self.closed_ns[gate] = self.closed_ns.get(gate, 0) + dur
            log.warning(
                "gate %s reopened after %.1f s (was: %s)", gate, dur / NS_PER_S, decision.describe()
            )
        self._account_halt(now_ns)
        if self.journal is not None:
            self.journal.gate(now_ns, gate, "opened")
        if self.metrics is not None:
            self.metrics.gate(gate, closed=False)
        self._hook("mmkit_on_gate_opened", gate=gate, now_ns=now_ns)

    def _account_halt(self, now_ns: int) -> None:
        """Start or end the current halt after a transition (halted: any gate closed in
        ``halt`` mode)."""
        halted = any(d.mode is GateMode.HALT for _t, d in self.closed.values())
        if halted and self._halt_since < 0:
            self._halt_since = now_ns
        elif not halted and self._halt_since >= 0:
            self.halted_ns += max(0, now_ns - self._halt_since)
            self._halt_since = -1

    def halt_report(self, start_ns: int, end_ns: int) -> HaltReport:
        """Seconds halted and closed per gate from ``start_ns`` to ``end_ns`` (closures still
        open count up to ``end_ns``), and the kill-switch trips."""
        halted = self.halted_ns
        if self._halt_since >= 0:
            halted += max(0, end_ns - self._halt_since)
        closed = dict(self.closed_ns)
        for gate, (since, _d) in self.closed.items():
            closed[gate] = closed.get(gate, 0) + max(0, end_ns - since)
        return HaltReport(
            start_ns=start_ns,
            run_s=max(0, end_ns - start_ns) / NS_PER_S if start_ns >= 0 else 0.0,
            halted_s=halted / NS_PER_S,
            closed_s={g: ns / NS_PER_S for g, ns in closed.items()},
            kill_trips=list(self.kill_trips),
        )

    def on_quotes(self, ladder: Ladder, actions: Sequence[Action], now_ns: int) -> None:
        self.quote_updates += 1
        if self.metrics is not None:
            self.metrics.quotes(ladder, actions)
        self._hook("mmkit_on_quote_published", ladder=ladder, now_ns=now_ns)

    def on_fault(self, component: str, message: str, now_ns: int) -> None:
        """A fault proper: a component raised, or produced something the engine refused.
        Every one is recorded (journal, metrics, hooks); the log gets each new message of a
        component and, for a fault that repeats every cycle, a line a minute with how many
        there were (:class:`FaultLogLimiter`)."""
        for line in self._fault_lines.lines(component, message, now_ns):
            log.error("%s", line)
        self._record_fault(component, message, now_ns, "fault")

    def on_rejected(self, component: str, message: str, now_ns: int) -> None:
        """The first event of a kind a component could not use (bad or incomplete market
        data, not a bug: see :mod:`mmkit.faults`); recorded as faults are (journal, metrics,
        ``mmkit_on_fault``), logged as a warning."""
        log.warning("%s rejected input: %s", component, message)
        self._record_fault(component, message, now_ns, "rejected")

    def _record_fault(self, component: str, message: str, now_ns: int, kind: str) -> None:
        self.faults.append((now_ns, component, message))
        if self.journal is not None:
            self.journal.fault(now_ns, component, message, kind)
        if self.metrics is not None:
            self.metrics.fault(component)
        self._hook("mmkit_on_fault", component=component, message=message, now_ns=now_ns)

    def on_divergence(self, local: float, venue: float, now_ns: int) -> None:
        self.divergences += 1
        log.warning(
            "position divergence: local %.8g, venue %.8g (venue is authoritative)", local, venue
        )
        if self.journal is not None:
            self.journal.divergence(now_ns, local, venue)
        if self.metrics is not None:
            self.metrics.divergence(venue - local)
        self._hook("mmkit_on_divergence", local=local, venue=venue, now_ns=now_ns)
