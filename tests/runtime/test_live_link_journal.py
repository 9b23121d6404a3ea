"""The live venue's link transitions reach the journal, ``mmkit journal show`` and the
summary line, in the order they happened."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmkit.cli.main import main
from mmkit.runtime.journal import Journal, summarize
from mmkit.runtime.live_run import describe_links, link_journaler
from mmkit.venues.hyperliquid.health import Fault, VenueHealth


class Clock:
    def __init__(self) -> None:
        self.ns = 1_000_000_000

    def __call__(self) -> int:
        return self.ns

    def advance(self, s: float) -> None:
        self.ns += int(s * 1e9)


def outage(health: VenueHealth, clock: Clock) -> None:
    """The account path: a 429, a failed retry, a retry, back after 2.5 s."""
    acct = health.account
    acct.degrade(Fault.RATE_LIMITED, "sync failed: HTTP 429", retry_after_s=1.0)
    clock.advance(1.0)
    acct.recovering("retry 1")
    clock.advance(0.5)
    acct.degrade(Fault.SERVER, "retry 1 failed: HTTP 502")
    clock.advance(0.5)
    acct.recovering("retry 2")
    clock.advance(0.5)
    acct.restore("position snapshot with open orders")


def test_every_transition_is_journaled_and_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = Clock()
    health = VenueHealth(clock_ns=clock)
    path = tmp_path / "live.sqlite"
    journal = Journal(path)
    health.listeners.append(link_journaler(journal))
    outage(health, clock)
    journal.close()

    s = summarize(path)
    messages = [m for _, m in s.link_events]
    assert [m.split(":", 2)[1].strip() for m in messages] == [
        "connected -> degraded [rate_limited]",
        "degraded -> recovering",
        "recovering -> disconnected [server]",
        "disconnected -> recovering",
        "recovering -> connected",
    ]
    assert all(m.startswith("link account:") for m in messages)
    assert all(ts > 0 for ts, _ in s.link_events)  # wall stamps, like every journal row

    with pytest.raises(SystemExit) as exc:
        main(["--no-entrypoints", "journal", "show", str(path)])
    assert exc.value.code in (0, None)
    out = capsys.readouterr().out
    assert "venue link transitions" in out
    assert "recovering -> connected" in out


def test_the_summary_line_counts_outages() -> None:
    clock = Clock()
    health = VenueHealth(clock_ns=clock)
    health.market.restore("first book")
    health.user.restore("subscribed")
    assert describe_links(health.status()) == (
        "market connected · user connected · account connected"
    )
    outage(health, clock)
    line = describe_links(health.status())
    assert "account connected (1 outage, longest 2.5 s)" in line
    assert describe_links({}) == "unknown"
