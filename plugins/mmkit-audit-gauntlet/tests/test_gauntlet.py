"""``mmkit audit --strict`` on each gauntlet component alone (``--component KIND:NAME``).

A broken component must be FAILed by the invariant its bug breaks, with a counterexample;
a correct one must PASS (exit 0: no FAIL, CONCERN or UNAUDITED). Each case runs the real
CLI through the installed entry point, as a user would (slow: a few seconds each).

Components the audit gets wrong today are ``xfail(strict=True)``: once the audit catches
one (or stops flagging a correct one), its xfail turns into an error, and its line below
must go. ``BUGS.md`` has the table; ``python -m mmkit_audit_gauntlet.measure`` re-measures.
"""

from __future__ import annotations

import pytest
from mmkit_audit_gauntlet import CATALOGUE, Entry
from mmkit_audit_gauntlet.measure import BAD, audit_one

#: broken components today's audit does not FAIL on their invariant: name -> the hole.
#: Measured 2026-12-03 on the issue-18 working tree (``python -m mmkit_audit_gauntlet.measure``).
MISSED_TODAY: dict[str, str] = {}

#: correct components today's audit does not PASS: name -> why
FLAGGED_TODAY: dict[str, str] = {}

#: components meant to be correct in which the audit found a real bug (a true positive,
#: to be fixed in the component, not in the audit): name -> the bug
BUGGY_AFTER_ALL: dict[str, str] = {
    "g_slot_exec": "execution.stateful_safety (seed 0, since the issue-18 executor widening "
    "reshuffled its draws): a PLACE never answered (drop_next_acks) stays 'placing' "
    "forever, whatever became of it on the venue (_on_snapshot skips in-flight "
    "orders, nothing times the request out), holding its slot: the level is never placed "
    "again ('BUY rests at [98.0], desired [99, 98]')",
}


def _cases(broken: bool) -> list[object]:
    out: list[object] = []
    known = MISSED_TODAY if broken else FLAGGED_TODAY
    prefix = "audit hole: " if broken else "audit false positive: "
    for e in CATALOGUE:
        if e.broken is not broken:
            continue
        marks: list[pytest.MarkDecorator] = [pytest.mark.slow]
        if e.name in known:
            marks.append(pytest.mark.xfail(strict=True, reason=prefix + known[e.name]))
        elif not broken and e.name in BUGGY_AFTER_ALL:
            why = "a real bug the audit found: " + BUGGY_AFTER_ALL[e.name]
            marks.append(pytest.mark.xfail(strict=True, reason=why))
        out.append(pytest.param(e, id=e.name, marks=marks))
    return out


def test_the_expectations_name_catalogue_entries() -> None:
    names = {e.name: e for e in CATALOGUE}
    assert all(names[n].broken for n in MISSED_TODAY)
    assert all(not names[n].broken for n in FLAGGED_TODAY)
    assert all(not names[n].broken for n in BUGGY_AFTER_ALL)


@pytest.mark.parametrize("entry", _cases(broken=True))
def test_audit_fails_the_broken_component(entry: Entry) -> None:
    v = audit_one(entry)
    assert not v.error, v.error
    summary = [(r["status"], r["invariant"]) for r in v.results if r["status"] != "PASS"]
    hits = [r for r in v.with_status("FAIL") if r["invariant"] == entry.invariant]
    assert hits, f"{entry.name}: no FAIL of {entry.invariant} ({entry.bug}); got {summary}"
    assert v.returncode == 1
    shown = hits[0]
    assert (shown.get("counterexample") or "").strip() or shown["message"].strip()
    # the table on stdout names the invariant and the component on the FAIL line
    assert f"FAIL {entry.invariant} on {entry.kind}:{entry.name}" in v.table


@pytest.mark.parametrize("entry", _cases(broken=False))
def test_audit_passes_the_correct_component(entry: Entry) -> None:
    v = audit_one(entry)
    assert not v.error, v.error
    bad = [(r["status"], r["invariant"], r["message"][:200]) for r in v.with_status(*BAD)]
    assert not bad, f"{entry.name}: {bad}"
    assert any(r["status"] == "PASS" for r in v.results)
    assert v.returncode == 0
