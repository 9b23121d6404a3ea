"""What the ``mmkit`` command runs: :func:`~mmkit.cli.main.main`, then a quick exit.

* The cyclic garbage collector waits while the process imports mmkit, typer and the plugins
  (:func:`mmkit.runtime.heap.pause_startup`; the command resumes it): those imports only
  allocate objects that live as long as the process.
* numba's start does not import scipy's linear algebra to learn whether a BLAS exists
  (:func:`mmkit.runtime.lazy_blas.defer_blas_probe`, ~0.13 s of every command that runs
  kernels).
* After the command, the interpreter's teardown (dropping some thousand modules and numba's
  registries object by object, ~30 ms of a 1 s ``mmkit backtest``) is skipped: the exit
  hooks run (logging flushes and closes its files, weak-reference finalizers, third-party
  hooks), the standard streams are flushed, and the process ends with the command's exit
  status. Commands close their own files (``with`` blocks, explicit ``close``) before they
  return. While another thread still runs, the ordinary exit waits for it as Python does.

:func:`~mmkit.cli.main.main` itself stays an ordinary function that tests call in-process.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from typing import NoReturn

from mmkit.runtime.heap import pause_startup
from mmkit.runtime.lazy_blas import defer_blas_probe

#: Python's own exit status when flushing stdout fails at exit (e.g. a closed pipe)
EXIT_FLUSH_FAILED = 120


def exit_status(code: object) -> int:
    """The process exit status of ``SystemExit(code)``, as Python computes it (None: 0;
    an int: itself; anything else is printed to stderr and gives 1)."""
    if code is None:
        return 0
    if isinstance(code, int):  # a bool too: True is 1
        return int(code)
    with contextlib.suppress(Exception):  # nothing more to tell when stderr is gone
        print(code, file=sys.stderr)
    return 1


def quick_exit(code: object) -> NoReturn:
    """End the process with ``code`` (a ``SystemExit`` code) without the interpreter's
    teardown; the ordinary exit when another thread is alive."""
    status = exit_status(code)
    if threading.active_count() > 1:
        raise SystemExit(status)  # Python waits for non-daemon threads; so do we
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # a closed pipe: Python's own exit says 120
            if stream is sys.stdout and status == 0:
                status = EXIT_FLUSH_FAILED
    os._exit(status)


def run() -> NoReturn:
    """The ``mmkit`` console script (and ``python -m mmkit``)."""
    defer_blas_probe()
    pause_startup()
    from mmkit.cli.main import main

    try:
        main()
    except SystemExit as exc:
        quick_exit(exc.code)
    quick_exit(0)
