"""Venue invariants (``venues.*``): the built-in ``sim`` and the third-party ``toy`` venue pass
them; deliberately broken venues, each wrong in one way, FAIL the invariant about that way
with a counterexample; a live-only venue is NOT_APPLICABLE, and the audit still runs with it.

The broken venues wrap the toy venue (a correct, pure-Python matcher) and change one thing.
"""

from __future__ import annotations

import importlib.metadata
import math
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import pytest

from mmkit.audit.invariant import AuditTarget, Invariant
from mmkit.audit.invariants import venues as vi
from mmkit.audit.results import Result, Status
from mmkit.audit.runner import AuditOptions, RunContext, audit_component, run_audit, run_check
from mmkit.components import Venue
from mmkit.config.loader import load_settings
from mmkit.core.actions import Action, Cancel, Modify, Place
from mmkit.core.events import ActionResult, Event, OwnFill, PositionSnapshot
from mmkit.core.outcomes import Outcome
from mmkit.core.types import Instrument, Side, Tif
from mmkit.params import NoParams
from mmkit.plugin_manager import PluginHost
from mmkit.registry import BuildContext, ComponentSpec, RiskLimits

try:
    importlib.metadata.distribution("mmkit-toy-venue")
    from mmkit_toy_venue import ToyVenueParams
    from mmkit_toy_venue.venue import ToyVenue

    HAVE_TOY = True
except (importlib.metadata.PackageNotFoundError, ImportError):  # pragma: no cover
    HAVE_TOY = False

needs_toy = pytest.mark.skipif(
    not HAVE_TOY, reason="pip install -e plugins/mmkit-toy-venue (CI installs it)"
)

IDS = [inv.id for inv in vi.INVARIANTS]
EXAMPLES = 100  # x the invariants' weight


def _by_id(inv_id: str) -> Invariant:
    (inv,) = [i for i in vi.INVARIANTS if i.id == inv_id]
    return inv


def _statuses(results: Sequence[Result]) -> dict[str, Status]:
    return {r.invariant.id: r.status for r in results}


def _messages(results: Sequence[Result]) -> str:
    return "\n".join(f"{r.invariant.id}: {r.message}\n{r.counterexample}" for r in results)


# -- the correct venues ----------------------------------------------------------------------


def test_every_venue_invariant_is_registered_in_section_4() -> None:
    host = PluginHost(load_entrypoints=False)
    registered = {i.id: i for i in host.invariants}
    for inv_id in IDS:
        inv = registered[inv_id]
        assert inv.kinds == ("venue",)
        assert inv.section.startswith("4.")


def test_the_sim_venue_passes() -> None:
    host = PluginHost(load_entrypoints=False)
    results = audit_component(host, "venue", "sim", examples=EXAMPLES, only=["venues"])
    assert sorted(r.invariant.id for r in results) == sorted(IDS)
    assert all(r.status is Status.PASS for r in results), _messages(results)


@needs_toy
def test_the_toy_venue_installed_through_its_entry_point_passes() -> None:
    host = PluginHost()  # entry points: the toy venue comes from its installed distribution
    spec = host.registry.get("venue", "toy")
    assert spec.distribution == "mmkit-toy-venue"
    results = audit_component(host, "venue", "toy", examples=EXAMPLES, only=["venues"])
    assert sorted(r.invariant.id for r in results) == sorted(IDS)
    assert all(r.status is Status.PASS for r in results), _messages(results)


@needs_toy
def test_the_configured_toy_venue_is_audited_by_run_audit() -> None:
    """``components.venue = "toy"`` in a config: the venue checks run against it."""
    host = PluginHost()
    settings = load_settings(None, host.registry, env={}, sets=['components.venue="toy"'])
    report = run_audit(host, settings, AuditOptions(examples=20, only=["venues"]))
    got = {(r.invariant.id, r.component.name if r.component else None) for r in report.results}
    assert got == {(i, "toy") for i in IDS}
    assert all(r.status is Status.PASS for r in report.results), _messages(report.results)


