"""The fault soak: the real ``mmkit trade`` CLI against ``mmkit venue emulate`` over loopback
sockets, one scenario per fault of the emulator's catalogue (plus a kill -9 of the trader and
a no-fault baseline), judged from the venue's side (see :mod:`mmkit.testing.soak`).

Every scenario asserts: quoting resumes within a bound after the fault clears; no false
kill-switch trip and exit status 0; no orphaned order at exit; the journal's position equal to
the venue's; no order action signed while a halting gate was closed; no level (cloid) filled
past its size beyond what the in-flight modify race explains (``race_overfill`` is reported,
see tests/runtime/test_soak_overfill.py); every venue fill journaled exactly once; the
journal's equity change equal to the venue's account value change within fees.

Each scenario takes about 25-35 s of wall time (two subprocesses, mostly idle); xdist spreads
the parametrized cases. ``benchmarks/soak.py`` prints the same measurements as a table.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mmkit.testing.soak import SCENARIOS, format_table, run_scenario
from mmkit.venues.emulator.faults import CATALOGUE

pytestmark = [pytest.mark.slow, pytest.mark.network]

#: emulator faults the soak deliberately does not run: crossed_book and post_only are covered
#: by tests/runtime/test_trade_e2e.py and tests/venues/emulator/test_emu_faults_live.py and are
#: not among the faults of issue 16
NOT_SOAKED = {"crossed_book", "post_only"}


def test_every_fault_of_issue_16_has_a_soak_scenario() -> None:
    used = {str(c["fault"]) for sc in SCENARIOS.values() for c in sc.commands}
    assert used | NOT_SOAKED == set(CATALOGUE)
    assert "baseline" in SCENARIOS and any(sc.kill9 for sc in SCENARIOS.values())


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_fault_soak(name: str, tmp_path: Path) -> None:
    result = run_scenario(SCENARIOS[name], tmp_path)
    failures = result.failures()
    assert not failures, (
        f"{name}: {SCENARIOS[name].what}\n"
        + "\n".join(f"  - {f}" for f in failures)
        + f"\nnotes: {result.notes}\n{format_table([result])}\njournals: {tmp_path}"
    )
