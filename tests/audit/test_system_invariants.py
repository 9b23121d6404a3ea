"""Whole-system invariants (section "9. Whole System"): the default set passes every one,
and each invariant FAILs its broken twin (the defects the live-trading issue fixed, kept
in ``mmkit_broken_fixtures.system``) with a counterexample that reads as a run log."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.audit.invariants.system import INVARIANTS, SECTION, LaggingVenue, SystemTarget
from mmkit.audit.results import Result, Status
from mmkit.audit.runner import AuditOptions, RunContext, run_audit, run_check
from mmkit.config.loader import load_settings
from mmkit.core.actions import Place
from mmkit.core.events import OrderUpdate, OwnFill
from mmkit.core.types import NS_PER_MS, Instrument, Side, Tif
from mmkit.plugin_manager import PluginHost

from .conftest import _ensure_broken_importable

BY_ID = {inv.id: inv for inv in INVARIANTS}
DEFAULT_GATES = '["data_quality","warmup","kill_switch"]'

#: invariant -> the config that breaks it (one defect each) and what the failure must say
TWINS: dict[str, tuple[str, str]] = {
    "system.halt_cancels_within_bound": (
        "components.executor=broken_halt_budget",
        r"quoting halted at \+[\d.]+ s .* still rest on the venue",
    ),
    "system.no_place_while_halted": (
        "components.executor=broken_halt_requote",
        r"(Place|Modify) (BUY|SELL) .* sent while gate\(s\) .* had halted quoting",
    ),
    "system.stale_snapshot_ignored": (
        "components.executor=broken_snapshot_adopt",
        r"a snapshot taken at \+[\d.]+ s \(before our fill\) moved the position",
    ),
    "system.position_limit_with_pending": (
        "components.executor=broken_pending_blind",
        r"position \+ resting (BUY|SELL) orders reached [\d.]+ \(max_position 0.05",
    ),
    "system.kill_switch_stays_latched": (
        'components.gates=["data_quality","warmup","broken_unlatching_kill"]',
        r"kill switch broken_unlatching_kill latched and then reopened [\d.]+ h later",
    ),
    "system.quoting_resumes": (
        "components.executor=broken_429_forever",
        r"429_storm cleared at \+[\d.]+ s and the mid moved; 10 s later no order placed",
    ),
}


@pytest.fixture(scope="module")
def host() -> PluginHost:
    _ensure_broken_importable()
    return PluginHost(load_entrypoints=False, extra_modules=["mmkit_broken_fixtures.system"])


def target(host: PluginHost, *sets: str) -> SystemTarget:
    return SystemTarget.of(host, load_settings(None, host.registry, env={}, sets=list(sets)))


def check(host: PluginHost, inv_id: str, *sets: str, examples: int = 100) -> Result:
    return run_check(BY_ID[inv_id], target(host, *sets), RunContext(examples=examples, seed=0))


def test_every_system_invariant_has_a_twin_and_the_section() -> None:
    assert set(TWINS) == set(BY_ID)
    assert all(inv.kinds == ("system",) and inv.section == SECTION for inv in INVARIANTS)


@pytest.mark.parametrize("inv_id", sorted(BY_ID))
def test_the_default_set_passes(host: PluginHost, inv_id: str) -> None:
    res = check(host, inv_id)
    assert res.status is Status.PASS, f"{res.message}\n{res.counterexample}"
    assert res.component is not None and res.component.kind == "system"


#: BTC as it trades: whole-dollar prices at 20,000 on a 0.1 tick, a fine grid (3 decimals)
BTC_SZ3 = (
    "instrument.sz_decimals=3",
    "instrument.tick=0.1",
    "risk.order_size=0.002",
    "risk.max_position=0.05",
)


@pytest.mark.parametrize("inv_id", ["system.quoting_resumes", "system.no_place_while_halted"])
def test_a_set_with_every_signal_estimator_is_audited(host: PluginHost, inv_id: str) -> None:
    """The lead-lag estimator holds its leader channel (a queue behind a lock): the
    system invariants' copies of the configured set copy it too (they failed with "cannot
    pickle '_thread.lock' object", so an audit of a set naming lead_lag was NO-GO)."""
    estimators = '["kappa","sigma","warmup","lead_lag","adverse_selection","rl_skew"]'
    res = check(host, inv_id, f"components.estimators={estimators}", examples=20)
    assert res.status is Status.PASS, f"{res.message}\n{res.counterexample}"


