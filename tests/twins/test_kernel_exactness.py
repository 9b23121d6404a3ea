"""The twins' kernels hold no code that rounds unlike their Python references
(:mod:`mmkit.twins.exactness`): no ``pow`` with a constant operand in their source, and, in
the LLVM IR a cold compile makes of every kernel, no fast-math flag, fused multiply-add,
``exp2`` / ``exp10`` / ``powi``, NaN-blind min / max or vector math library call.

Random lockstep streams find such a difference only where the values happen to round
differently (the RL agent's twin passed three full CI runs before one hit an ``exp2``); this
reads the code. The scanners themselves are tested on kernels made to hold each hazard,
today's ``exp2`` among them.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from mmkit.signals import _kernels_features as kern
from mmkit.twins.exactness import (
    EXACT_KERNEL_MODULES,
    Hazard,
    dispatchers,
    ir_hazards,
    scan_ir,
    source_hazards,
)

ROOT = Path(__file__).resolve().parents[2]

_SAMPLE = """
import math
from numba import njit


@njit
def half_pow(x):
    return 0.5 ** x


@njit
def square(x):
    return x ** 2.0


@njit
def root(x):
    return math.pow(x, 0.5)


@njit
def int_pow(d):
    return float(10**d)  # exact: int ** int


@njit
def free_pow(h, x):
    return h ** x


@njit(fastmath=True)
def fast(a, b, c):
    return a * b + c


@njit
def calls_fast(a, b, c):
    return fast(a, b, c) * 2.0


def not_a_kernel(x):
    return 0.5 ** x
"""


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """A module of small kernels, each holding one hazard or none, compiled in this process
    without the cache (so their IR can be read)."""
    d = tmp_path_factory.mktemp("exactness_sample")
    (d / "exactness_sample.py").write_text(_SAMPLE)
    sys.path.insert(0, str(d))
    try:
        mod = importlib.import_module("exactness_sample")
    finally:
        sys.path.remove(str(d))
    mod.half_pow(0.3)
    mod.square(0.3)
    mod.root(0.3)
    mod.int_pow(3)
    mod.free_pow(0.5, 0.3)
    mod.calls_fast(1.0, 2.0, 3.0)
    return mod


def _ir(disp: Any) -> str:
    (cres,) = disp.overloads.values()
    text: str = cres.library.get_llvm_str()
    return text


def test_the_twins_kernel_sources_hold_no_constant_pow() -> None:
    for name in EXACT_KERNEL_MODULES:
        assert source_hazards(name) == [], name


def test_the_source_scan_finds_each_constant_pow(sample: ModuleType) -> None:
    found = {h.where.split(":")[1].split()[0] for h in source_hazards(sample)}
    # the int power is marked harmless, the free one has no constant, the plain Python
    # function is not a kernel
    assert found == {"half_pow", "square", "root"}


def test_the_ir_scan_finds_exp2_and_fast_math_also_through_an_inlined_call(
    sample: ModuleType,
) -> None:
    assert [h.what for h in ir_hazards(_ir(sample.half_pow))] == [
        "pow with a constant base became exp2"
    ]
    assert ir_hazards(_ir(sample.free_pow)) == []
    assert ir_hazards(_ir(sample.int_pow)) == []
    for disp in (sample.fast, sample.calls_fast):
        (h,) = ir_hazards(_ir(disp))
        assert h.what.startswith("fast-math flags")


def test_the_features_kernel_with_its_old_constant_base_is_caught() -> None:
    """The RL agent's CI failure: ``0.5 ** (dt / half_life)`` in the top-of-book kernel."""
    import inspect

    import numpy as np
    from numba import njit

    lines = inspect.getsourcelines(kern.top.py_func)[0]
    src = "".join(x for x in lines if not x.startswith("@")).replace("f[F_HALF] **", "0.5 **")
    assert "0.5 **" in src
    scope = dict(vars(kern))
    exec(compile(src, "old_top", "exec"), scope)
    old = njit(scope["top"])
    f = np.zeros(kern.NF)
    f[[kern.F_VOL_HL, kern.F_FLOW_HL, kern.F_HALF]] = 3e10, 3e10, 0.5
    old(f, np.zeros(kern.NI, dtype=np.int64), 99.0, 1.0, 101.0, 1.0, 10**9)
    assert "pow with a constant base became exp2" in {h.what for h in ir_hazards(_ir(old))}
    now = njit(kern.top.py_func)  # today's, compiled afresh: the base read from the array
    now(f, np.zeros(kern.NI, dtype=np.int64), 99.0, 1.0, 101.0, 1.0, 10**9)
    assert ir_hazards(_ir(now)) == []


