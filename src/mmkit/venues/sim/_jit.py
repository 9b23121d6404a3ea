"""How the simulated exchange's kernel-only helpers are compiled.

A function that only other kernels call is decorated with :data:`kernel_helper` instead of
``@njit(cache=True)``: numba then compiles it inside its callers once per argument *types*.
An ``@njit`` function called from a kernel with constant arguments is compiled again for
every combination of constants (``result_record`` nine times, ``new_record`` seven), and
``inline="always"`` re-types the body at every call site: together seconds of the first
run's compile. ``no_cpython_wrapper=False`` gives the helpers the compile flags of the
``@njit`` kernels that call them, so that a helper called both from such a kernel and from
another helper is still compiled once (numba keys a helper's compilation on its caller's
flags too). The hot book helpers of ``_kernels_book`` stay ``inline="always"``: they run on
every market event and inlining them is measurably faster.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from numba.extending import register_jitable

F = TypeVar("F", bound=Callable[..., Any])

_decorate: Callable[[Any], Any] = register_jitable(no_cpython_wrapper=False)


def kernel_helper(fn: F) -> F:
    """Register ``fn`` as a helper of other kernels (see the module docstring); ``fn``
    itself stays a plain Python function."""
    out: F = _decorate(fn)
    return out
