"""The live terminal dashboard of ``mmkit trade`` (rich), refreshed a few times a second."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from mmkit.core.types import NS_PER_S
from mmkit.runtime.session import Session
from mmkit.runtime.status import session_status


def _n(x: Any, digits: int = 2) -> str:
    if isinstance(x, float) and not math.isfinite(x):
        return "-"
    if isinstance(x, float):
        return f"{x:,.{digits}f}"
    return str(x)


def render(
    status: dict[str, Any],
    sim_elapsed_s: float,
    title: str,
    extra: Mapping[str, str] | None = None,
) -> Group:
    """The dashboard's panels; ``extra`` adds a "live" panel (the dead-man's switch, the
    order lanes) in live mode."""
    head = Table.grid(padding=(0, 2))
    head.add_row(
        "sim time",
        f"{sim_elapsed_s:,.1f} s",
        "mid",
        _n(status["mid"]),
        "bid/ask",
        f"{_n(status['best_bid'])} / {_n(status['best_ask'])}",
    )
    head.add_row(
        "position",
        _n(status["position"], 6),
        "realized",
        _n(status["realized"], 4),
        "unrealized",
        _n(status["unrealized"], 4),
    )
    head.add_row(
        "fees",
        _n(status["fees"], 4),
        "fills",
        str(status["fills"]),
        "max drawdown",
        _n(status["max_drawdown"], 4),
    )
    est = Table("estimate", "value", "confidence", box=None)
    est.add_row("kappa", _n(status["kappa"], 1), _n(status["kappa_confidence"], 3))
    est.add_row(
        "sigma",
        f"{status['sigma']:.3e}" if math.isfinite(status["sigma"]) else "-",
        _n(status["sigma_confidence"], 3),
    )
    warm = "warm" if status["warmed_up"] else f"warming up: {status['warmup_waiting'] or '...'}"
    est.add_row("warmup", warm, "cascade" if status["cascade"] else "")
    quotes = Table("level", "bid", "size", "ask", "size", box=None)
    bids, asks = status["ladder_bids"], status["ladder_asks"]
    for i in range(max(len(bids), len(asks))):
        b = bids[i] if i < len(bids) else ("", "")
        a = asks[i] if i < len(asks) else ("", "")
        quotes.add_row(str(i), _n(b[0]), _n(b[1], 6), _n(a[0]), _n(a[1], 6))
    gates = Table("gate", "reason", box=None)
    for g, why in status["closed_gates"].items():
        gates.add_row(g, why)
    if not status["closed_gates"]:
        gates.add_row("all open", "")
    ex = Table("execution", "", box=None)
    for k, v in list(status["executor"].items())[:10]:
        ex.add_row(str(k), _n(v, 3) if isinstance(v, float) else str(v))
    ex.add_row("actions", str(status["actions"]))
    ex.add_row("rejections", str(status["rejections"]))
    ex.add_row("faults", str(status["faults"]))
    ex.add_row("rejected input", str(status["rejected_events"]))
    top = Table.grid(padding=(0, 4))
    top.add_row(Panel(est, title="estimators"), Panel(quotes, title="our quotes"))
    bottom = Table.grid(padding=(0, 4))
    bottom.add_row(Panel(gates, title="gates"), Panel(ex, title="execution"))
    if not extra:
        return Group(Panel(head, title=title), top, bottom)
    live = Table.grid(padding=(0, 2))
    for k, v in extra.items():
        live.add_row(k, v)
    return Group(Panel(head, title=title), top, bottom, Panel(live, title="live"))


class Dashboard:
    """Throttled live view; ``update`` is cheap when called more often than ``hz``."""

    def __init__(
        self,
        session: Session,
        title: str,
        *,
        hz: float = 4.0,
        console: Console | None = None,
        extra: Callable[[], Mapping[str, str]] | None = None,
    ) -> None:
        self.session = session
        self.extra = extra
        self.title = title
        self.period = 1.0 / hz
        self._next = 0.0
        self._t0 = -1
        self.live = Live(
            console=console or Console(stderr=True), auto_refresh=False, transient=False
        )

    def __enter__(self) -> Dashboard:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.refresh(force=True)
        self.live.__exit__(None, None, None)

    def refresh(self, force: bool = False) -> None:
        wall = time.monotonic()
        if not force and wall < self._next:
            return
        self._next = wall + self.period
        st = self.session.stats
        if self._t0 < 0 and st.first_ts >= 0:
            self._t0 = st.first_ts
        elapsed = (st.last_ts - self._t0) / NS_PER_S if self._t0 >= 0 else 0.0
        extra = self.extra() if self.extra is not None else None
        self.live.update(
            render(session_status(self.session), elapsed, self.title, extra), refresh=True
        )

    def on_progress(self, now_ns: int) -> None:
        self.refresh()
