"""Kernels with explicit signatures, compiled (or loaded from numba's cache) on first use.

A helper kernel that other kernels call with constant arguments (a side flag, an op kind)
needs explicit signatures: numba types a constant argument as a literal and, for a
dispatcher without signatures, compiles one version per constant value. But numba compiles
explicit signatures when the function is *defined*, and with ``cache=True`` that means
loading its machine code from the cache on every import (~2-5 ms a kernel) although the
kernels that call it carry its code already when they come from the cache themselves. In
a backtest, seven such helpers were loaded for nothing: ~21 ms of every process.

:func:`kernel_on_first_use` gives the same kernel with its signatures compiled when it is
first *needed*: when a calling kernel is being typed (the caller is not cached), or when
Python calls it. From then on it is exactly the eager kernel: those signatures and no
others (compilation disabled, so literal arguments convert to them). The kernel warm-up's
workers (:mod:`mmkit.runtime.precompile`) call :func:`compile_deferred` after driving the
run's components, so every such kernel of the modules they loaded is in numba's cache, as
an eager kernel would be, and no path of a run compiles one mid-session.

A trading session (``mmkit trade``, paper or live) calls :func:`compile_deferred` once its
engine is built: a twin that calls a deferred kernel from Python (the GLFT quoter's) would
otherwise load it from the cache at its first use, the first quote after warm-up, which
then took ~10 ms instead of ~50 µs. Loading the nine deferred kernels of the default set
costs ~27 ms once at start-up (measured 2026-12-06). Backtests keep them deferred: there
a process's start-up is the figure, and no order is waiting on it.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, TypeVar, cast

from numba import njit
from numba.core.registry import CPUDispatcher

F = TypeVar("F", bound=Callable[..., Any])

#: every kernel made by kernel_on_first_use, for compile_deferred
_made: weakref.WeakSet[Any] = weakref.WeakSet()


class _DeferredDispatcher(CPUDispatcher):
    """A CPU dispatcher whose explicit signatures wait for the first use (module
    docstring). Instances are made by :func:`kernel_on_first_use` only."""

    def _compile_deferred(self) -> None:
        sigs = self.__dict__.pop("_deferred_sigs", None)
        if sigs is None:
            return
        for sig in sigs:
            self.compile(sig)
        self.disable_compile()

    def get_call_template(self, args: Any, kws: Any) -> Any:
        # a kernel being typed calls this one: the signatures first, then numba's matching
        self._compile_deferred()
        return super().get_call_template(args, kws)

    def _compile_for_args(self, *args: Any, **kws: Any) -> Any:
        # a call from Python that matched no compiled version yet; numba's dispatcher then
        # calls what this returns with the call's arguments: the dispatcher itself, which
        # now has the signatures (and converts arguments to them, as an eager kernel does)
        if "_deferred_sigs" in self.__dict__:
            self._compile_deferred()
            return self
        return super()._compile_for_args(*args, **kws)  # type: ignore[misc]

    @property
    def deferred(self) -> bool:
        """Whether the signatures still wait for the first use."""
        return "_deferred_sigs" in self.__dict__


def kernel_on_first_use(*signatures: str, **options: Any) -> Callable[[F], F]:
    """``numba.njit(signatures, **options)``, with the signatures compiled on first use
    (module docstring). At least one signature is required."""
    if not signatures:
        raise ValueError("kernel_on_first_use needs at least one explicit signature")

    def decorate(fn: F) -> F:
        disp: Any = njit(**options)(fn)
        disp.__class__ = _DeferredDispatcher
        disp._deferred_sigs = signatures
        _made.add(disp)
        return cast(F, disp)

    return decorate


def compile_deferred() -> int:
    """Compile (or load from numba's cache) every deferred kernel not used yet; returns
    how many there were."""
    pending = [d for d in list(_made) if d.deferred]
    for d in pending:
        d._compile_deferred()
    return len(pending)