@pytest.mark.parametrize("inv_id", sorted(BY_ID))
def test_a_btc_config_with_a_fine_price_grid_passes(host: PluginHost, inv_id: str) -> None:
    """The rig's mid is 20,000 here, where valid prices are whole dollars (5 significant
    figures): a market move of a few 0.1 ticks leaves every quote where it was, so
    quoting_resumes moves the market by venue price steps (it FAILed this healthy set when
    it moved 0.4 USD). The harness grid is coarsened to 0.01 (3.6 million columns, not 36)."""
    res = check(host, inv_id, *BTC_SZ3, examples=100)
    assert res.status is Status.PASS, f"{res.message}\n{res.counterexample}"


@pytest.mark.slow
@pytest.mark.parametrize("inv_id", sorted(TWINS))
def test_each_twin_fails_its_invariant_readably(host: PluginHost, inv_id: str) -> None:
    sets, pattern = TWINS[inv_id]
    res = check(host, inv_id, sets, examples=300)
    assert res.status is Status.FAIL, f"{inv_id} passed its broken twin ({sets})"
    assert re.search(pattern, res.message), res.message
    # the counterexample is the run log, times relative to the start of the run
    assert "Run log (simulated time since the start)" in res.counterexample
    assert re.search(r"^\+\d+\.\d{3} s  !! ", res.counterexample, re.M), res.counterexample


@pytest.mark.slow
def test_a_set_without_a_working_data_quality_gate_fails(host: PluginHost) -> None:
    _ensure_broken_importable()
    h = PluginHost(
        load_entrypoints=False,
        extra_modules=["mmkit_broken_fixtures", "mmkit_broken_fixtures.system"],
    )
    res = check(
        h,
        "system.halt_cancels_within_bound",
        'components.gates=["broken_never_closes","warmup","kill_switch"]',
        examples=300,
    )
    assert res.status is Status.FAIL
    assert "no gate had halted quoting" in res.message, res.message


def test_without_a_kill_switch_the_latch_is_out_of_scope(host: PluginHost) -> None:
    res = check(
        host, "system.kill_switch_stays_latched", 'components.gates=["data_quality","warmup"]'
    )
    assert res.status is Status.NOT_APPLICABLE, res.message
    assert "kill-switch role" in res.message


def test_the_runner_calls_a_system_invariant_once_with_the_whole_set(host: PluginHost) -> None:
    s = load_settings(None, host.registry, env={})
    report = run_audit(
        host, s, AuditOptions(examples=20, only=["system.kill_switch_stays_latched"])
    )
    mine = [r for r in report.results if r.invariant.id == "system.kill_switch_stays_latched"]
    assert len(mine) == 1
    assert mine[0].component is not None and mine[0].component.kind == "system"
    assert "executor smart" in mine[0].component.description
    assert mine[0].status is Status.PASS, mine[0].message


# -- the lagging user stream ------------------------------------------------------------------
INST = Instrument(coin="AUDIT", asset=0, sz_decimals=3, max_decimals=6, tick=1.0)


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(st.lists(st.tuples(st.integers(0, 3000), st.integers(1, 200)), min_size=1, max_size=8))
def test_lagging_venue_delays_our_fills_without_reordering_them(
    plan: list[tuple[int, int]],
) -> None:
    """Whatever delays are switched on between fills, our fills and order updates arrive
    in the order they happened, none earlier than its delay."""
    from mmkit.audit.harness import book

    v = LaggingVenue(INST, seed=0)
    now = 1_000 * NS_PER_MS
    v.on_market(book(99.5, 100.5, now), now)
    due: dict[int, int] = {}  # oid -> earliest time its fill may arrive
    for i, (delay_ms, gap_ms) in enumerate(plan):
        v.fill_delay_ns = delay_ms * NS_PER_MS
        v.submit([Place(i + 1, f"0x{i + 1:032x}", Side.BUY, 99.0, 0.2, Tif.ALO)], now)
        oid = max(o.oid for o in v.open_orders())
        v.fill_order(oid=oid, now_ns=now)
        due[oid] = now + v.latency_ns + v.fill_delay_ns
        now += gap_ms * NS_PER_MS
    arrived: list[tuple[int, int]] = []  # (oid, drained at)
    for t in sorted({d - 1 for d in due.values()} | {now + 10_000 * NS_PER_MS}):
        arrived += [(e.oid, t) for e in v.drain(t) if isinstance(e, OwnFill)]
    assert [oid for oid, _ in arrived] == list(due)  # in the order they happened
    assert all(t >= due[oid] for oid, t in arrived)  # none before its delay
    updates = [e.oid for e in v.drain(now + 20_000 * NS_PER_MS) if isinstance(e, OrderUpdate)]
    assert updates == []  # updates travel with the fills


def test_the_section_is_numbered_after_the_seed_areas() -> None:
    from mmkit.audit.sections import ordered_sections, section_key

    assert section_key(SECTION) == (9, "Whole System")
    order = ordered_sections(["Some plugin area", SECTION, "1"])
    assert order[8] == (9, "Whole System") and order[9] == (0, "Some plugin area")
