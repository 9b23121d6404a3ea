"""The run observer: what the engine reports goes to the journal, metrics, logs and plugins."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from mmkit.components import GateDecision, Ladder
from mmkit.core.actions import Action
from mmkit.core.events import OwnFill
from mmkit.runtime.journal import Journal

log = logging.getLogger("mmkit.run")


class RunObserver:
    """Implements :class:`mmkit.engine.EngineObserver` for runners.

    ``hooks`` are the pluggy observer hooks some plugin implements
    (:meth:`mmkit.plugin_manager.PluginHost.observer_hooks`); ``metrics`` is optional.
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
        self.metrics = metrics
        self.run = run
        self.fills = 0
        self.quote_updates = 0
        self.faults: list[tuple[int, str, str]] = []
        self.gate_log: list[tuple[int, str, str]] = []
        self.divergences = 0

    def _hook(self, name: str, **kwargs: Any) -> None:
        hook = self.hooks.get(name)
        if hook is None:
            return
        try:
            hook(run=self.run, **kwargs)
        except Exception as exc:  # an observer plugin must never stop trading
            log.warning("observer hook %s raised %s: %s", name, type(exc).__name__, exc)

    def on_fill(self, fill: OwnFill, now_ns: int) -> None:
        self.fills += 1
        if self.metrics is not None:
            self.metrics.fill(fill)
        self._hook("mmkit_on_fill", fill=fill)

    def on_gate_closed(self, decision: GateDecision, now_ns: int) -> None:
        self.gate_log.append((now_ns, decision.gate, decision.describe()))
        log.warning("gate %s closed: %s", decision.gate, decision.describe())
        if self.journal is not None:
            self.journal.gate(
                now_ns,
                decision.gate,
                "closed",
                decision.reason,
                decision.detail,
                decision.mode.value,
            )
        if self.metrics is not None:
            self.metrics.gate(decision.gate, closed=True)
        self._hook("mmkit_on_gate_closed", decision=decision, now_ns=now_ns)

    def on_gate_opened(self, gate: str, now_ns: int) -> None:
        self.gate_log.append((now_ns, gate, "opened"))
        log.info("gate %s opened", gate)
        if self.journal is not None:
            self.journal.gate(now_ns, gate, "opened")
        if self.metrics is not None:
            self.metrics.gate(gate, closed=False)
        self._hook("mmkit_on_gate_opened", gate=gate, now_ns=now_ns)

    def on_quotes(self, ladder: Ladder, actions: Sequence[Action], now_ns: int) -> None:
        self.quote_updates += 1
        if self.metrics is not None:
            self.metrics.quotes(ladder, actions)
        self._hook("mmkit_on_quote_published", ladder=ladder, now_ns=now_ns)

    def on_fault(self, component: str, message: str, now_ns: int) -> None:
        self.faults.append((now_ns, component, message))
        log.error("fault in %s: %s", component, message)
        if self.journal is not None:
            self.journal.fault(now_ns, component, message)
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