@pytest.mark.parametrize(
    ("line", "what"),
    [
        ("  %1 = call double @llvm.fma.f64(double %a, double %b, double %c)", "fused"),
        ("  %1 = call double @llvm.fmuladd.f64(double %a, double %b, double %c)", "fused"),
        ("  %1 = call double @llvm.minnum.f64(double %a, double %b)", "min / max"),
        ("  %1 = call double @llvm.maximum.f64(double %a, double %b)", "min / max"),
        ("  %1 = call double @llvm.powi.f64.i32(double %a, i32 3)", "powi"),
        ("  %1 = tail call double @exp10(double %a)", "exp10"),
        ("  %1 = call <4 x double> @__svml_exp4_ha(<4 x double> %a)", "SVML"),
        ("  %1 = call <2 x double> @_ZGVbN2v_exp(<2 x double> %a)", "vector math"),
        ("  %1 = fadd reassoc nsz double %a, %b", "fast-math flags (reassoc nsz)"),
        ("  %1 = fcmp nnan olt double %a, %b", "fast-math flags (nnan)"),
    ],
)
def test_each_ir_hazard_is_named(line: str, what: str) -> None:
    (h,) = ir_hazards(f"define i32 @k() {{\n{line}\n  ret i32 0\n}}", "k")
    assert what in h.what and h.evidence == line.strip() and h.where == "k"


@pytest.mark.parametrize(
    "line",
    [
        "  %1 = call double @llvm.pow.f64(double %h, double %x)",
        "  %1 = call double @llvm.exp.f64(double %x)",
        "  %1 = call <4 x double> @llvm.exp.v4f64(<4 x double> %x)",  # scalarised to libm's
        "  %1 = call double @llvm.sqrt.f64(double %x)",
        "  %1 = fadd double %a, %b",
        "declare double @llvm.fma.f64(double, double, double)",  # declared, not called
        "; fast reassoc in a comment",
    ],
)
def test_plain_ir_is_clean(line: str) -> None:
    assert ir_hazards(line) == []


def test_a_kernel_loaded_from_the_cache_is_reported_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """numba keeps no IR in its cache: such a kernel cannot be read, and says so."""
    mod = importlib.import_module(EXACT_KERNEL_MODULES[0])
    name, disp = next(iter(dispatchers(mod)))

    class Lib:
        _disable_inspection = True

    class Cres:
        library = Lib()

    monkeypatch.setattr(disp, "overloads", {"(float64,)": Cres()})
    hazards, unread = scan_ir([mod.__name__])
    assert f"{mod.__name__}:{name}(float64,) (loaded from the cache)" in unread
    assert all(isinstance(h, Hazard) for h in hazards)


#: runs in a fresh process on an empty numba cache: the default set's twins through the
#: kernel warm-up's twin groups, the other twins and the rare kernels through their tests,
#: then every kernel of the exact modules is read
_COLD_SCAN = """
import json, os, sys
from pathlib import Path
from mmkit.runtime import precompile
precompile.warm_in_process(precompile.TWIN_GROUPS, Path(os.environ["NUMBA_CACHE_DIR"]))
import pytest
rc = pytest.main(["-q", "-p", "no:cacheprovider", "-o", "addopts=", *sys.argv[1:]])
from mmkit.estimators.params import SigmaParams
from mmkit.estimators.sigma_estimator import SigmaEstimator
SigmaEstimator(SigmaParams()).twin().pf.step(0.001)  # the filter's bookkeeping kernel
from mmkit.twins.exactness import scan_ir
hazards, unread = scan_ir()
print("SCAN " + json.dumps({"rc": int(rc), "hazards": [str(h) for h in hazards],
                            "unread": unread}))
"""

#: tests whose streams reach the kernels the warm-up does not (the signals' twins, the
#: order table, the permit, the kill switch's rejection window, the diff kernel, fsum)
_DRIVERS = (
    "tests/twins/test_signals_twins.py",
    "tests/twins/test_lead_lag_twin.py",
    "tests/twins/test_smart_executor_twin.py::test_twin_with_the_order_table_equals_reference",
    "tests/twins/test_smart_executor_twin.py::test_tape_marks_kernel_equals_reference",
    "tests/twins/test_smart_executor_twin.py::test_tape_marks_in_the_table_rows_equal_the_reference",
    "tests/twins/test_smart_executor_twin.py::test_diff_kernel_runs_compiled_for_a_sane_ladder",
    "tests/execution/test_permit_arrays.py",
    "tests/twins/test_kill_switch_twin.py::test_twin_equals_reference_with_default_params",
    "tests/twins/test_kill_switch_twin.py::test_rings_wrap_around_as_the_window_rolls",
    "tests/twins/test_kappa_orchestrator_twin.py::test_fsum_kernel_equals_math_fsum",
)


@pytest.mark.slow
def test_every_twin_kernel_compiles_to_code_that_rounds_as_its_reference(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    cache = tmp_path / "numba"
    cache.mkdir()
    env.update(NUMBA_CACHE_DIR=str(cache), MMKIT_LOAD_ENTRYPOINTS="0")
    out = subprocess.run(
        [sys.executable, "-c", _COLD_SCAN, *_DRIVERS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    lines = [x for x in out.stdout.splitlines() if x.startswith("SCAN ")]
    assert out.returncode == 0 and lines, (out.stdout[-3000:], out.stderr[-3000:])
    got = json.loads(lines[-1][5:])
    assert got["hazards"] == []
    assert got["unread"] == []
    assert got["rc"] == 0, out.stdout[-3000:]  # the drivers' own failures, after the scan


def test_the_drivers_name_existing_tests() -> None:
    """A renamed test would leave its kernels unread: the slow scan then fails on it, and
    this names the missing driver at once."""
    for d in _DRIVERS:
        path, _, name = d.partition("::")
        text = (ROOT / path).read_text()
        assert not name or re.search(rf"^def {re.escape(name)}\(", text, re.M), d
