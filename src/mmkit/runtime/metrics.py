"""Optional Prometheus endpoint (``mmkit trade --metrics-port``)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from mmkit.components import Ladder
from mmkit.core.actions import Action
from mmkit.core.events import OwnFill


class Metrics:
    """Counters and gauges of one run, in a registry of their own."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge

        self.registry = CollectorRegistry()
        r = self.registry
        self.quote_updates = Counter(
            "mmkit_quote_updates", "ladders sent to the executor", registry=r
        )
        self.actions = Counter("mmkit_actions", "order actions sent", ["kind"], registry=r)
        self.fills = Counter("mmkit_fills", "own fills", ["side"], registry=r)
        self.fill_volume = Counter("mmkit_fill_volume_usd", "filled notional", registry=r)
        self.gate_closures = Counter("mmkit_gate_closures", "gate closures", ["gate"], registry=r)
        self.gate_closed = Gauge(
            "mmkit_gate_closed", "1 while a gate is closed", ["gate"], registry=r
        )
        self.faults = Counter(
            "mmkit_faults", "component faults refused by the engine", ["component"], registry=r
        )
        self.divergences = Counter(
            "mmkit_position_divergences", "reconciliation divergences", registry=r
        )
        self.divergence_abs = Gauge(
            "mmkit_position_divergence_abs", "last divergence size", registry=r
        )
        self.values = Gauge(
            "mmkit_value", "estimator / portfolio / executor values", ["name"], registry=r
        )
        self._server: Any = None

    def serve(self, port: int, addr: str = "127.0.0.1", option: str = "--metrics-port") -> None:
        """Serve the metrics on ``addr:port``; a port that cannot be bound is a
        :class:`~mmkit.errors.PortError` naming ``option``."""
        from prometheus_client import start_http_server

        from mmkit.errors import PortError

        try:
            self._server = start_http_server(port, addr=addr, registry=self.registry)
        except OSError as exc:
            raise PortError(option, port, addr, exc) from None

    def close(self) -> None:
        if self._server is not None:
            server, thread = self._server
            server.shutdown()
            thread.join(timeout=2)
            self._server = None

    # -- observer callbacks ---------------------------------------------------------------
    def fill(self, f: OwnFill) -> None:
        self.fills.labels(side=f.side.name.lower()).inc()
        self.fill_volume.inc(f.px * f.sz)

    def gate(self, gate: str, closed: bool) -> None:
        if closed:
            self.gate_closures.labels(gate=gate).inc()
        self.gate_closed.labels(gate=gate).set(1.0 if closed else 0.0)

    def quotes(self, ladder: Ladder, actions: Sequence[Action]) -> None:
        self.quote_updates.inc()
        for a in actions:
            self.actions.labels(kind=type(a).__name__.lower()).inc()

    def fault(self, component: str) -> None:
        self.faults.labels(component=component).inc()

    def divergence(self, delta: float) -> None:
        self.divergences.inc()
        self.divergence_abs.set(abs(delta))

    def set_values(self, values: Mapping[str, float]) -> None:
        for k, v in values.items():
            if isinstance(v, int | float) and math.isfinite(v):
                self.values.labels(name=k).set(float(v))
