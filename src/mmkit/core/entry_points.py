"""Calling a numba kernel through its compiled entry point.

numba's dispatcher types every argument of every call to choose the compiled version: a few
hundred nanoseconds for a handful of arrays, microseconds for a named tuple of arrays
(:class:`~mmkit.venues.sim.state.SimState`). A caller that always passes the same types can
call the version compiled for them directly. An entry point does not check its arguments:
a float where an int is expected is truncated, an array of another dtype is read as raw
memory. Only callers whose arguments' types are guaranteed (arrays they allocated or
validated, ints they converted) use one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_entries: dict[tuple[int, Any], Callable[..., Any]] = {}


def compiled_entry(kernel: Any, sig: Any) -> Callable[..., Any]:
    """The compiled entry point of ``kernel`` (a numba dispatcher) for ``sig`` (a signature
    string or a tuple of numba types): compiled, or loaded from numba's cache, once per
    process; the dispatcher itself when this numba keeps no entry point."""
    key = (id(kernel), sig)
    got = _entries.get(key)
    if got is None:
        try:
            compiled = kernel.compile(sig)  # numba >= 0.59: that signature's entry point
        except RuntimeError:  # compilation disabled (a kernel of explicit signatures, all
            # compiled already: mmkit.deferred_kernels): the version compiled for sig
            from numba.core import sigutils

            args, _ = sigutils.normalize_signature(sig)  # type: ignore[no-untyped-call]
            compiled = kernel.overloads[tuple(args)].entry_point
        got = compiled if callable(compiled) else kernel  # another numba: the dispatcher
        _entries[key] = got
    return got


def entry_for(kernel: Any, *args: Any) -> Callable[..., Any]:
    """The compiled entry point of ``kernel`` for the types of ``args`` (typed once here,
    with numba's ``typeof``); for a caller whose later calls pass the same types."""
    from numba import typeof

    return compiled_entry(kernel, tuple(typeof(a) for a in args))  # type: ignore[no-untyped-call]
