"""Kernels whose explicit signatures wait for their first use (mmkit.deferred_kernels).

Held to numba's eager kernel with the same signatures, the behaviour they replace: nothing
compiled or loaded at definition; once used, exactly the explicit signatures (no version
per literal constant a caller passes), the same results, argument conversions and errors
from Python; compiled entry points; the warm-up's ``compile_deferred``; and, in a fresh
process, importing the quoter twin's kernels loads nothing from numba's cache.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numba import njit

from mmkit.core.entry_points import compiled_entry
from mmkit.deferred_kernels import compile_deferred, kernel_on_first_use

SIG = "float64(float64[::1], int64, boolean)"


def _body(x: np.ndarray, k: int, up: bool) -> float:
    s = 0.0
    for j in range(min(k, x.shape[0])):
        s += x[j]
    return s + 1.0 if up else s - 1.0


eager = njit(SIG)(_body)


def _deferred() -> Any:
    return kernel_on_first_use(SIG)(_body)


def test_nothing_is_compiled_until_first_use() -> None:
    k = _deferred()
    assert k.deferred
    assert k.signatures == []


def test_a_calling_kernel_compiles_the_signatures_and_no_literal_versions() -> None:
    k = _deferred()

    @njit
    def caller(x: np.ndarray) -> float:
        # constant arguments: numba types them as literals
        return float(k(x, 2, True) + k(x, 3, False) + k(x, 5, True))

    x = np.arange(6.0)
    assert caller(x) == eager(x, 2, True) + eager(x, 3, False) + eager(x, 5, True)
    assert not k.deferred
    assert [str(s) for s in k.signatures] == [str(s) for s in eager.signatures]


def test_without_signatures_numba_would_compile_one_version_per_constant() -> None:
    """Why the helpers carry explicit signatures at all (the cost being avoided)."""
    lazy = njit(_body)

    @njit
    def caller(x: np.ndarray) -> float:
        return float(lazy(x, 2, True) + lazy(x, 3, False) + lazy(x, 5, True))

    caller(np.arange(4.0))
    assert len(lazy.signatures) == 3  # (2, True), (3, False), (5, True): one each


_arg = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=3),
    st.none(),
)


@given(k=_arg, up=_arg, n=st.integers(0, 8))
def test_python_calls_behave_as_the_eager_kernel(k: Any, up: Any, n: int) -> None:
    x = np.arange(float(n))
    d = _deferred()
    try:
        want: Any = ("ok", eager(x, k, up))
    except Exception as exc:  # the eager kernel's own refusal is the expected outcome
        want = ("raises", type(exc))
    try:
        got: Any = ("ok", d(x, k, up))
    except Exception as exc:  # compared with the eager kernel's
        got = ("raises", type(exc))
    assert got == want
    assert [str(s) for s in d.signatures] == [str(s) for s in eager.signatures]


def test_a_compiled_entry_point_of_a_deferred_kernel() -> None:
    d = _deferred()
    fn = compiled_entry(d, SIG)
    x = np.arange(5.0)
    assert fn(x, 4, False) == eager(x, 4, False)
    # a later Python call with another type still converts, as the eager kernel does
    loose: Any = eager  # float and int where int and bool are declared: numba converts
    assert d(x, 4.0, 1) == loose(x, 4.0, 1)


def test_compile_deferred_compiles_every_unused_kernel() -> None:
    made = [_deferred() for _ in range(3)]
    made[0](np.arange(2.0), 1, True)
    compile_deferred()
    assert all(not k.deferred and len(k.signatures) == 1 for k in made)
    assert compile_deferred() == 0


def test_no_signatures_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one"):
        kernel_on_first_use()


@pytest.mark.slow
def test_importing_the_quoter_twin_kernels_loads_nothing() -> None:
    """The point of it, in a fresh process: the quoter twin's kernels module (five kernels
    with explicit signatures, four of them only ever called by its other kernels) loads no
    machine code when imported; the warm-up's compile_deferred then has them all."""
    code = textwrap.dedent(
        """
        import json
        from numba.core import caching
        loads = []
        orig = caching.Cache.load_overload
        def counted(self, sig, ctx):
            loads.append(self._name)
            return orig(self, sig, ctx)
        caching.Cache.load_overload = counted
        import mmkit.quoting._kernels_glft_quoter_twin as kt
        at_import = list(loads)
        from mmkit.deferred_kernels import compile_deferred
        n = compile_deferred()
        print(json.dumps({"at_import": at_import, "deferred": n,
                          "left": [k.deferred for k in (kt._side, kt.glft_quote)]}))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=600
    ).stdout
    got = json.loads(out.strip().splitlines()[-1])
    assert got["at_import"] == []
    assert got["deferred"] >= 5
    assert got["left"] == [False, False]
