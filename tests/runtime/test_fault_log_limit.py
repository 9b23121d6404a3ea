"""A component that faults on every quoting cycle does not flood the log: each new message
of a component is logged, then at most a line a minute says how many more there were; the
journal and the counts keep every fault (a newcomer's run of a raising gate logged 4,742
identical lines in 300 simulated seconds)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from mmkit.runtime.observer import FaultLogLimiter

NS = 1_000_000_000
T0 = 1_700_000_000 * NS
WINDOW = 60 * NS

#: (component, message, ns since the previous fault)
_FAULT = st.tuples(
    st.sampled_from(["gate g", "quoter q", "estimator e"]),
    st.sampled_from(["boom", "bad", "x"]) | st.text(max_size=4),
    st.integers(min_value=0, max_value=20 * NS),
)
MORE = re.compile(r"^fault in (.+?): ([\d,]+) more fault\(s\) in ")


def more_of(line: str) -> int:
    """How many faults a count line says it stands for (0 for a full line)."""
    m = MORE.match(line)
    return int(m.group(2).replace(",", "")) if m else 0


def _replay(limiter: FaultLogLimiter, faults: list[tuple[str, str, int]]) -> list[tuple[int, str]]:
    t = T0
    out: list[tuple[int, str]] = []
    for comp, msg, dt in faults:
        t += dt
        out += [(t, line) for line in limiter.lines(comp, msg, t)]
    return out


@given(st.lists(_FAULT, max_size=200), st.integers(min_value=1, max_value=4))
def test_lines_are_bounded_and_account_for_every_fault(
    faults: list[tuple[str, str, int]], max_lines: int
) -> None:
    lim = FaultLogLimiter(WINDOW, max_lines)
    lines = _replay(lim, faults)
    for comp in {c for c, _, _ in faults}:
        mine = [(t, ln) for t, ln in lines if ln.startswith(f"fault in {comp}: ")]
        # at most max_lines full lines and one count line in any window of a component
        for t0, _ in mine:
            near = [ln for t, ln in mine if t0 <= t < t0 + WINDOW]
            assert len(near) <= max_lines + 1
        full = [ln for _, ln in mine if not MORE.match(ln)]
        counted = sum(more_of(ln) for _, ln in mine)
        total = sum(1 for c, _, _ in faults if c == comp)
        pending = lim._state[comp][2]
        assert len(full) + counted + pending == total
        # a component's first fault is always logged in full, with its message
        first = next(m for c, m, _ in faults if c == comp)
        assert full[0] == f"fault in {comp}: {first}"


def test_a_new_message_is_logged_while_the_window_has_room() -> None:
    lim = FaultLogLimiter(WINDOW, 3)
    assert lim.lines("gate g", "a", T0) == ["fault in gate g: a"]
    assert lim.lines("gate g", "a", T0 + 1) == []  # the same again: counted
    assert lim.lines("gate g", "b", T0 + 2) == ["fault in gate g: b"]
    assert lim.lines("quoter q", "a", T0 + 3) == ["fault in quoter q: a"]  # per component
    more = lim.lines("gate g", "a", T0 + WINDOW + 5)
    assert len(more) == 1 and more[0].startswith("fault in gate g: 1 more fault(s) in 60 s")
    assert "(latest: a;" in more[0]