@needs_toy
@pytest.mark.slow
def test_mmkit_audit_strict_audits_the_configured_toy_venue() -> None:
    """The command line, through the toy venue's entry point: the venue checks run on it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMKIT")}
    cmd = [sys.executable, "-m", "mmkit", "audit", "--strict", "--only", "venues"]
    cmd += ["--examples", "20", "--set", 'components.venue="toy"']
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    for inv_id in IDS:
        assert any(
            line.split()[:3] == ["PASS", inv_id, "venue:toy"] for line in out.stdout.splitlines()
        ), out.stdout
    assert "Overall: PASS (GO)" in out.stdout


def test_a_live_only_venue_is_not_applicable_and_the_audit_still_runs() -> None:
    """The built-in ``hyperliquid`` venue has no simulated side: nothing is built, every venue
    check says why it does not apply."""
    host = PluginHost(load_entrypoints=False)
    settings = load_settings(None, host.registry, env={}, sets=['components.venue="hyperliquid"'])
    report = run_audit(host, settings, AuditOptions(examples=5, only=["venues"]))
    assert {r.invariant.id for r in report.results} == set(IDS)
    for r in report.results:
        assert r.status is Status.NOT_APPLICABLE
        assert "live-only" in r.message


# -- broken venues -----------------------------------------------------------------------------


class _Wrapped:
    """A toy venue with one defect (subclasses override :meth:`edit_in` / :meth:`edit_out`)."""

    def __init__(self, inst: Instrument) -> None:
        self.inner: Venue = ToyVenue(ToyVenueParams(), inst)

    def on_market(self, event: Event, now_ns: int) -> None:
        self.inner.on_market(event, now_ns)

    def submit(self, actions: Sequence[Action], now_ns: int) -> None:
        self.inner.submit([self.edit_in(a) for a in actions], now_ns)

    def drain(self, now_ns: int) -> list[Event]:
        return [e for ev in self.inner.drain(now_ns) for e in self.edit_out(ev)]

    def edit_in(self, a: Action) -> Action:
        return a

    def edit_out(self, ev: Event) -> list[Event]:
        return [ev]


class AloAsGtc(_Wrapped):
    """Ignores post-only: an ALO order that crosses trades as a GTC would (as taker)."""

    def edit_in(self, a: Action) -> Action:
        if isinstance(a, Place | Modify) and a.tif is Tif.ALO:
            return replace(a, tif=Tif.GTC)
        return a


class RestsCrossingOrders(ToyVenue if HAVE_TOY else object):  # type: ignore[misc]
    """Never looks at the book when an order comes in: a post-only order priced through the
    opposite best rests (a crossed book of its own making) instead of being refused."""

    def __init__(self, inst: Instrument) -> None:
        super().__init__(ToyVenueParams(), inst)

    def _opposite_best(self, side: Side) -> float:
        return math.nan


class SilentOnGoneCancels(_Wrapped):
    """Never answers a cancel of an order it does not have (drops the rejection)."""

    def __init__(self, inst: Instrument) -> None:
        super().__init__(inst)
        self.cancels: set[int] = set()

    def edit_in(self, a: Action) -> Action:
        if isinstance(a, Cancel):
            self.cancels.add(a.request_id)
        return a

    def edit_out(self, ev: Event) -> list[Event]:
        if (
            isinstance(ev, ActionResult)
            and ev.request_id in self.cancels
            and ev.outcome is Outcome.REJECTED
        ):
            return []
        return [ev]


class DoubleFills(_Wrapped):
    """Reports every maker fill twice (a replayed fill message): fills exceed the order."""

    def edit_out(self, ev: Event) -> list[Event]:
        if isinstance(ev, OwnFill) and not ev.crossed:
            return [ev, replace(ev, tid=ev.tid + 1_000_000)]
        return [ev]


class PositionWithoutTakerFills(_Wrapped):
    """Reports a position that leaves out its taker fills."""

    def __init__(self, inst: Instrument) -> None:
        super().__init__(inst)
        self.taker = 0.0

    def edit_out(self, ev: Event) -> list[Event]:
        if isinstance(ev, OwnFill) and ev.crossed:
            self.taker += ev.sz * int(ev.side)
        if isinstance(ev, PositionSnapshot):
            return [replace(ev, position=ev.position - self.taker)]
        return [ev]


def _target(name: str, make: Callable[[Instrument], Any]) -> AuditTarget:
    def factory(ctx: BuildContext[Any]) -> Any:
        return make(ctx.instrument)

    spec = ComponentSpec("venue", name, factory, NoParams, "a broken test venue", "test")
    return AuditTarget(spec, NoParams(), Instrument(), RiskLimits())


BROKEN: list[tuple[str, Callable[[Instrument], Any], str, str]] = [
    # (name, venue class, the invariant it breaks, what the finding says)
    ("alo_as_gtc", AloAsGtc, "venues.post_only_never_takes", "took liquidity"),
    ("rests_crossing", RestsCrossingOrders, "venues.post_only_never_takes", "not rested"),
    ("silent_gone_cancels", SilentOnGoneCancels, "venues.answers_every_action_once", "CANCEL"),
    ("double_fills", DoubleFills, "venues.no_overfill", "more than"),
    (
        "position_without_taker",
        PositionWithoutTakerFills,
        "venues.position_is_sum_of_fills",
        "SYNC",
    ),
]


@needs_toy
@pytest.mark.parametrize(("name", "make", "inv_id", "says"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_venue_fails_its_invariant_with_a_counterexample(
    name: str, make: Callable[[Instrument], Any], inv_id: str, says: str
) -> None:
    res = run_check(_by_id(inv_id), _target(name, make), RunContext(examples=EXAMPLES))
    assert res.status is Status.FAIL, (res.status, res.message)
    assert f"venue {name!r}" in res.message and says in res.message, res.message
    # the counterexample: hypothesis's shrunk stream and the venue's event log
    assert "Step(" in res.counterexample
    assert "t=+" in res.counterexample and "<-" in res.counterexample


@needs_toy
@pytest.mark.parametrize(("name", "make", "inv_id", "says"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_venue_passes_the_invariants_about_other_things(
    name: str, make: Callable[[Instrument], Any], inv_id: str, says: str
) -> None:
    """Each defect is caught by the invariant about it, not by accident of the harness: the
    wrapper alone (no defect) and the unrelated invariants PASS (a double fill also moves the
    reported fills away from the position, so that pair is left out)."""
    unrelated = {"venues.answers_every_action_once", "venues.post_only_never_takes"} - {inv_id}
    for other in sorted(unrelated):
        res = run_check(_by_id(other), _target(name, make), RunContext(examples=20))
        assert res.status is Status.PASS, (other, res.message, res.counterexample)
    for inv in vi.INVARIANTS:
        res = run_check(inv, _target("plain", _Wrapped), RunContext(examples=20))
        assert res.status is Status.PASS, (inv.id, res.message, res.counterexample)


# -- the properties on hand-made tapes ------------------------------------------------------------


def test_the_properties_see_what_they_are_about() -> None:
    """Each property flags a tape made to break it, and accepts the same tape without the
    defect (so none of them is vacuous)."""
    t0 = vi.OPEN_NS
    cloid = "0x" + "0" * 31 + "1"
    place = Place(1, cloid, Side.BUY, 1000.0, 0.02, Tif.ALO)
    ok = ActionResult(t0, 1, cloid, 7, Outcome.RESTING, local_ts=t0)
    fill = OwnFill(t0 + 1, 7, cloid, Side.BUY, 1000.0, 0.02, local_ts=t0 + 1)

    def tape(events: list[Event]) -> vi.Tape:
        return vi.Tape(sent=[(t0, place)], got=[(t0, e) for e in events])

    assert vi.answered_once(tape([ok])) == []
    assert vi.answered_once(tape([]))  # unanswered
    assert vi.answered_once(tape([ok, ok]))  # answered twice
    late = replace(ok, local_ts=t0 + vi.ANSWER_BOUND_NS + 1)
    assert vi.answered_once(tape([late]))

    assert vi.post_only_never_takes(tape([ok, fill])) == []
    assert vi.post_only_never_takes(tape([ok, replace(fill, crossed=True)]))
    assert vi.post_only_never_takes(tape([ok, replace(fill, px=999.0)]))
    assert vi.post_only_never_takes(tape([replace(ok, outcome=Outcome.FILLED, filled_sz=0.02)]))

    assert vi.never_overfilled(tape([ok, fill])) == []
    assert vi.never_overfilled(tape([ok, fill, replace(fill, sz=0.001)]))
    assert vi.never_overfilled(tape([ok, replace(fill, oid=8, cloid=None)]))  # never placed

    settled = vi.Tape(
        sent=[(t0, place)],
        got=[(t0, ok), (t0, fill), (t0, PositionSnapshot(t0, 0.02))],
        settled=[(2, 3)],
    )
    assert vi.position_matches_fills(settled) == []
    settled.got[2] = (t0, PositionSnapshot(t0, 0.0))
    assert vi.position_matches_fills(settled)
    assert vi.position_matches_fills(replace(settled, got=settled.got[:2], settled=[(2, 2)]))
