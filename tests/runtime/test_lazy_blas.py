"""numba's start without importing scipy's linear algebra (:mod:`mmkit.runtime.lazy_blas`).

The oracle is numba itself: a fresh interpreter that starts numba the ordinary way. The
deferred start must give numba the same answer to its BLAS probe, leave numba's own
``ensure_blas`` in place afterwards, and compile kernels that use a BLAS (``np.dot``,
``np.linalg.solve``) and the inner product numba picks from the probe (``np.convolve``) to
the same results, while scipy's linear algebra stays unimported until such a kernel is typed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from mmkit.runtime import lazy_blas

_PROBE = textwrap.dedent(
    """
    import json, sys
    mode, hide = sys.argv[1], sys.argv[2] == "hide"
    if hide:
        sys.modules["scipy"] = None  # scipy cannot be imported, as when it is not installed
    installed = None
    if mode == "defer":
        from mmkit.runtime.lazy_blas import defer_blas_probe
        installed = defer_blas_probe()
    from numba.core.registry import cpu_target
    cpu_target.target_context.refresh()  # numba's start: its first kernel load does this
    import numba.np.arraymath as am, numba.np.linalg as nl
    out = {
        "installed": installed,
        "have_blas": am._HAVE_BLAS,
        "linalg_after_start": "scipy.linalg" in sys.modules,
        "restored": am.ensure_blas is nl.ensure_blas
        and nl.ensure_blas.__module__ == "numba.np.linalg",
        "finders_left": [type(f).__name__ for f in sys.meta_path if "Probe" in type(f).__name__],
    }
    import numba, numpy as np
    a = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.25], [0.5, 0.25, 2.0]])
    b = np.array([1.0, -2.0, 0.5])

    @numba.njit
    def inner(x, y):
        return np.convolve(x, y)

    out["convolve"] = inner(a[0], b).tolist()
    if not hide:
        @numba.njit
        def blas(m, v):
            return np.dot(m, v), np.linalg.solve(m, v)

        d, s = blas(a, b)
        out["dot"], out["solve"] = d.tolist(), s.tolist()
        out["linalg_after_blas_kernel"] = "scipy.linalg" in sys.modules
    print(json.dumps(out))
    """
)


def _run(mode: str, hide: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, mode, hide], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


@pytest.mark.slow
@pytest.mark.parametrize("hide", ["scipy", "hide"])
def test_numba_gets_the_answer_its_own_probe_gives(hide: str) -> None:
    plain = _run("plain", hide)
    deferred = _run("defer", hide)
    assert deferred["installed"] is True
    assert deferred["have_blas"] == plain["have_blas"] == (hide != "hide")
    assert deferred["restored"] and plain["restored"]
    assert deferred["finders_left"] == []  # the finder steps in once and leaves
    # the inner product numba chose from the probe, and the BLAS kernels: same results
    assert deferred["convolve"] == plain["convolve"]
    if hide != "hide":
        assert plain["linalg_after_start"] is True  # numba's own probe imports it
        assert deferred["linalg_after_start"] is False  # the point of the deferral
        assert (deferred["dot"], deferred["solve"]) == (plain["dot"], plain["solve"])
        # a kernel that uses a BLAS is typed by numba's own ensure_blas, which imports it
        assert deferred["linalg_after_blas_kernel"] is True


def test_nothing_is_installed_once_numba_has_probed() -> None:
    code = (
        "import sys, numba.np.arraymath\n"
        "from mmkit.runtime.lazy_blas import defer_blas_probe\n"
        "n = len(sys.meta_path)\n"
        "print(defer_blas_probe(), len(sys.meta_path) == n)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["False", "True"]


def test_installing_twice_adds_one_finder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.delitem(sys.modules, lazy_blas.PROBING_MODULE, raising=False)
    assert lazy_blas.defer_blas_probe() and lazy_blas.defer_blas_probe()
    assert sum(isinstance(f, lazy_blas._ProbeDeferral) for f in sys.meta_path) == 1


def test_only_numbas_import_time_probe_is_answered_from_the_disk() -> None:
    """Called from ``numba.np.arraymath._check_blas``, the probe imports nothing; from
    anywhere else, numba's own function runs (with its import and its ABI check)."""
    calls: list[str] = []

    def real() -> None:
        calls.append("real")

    probe = lazy_blas._deferred_probe(real)
    scope: dict[str, Any] = {"__name__": lazy_blas.PROBING_MODULE, "ensure_blas": probe}
    exec("def _check_blas():\n    ensure_blas()\n", scope)
    scope["_check_blas"]()
    assert calls == []  # scipy is installed here: found on disk, nothing imported
    elsewhere: dict[str, Any] = {"__name__": "some.plugin", "ensure_blas": probe}
    exec("def _check_blas():\n    ensure_blas()\n", elsewhere)
    elsewhere["_check_blas"]()
    assert calls == ["real"]


def test_the_disk_lookup_agrees_with_an_import() -> None:
    import importlib.util

    assert lazy_blas.scipy_blas_present() is (
        importlib.util.find_spec("scipy.linalg.cython_blas") is not None
    )


def test_the_mmkit_command_starts_numba_without_scipy_linalg() -> None:
    """``mmkit.cli.launch.run`` installs the deferral before the command imports numba."""
    code = textwrap.dedent(
        """
        import sys
        import mmkit.cli.main as cli

        def main():
            from mmkit.estimators.robust_kappa import log_exponential_offset
            log_exponential_offset(3.0)  # a cached kernel: numba starts
            import numba.np.arraymath as am
            print(am._HAVE_BLAS, "scipy.linalg" in sys.modules)

        cli.main = main
        from mmkit.cli.launch import run
        run()
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["True", "False"]
