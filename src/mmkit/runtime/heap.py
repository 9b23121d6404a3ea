"""The cyclic garbage collector and mmkit's processes.

A running engine allocates short-lived objects (events, actions, lists) by the hundred
thousand, and the collector's full passes also walk every object alive since start-up:
modules, numba's type registries, configuration (about 10^5 objects once numba is loaded).
Such a pass takes tens of milliseconds: a pause in the hot loop, and several of them when
the interpreter tears down its modules at exit.

* :func:`frozen_heap` moves everything alive when a run starts into the collector's
  permanent generation for the run's duration (``gc.freeze``; :func:`settle` adds what the
  set-up allocated, before the hot loop), and back when it ends (``gc.unfreeze``), so that
  the loop's collections only walk the loop's own objects. Objects
  are still freed by reference counting; only cycles among the frozen objects wait for the
  end of the loop.
* :func:`pause_startup` / :func:`resume_startup`: the command line's start-up (importing
  mmkit, numba and the plugins, building the commands) allocates only long-lived objects,
  and collections in it walk the growing heap again and again (~30-50 ms of a 1.1 s
  ``mmkit backtest``). ``mmkit``'s entry point pauses the collector until the command
  starts; a command that builds more before its hot loop keeps it paused with
  :func:`frozen_heap` until :func:`settle`.
* :func:`fast_exit` freezes the heap at interpreter exit (an ``atexit`` hook): the process
  ends without the teardown's full passes. Files and journals are closed explicitly before
  that, and logging flushes in its own ``atexit`` hook.

Measured on ``mmkit backtest`` (``docs/research.md``): about 80 ms of collections during a
0.45 s run, and 0.2 s of interpreter teardown, both gone.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
from collections.abc import Iterator

_exit_hook = False
_depth = 0  # nesting of frozen_heap: only the outermost one freezes and unfreezes
_paused = False  # the collector is disabled until settle()


@contextlib.contextmanager
def frozen_heap(collect_during_setup: bool = True) -> Iterator[None]:
    """Keep the objects alive on entry out of the collector's passes until exit.

    ``collect_during_setup=False`` also pauses the collector until :func:`settle`, for a
    set-up that only allocates long-lived objects (numba's registries, the engine, the data).
    """
    global _depth, _paused
    _depth += 1
    outer = _depth == 1
    if outer:
        gc.freeze()
        if not collect_during_setup and gc.isenabled():
            gc.disable()
            _paused = True
    try:
        yield
    finally:
        _depth -= 1
        if outer:
            if _paused:
                gc.enable()
                _paused = False
            gc.unfreeze()


def settle() -> None:
    """Inside :func:`frozen_heap`: freeze what set-up allocated too (the engine, numba's
    registries, the market data), right before the hot loop, and resume collecting."""
    global _paused
    if _depth:
        gc.freeze()
        if _paused:
            gc.enable()
            _paused = False


_startup = False  # the collector is paused for the command line's start-up


def pause_startup() -> None:
    """Pause the collector for a start-up that allocates only long-lived objects, until
    :func:`resume_startup` (nothing happens when it is already disabled)."""
    global _startup
    if not _startup and gc.isenabled():
        gc.disable()
        _startup = True


def resume_startup() -> None:
    """End :func:`pause_startup`'s pause (idempotent)."""
    global _startup
    if _startup:
        _startup = False
        gc.enable()


def fast_exit() -> None:
    """Freeze the heap when the interpreter exits (idempotent)."""
    global _exit_hook
    if not _exit_hook:
        _exit_hook = True
        atexit.register(gc.freeze)
