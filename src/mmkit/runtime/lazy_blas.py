"""numba's start without importing scipy's linear algebra (~0.13 s of every kernel process).

When numba loads its first kernel it imports ``numba.np.arraymath``, whose module body asks
whether a BLAS is available by importing ``scipy.linalg.cython_blas``. Importing that one
extension runs ``scipy.linalg``'s ``__init__``, which imports all of scipy's linear algebra
(and, through scipy's array-API layer, ``numpy.testing`` and ``numpy.f2py``): 0.13 to
0.15 s on the 2-core benchmark machine, in every ``mmkit backtest``, ``trade``, ``sweep``
worker and kernel warm-up worker, although no built-in kernel calls a BLAS routine. (A
process without scipy installed, as hftbacktest's environment, pays nothing there.)

The answer numba wants is only *whether* the extension can be imported, and numba's C
helpers import it by themselves at a kernel's first BLAS call. :func:`defer_blas_probe`
therefore answers that one question by looking the extension up on disk, without importing
it, at the moment numba asks; it changes nothing else:

* The answer is the one the import would give when scipy is installed and sound: True when
  ``scipy/linalg/cython_blas`` is there, an ``ImportError`` (no BLAS) when it is not.
* Only the probe in ``numba.np.arraymath``'s module body is answered this way: the first call
  restores numba's own ``ensure_blas`` in both modules. Every later call (the typing of a
  kernel that uses ``np.dot`` or ``np.linalg``) is numba's, with its import of scipy and its
  check of scipy's BLAS integer width against numba's build.
* Nothing happens when ``numba.np.arraymath`` was imported before (numba had already asked)
  or when numba's internals differ from what this expects (no ``ensure_blas``).

The ``mmkit`` command and the kernel warm-up's workers install it before anything imports
numba; a library user who imports mmkit's modules gets numba's ordinary start.
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import importlib.util
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

#: the numba module whose body probes for a BLAS, and the function it calls
PROBING_MODULE = "numba.np.arraymath"
PROBE_CALLER = "_check_blas"


def scipy_blas_present() -> bool:
    """Whether ``scipy.linalg.cython_blas`` is on disk, found without importing scipy."""
    try:
        spec = importlib.util.find_spec("scipy")
    except (ImportError, ValueError, AttributeError):  # e.g. sys.modules["scipy"] = None
        return False
    if spec is None or not spec.submodule_search_locations:
        return False
    linalg = [f"{loc}/linalg" for loc in spec.submodule_search_locations]
    return importlib.machinery.PathFinder.find_spec("cython_blas", linalg) is not None


def _deferred_probe(real: Callable[[], None]) -> Callable[[], None]:
    """An ``ensure_blas`` that answers ``numba.np.arraymath``'s import-time probe from the
    disk and puts numba's own function back on its first call."""

    def ensure_blas() -> None:
        for name in ("numba.np.linalg", PROBING_MODULE):
            mod = sys.modules.get(name)
            if mod is not None and getattr(mod, "ensure_blas", None) is ensure_blas:
                mod.ensure_blas = real  # type: ignore[attr-defined]
        caller = sys._getframe(1)
        if caller.f_code.co_name != PROBE_CALLER or caller.f_globals.get("__name__") != (
            PROBING_MODULE
        ):
            real()  # any other first caller gets numba's full check
            return
        if not scipy_blas_present():
            raise ImportError("scipy.linalg.cython_blas not found")

    return ensure_blas


class _ProbeDeferral:
    """A meta path finder (not derived from ``importlib.abc``, whose import costs ~10 ms)
    that steps in once, when ``numba.np.arraymath`` is about to be imported: it replaces
    ``numba.np.linalg.ensure_blas`` (which arraymath binds at its import) and lets the
    ordinary finders load the module."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != PROBING_MODULE:
            return None
        _remove(self)
        try:
            import numba.np.linalg as nl
        except Exception:  # numba's own import fails: its error comes from its own import
            return None
        real = getattr(nl, "ensure_blas", None)
        if callable(real):
            nl.ensure_blas = _deferred_probe(real)
        return None


def _remove(finder: Any) -> None:
    with contextlib.suppress(ValueError):  # already gone
        sys.meta_path.remove(finder)


def defer_blas_probe() -> bool:
    """Install the deferral (once per process); False when numba already probed."""
    if PROBING_MODULE in sys.modules:
        return False
    if not any(isinstance(f, _ProbeDeferral) for f in sys.meta_path):
        sys.meta_path.insert(0, _ProbeDeferral())
    return True
