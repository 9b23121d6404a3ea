"""When a timer step's trades reach the engine (:func:`mmkit.backtest.loops.receive_times`):
the same times as the running maximum it replaces, for trade times in any order."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from mmkit.backtest.loops import receive_times

_T = st.integers(-(2**40), 2**40)


def _oracle(times: np.ndarray, now: int) -> list[int]:
    """Each trade at its own time, never before the clock nor the trade ahead of it."""
    out, clock = [], now
    for t in times.tolist():
        clock = max(clock, t)
        out.append(clock)
    return out


@given(st.lists(_T, min_size=1, max_size=40), _T)
def test_any_order(times: list[int], now: int) -> None:
    arr = np.asarray(times, dtype=np.int64)
    assert receive_times(arr, now, monotone=False).tolist() == _oracle(arr, now)


@given(st.lists(_T, min_size=1, max_size=40).map(sorted), _T)
def test_never_going_back(times: list[int], now: int) -> None:
    arr = np.asarray(times, dtype=np.int64)
    got = receive_times(arr, now, monotone=True)
    assert got.dtype == np.int64 and got.tolist() == _oracle(arr, now)
    assert arr.tolist() == times  # the trade times themselves are left as they were


def test_a_wrong_promise_is_caught_by_the_oracle() -> None:
    """The shortcut relies on the caller's check: trade times that go back, passed as
    monotone, give other times (which is why run_timer checks them once)."""
    arr = np.asarray([5, 3, 7], dtype=np.int64)
    assert receive_times(arr, 0, monotone=True).tolist() != _oracle(arr, 0)
