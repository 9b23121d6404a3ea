"""The kernel rewrites that cut the first run's compile time give the same results as the
code they replace: checked against numpy and against numba's own ``np.argsort``."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numba import njit

from mmkit.data._synthetic_kernels import _time_order
from mmkit.estimators._kernels_pf import F_H, F_ROWS, F_W, new_state


@njit(cache=False)
def _numba_argsort(x: np.ndarray) -> np.ndarray:
    """What the synthetic market called before (numba's quicksort-based argsort)."""
    return np.argsort(x)


_floats = st.floats(0.0, 0.1, allow_nan=False, allow_infinity=False)


@given(
    t=hnp.arrays(np.float64, st.integers(0, 300), elements=_floats),
    extra=st.integers(0, 5),
)
def test_time_order_is_numpys_stable_argsort(t: np.ndarray, extra: int) -> None:
    """Any keys, ties included: ties keep index order (numpy's stable sort as the oracle);
    the buffer may be longer than the ``m`` keys sorted."""
    m = t.size
    buf = np.concatenate((t, np.full(extra, -1.0)))  # trailing garbage is not sorted
    got = _time_order(buf, m)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, np.argsort(t, kind="stable"))


@given(t=hnp.arrays(np.float64, st.integers(0, 15), elements=st.sampled_from([0.0, 0.25, 0.5])))
def test_time_order_matches_numbas_argsort_with_ties_up_to_15_keys(t: np.ndarray) -> None:
    """numba's argsort insertion-sorts up to 15 keys (stable): the same permutation even
    when keys are equal, so the synthetic market is unchanged bit for bit."""
    np.testing.assert_array_equal(_time_order(t, t.size), _numba_argsort(t))


@given(t=hnp.arrays(np.float64, st.integers(0, 400), elements=_floats, unique=True))
def test_time_order_matches_numbas_argsort_on_distinct_keys(t: np.ndarray) -> None:
    np.testing.assert_array_equal(_time_order(t, t.size), _numba_argsort(t))


@settings(max_examples=50)
@given(h0=hnp.arrays(np.float64, st.integers(1, 2000), elements=st.floats(-30.0, 5.0)))
def test_new_state_is_the_row_assignment_it_replaces(h0: np.ndarray) -> None:
    fs, ist = new_state(h0)
    want = np.zeros((F_ROWS, h0.size))
    want[F_H] = h0
    want[F_W] = 1.0 / h0.size
    np.testing.assert_array_equal(fs, want)
    assert ist.shape == (3, h0.size) and ist.dtype == np.int64 and not ist.any()
