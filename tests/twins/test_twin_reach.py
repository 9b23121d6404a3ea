"""The audit reads the code of the kernels a twin runs (:func:`mmkit.twins.exactness.read_twin`)
after finding them itself (:func:`mmkit.twins.reach.kernels_of`): however a twin names its
kernels it finds them, it finds exactly the built-in twins' kernel modules, and it FAILs a
third-party twin whose code rounds unlike Python where the drawn streams cannot see it."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from mmkit.audit.results import Status
from mmkit.config.loader import load_settings
from mmkit.plugin_manager import PluginHost
from mmkit.registry import KINDS
from mmkit.twins import TwinError, make_twin, twin_method
from mmkit.twins.exactness import (
    EXACT_KERNEL_MODULES,
    kernel_source_hazards,
    option_hazards,
    read_twin,
)
from mmkit.twins.reach import kernels_of

REPO = Path(__file__).resolve().parents[2]
BROKEN_SRC = REPO / "plugins" / "mmkit-broken-fixtures" / "src"

_KERNELS = """
import math
from numba import njit

HALF = 0.5
TWO = 2


@njit
def by_alias(x):
    return x + 1.0


@njit
def imported_in_method(x):
    return x + 2.0


@njit
def in_table(x):
    return x + 3.0


@njit
def on_instance(x):
    return x + 4.0


@njit
def via_helper(x):
    return x + 5.0


@njit
def callee(x):
    return x * 3.0


@njit
def caller(x):
    return callee(x) + 1.0


@njit
def in_closure(x):
    return x - 1.0


@njit
def in_property(x):
    return x * 0.25


@njit
def only_the_reference(x):
    return x / 3.0


@njit
def only_built_by_name(x):
    return x / 7.0


@njit
def decay(x):
    return 1.0 - HALF ** x


@njit
def decay_from_array(f, x):
    return 1.0 - f[0] ** x


@njit
def int_power(d):
    return float(10 ** TWO)  # exact: int ** int


@njit(fastmath=True)
def fast(a, b, c):
    return a * b + c
"""

_COMPONENT = """
import reach_sample_kernels as kern
from reach_sample_kernels import by_alias as _unused_alias  # noqa: F401

TABLE = {"k": kern.in_table}


def helper(x):
    return kern.via_helper(x)


def make_closure():
    k = kern.in_closure

    def run(x):
        return k(x)

    return run


class Reference:
    def value(self, x):
        return kern.only_the_reference(x)

    def twin(self):
        return Twin()


class Twin(Reference):
    def __init__(self):
        self.k = kern.on_instance
        self.run = make_closure()

    def value(self, x):
        from reach_sample_kernels import imported_in_method

        return imported_in_method(kern.by_alias(x)) + TABLE["k"](x) + helper(x)

    def chain(self, x):
        return kern.caller(x) + self.k(x) + self.run(x)

    @property
    def scaled(self):
        return kern.in_property(1.0)

    def dynamic(self, x):
        return getattr(kern, "only_" + "built_by_name")(x)
"""


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[ModuleType, ModuleType]:
    d = tmp_path_factory.mktemp("reach_sample")
    (d / "reach_sample_kernels.py").write_text(_KERNELS)
    (d / "reach_sample_component.py").write_text(_COMPONENT)
    sys.path.insert(0, str(d))
    try:
        kern = importlib.import_module("reach_sample_kernels")
        comp = importlib.import_module("reach_sample_component")
    finally:
        sys.path.remove(str(d))
    return kern, comp


def test_the_walk_finds_a_kernel_however_the_twin_names_it(
    sample: tuple[ModuleType, ModuleType],
) -> None:
    _, comp = sample
    ref = comp.Reference()
    twin = ref.twin()
    found = {w.split(":")[1] for w in kernels_of(twin, skip=("twin",))}
    assert found == {
        "by_alias",  # kern.by_alias
        "imported_in_method",  # from ... import inside a method
        "in_table",  # a dict of kernels named by the code
        "on_instance",  # self.k = kern.on_instance
        "via_helper",  # a module function the method calls
        "caller",
        "callee",  # a kernel its kernel calls
        "in_closure",  # a helper's closure
        "in_property",  # a property's getter
        "only_the_reference",  # the inherited method: a twin may run it
    }
    # computed names are the documented blind spot
    assert "only_built_by_name" not in found
    # the reference, without following twin(): its own kernel only
    assert {w.split(":")[1] for w in kernels_of(ref, skip=("twin",))} == {"only_the_reference"}
    # following twin() would charge the reference with the twin's kernels
    assert len(kernels_of(ref)) > 1


def test_the_source_read_sees_a_global_number_as_the_constant_numba_makes_of_it(
    sample: tuple[ModuleType, ModuleType],
) -> None:
    kern, _ = sample
    (h,) = kernel_source_hazards("decay", kern.decay)
    assert h.what == "pow with a constant operand" and "HALF ** x" in h.evidence
    assert kernel_source_hazards("decay_from_array", kern.decay_from_array) == []
    assert kernel_source_hazards("int_power", kern.int_power) == []  # marked exact
    (f,) = option_hazards("fast", kern.fast)
    assert f.what == "compiled with fast-math"
    assert option_hazards("decay", kern.decay) == []


def test_read_twin_reads_the_twins_own_kernels_ir_on_a_fresh_compile(
    sample: tuple[ModuleType, ModuleType],
) -> None:
    kern, comp = sample

    class Decaying(comp.Twin):  # type: ignore[misc, name-defined]
        def decayed(self, x: float) -> float:
            return float(kern.decay(x) + kern.fast(x, 2.0, 1.0))

    kern.decay(0.3)
    kern.fast(1.0, 2.0, 3.0)
    read = read_twin(Decaying(), comp.Reference(), ir_skip=())
    whats = {h.what for h in read.hazards}
    assert "pow with a constant operand" in whats  # the source
    assert "compiled with fast-math" in whats  # the option
    assert "pow with a constant base became exp2" in whats  # the IR of decay
    assert any(w.startswith("fast-math flags") for w in whats)  # the IR of fast
    # the reference's kernel is not the twin's to prove; the others were read
    assert not any("only_the_reference" in h.where for h in read.hazards)
    assert "reach_sample_kernels:decay" in read.kernels
    assert read.ir_read >= 2
    # a clean twin: read, nothing found
    comp.Twin().value(1.0)
    clean = read_twin(comp.Twin(), comp.Reference(), ir_skip=())
    assert clean.hazards == () and clean.ir_read >= 3


def _host() -> Any:
    if importlib.util.find_spec("mmkit_broken_fixtures") is None:
        sys.path.insert(0, str(BROKEN_SRC))
    return PluginHost(load_entrypoints=False, extra_modules=["mmkit_broken_fixtures"])


def test_the_built_in_twins_own_kernels_are_the_modules_the_cold_compile_scan_reads() -> None:
    """The audit reads the IR of every twin kernel outside ``EXACT_KERNEL_MODULES`` itself
    and leaves those to the test suite's cold-compile scan: the list must hold every built-in
    twin's kernels, and nothing a built-in twin does not run."""
    host = PluginHost(load_entrypoints=False)
    s = load_settings(None, host.registry, env={})
    modules: set[str] = set()
    twins = 0
    for kind in KINDS:
        for spec in host.registry.of_kind(kind):
            from mmkit.audit.runner import component_targets

            try:
                (target,) = component_targets(host, s, [f"{kind}:{spec.name}"])
                ref = target.build()
            except Exception:  # venues and feeds need more than a target to build
                continue
            if twin_method(ref) is None:
                continue
            try:
                twin = make_twin(kind, target.build())
            except TwinError:
                continue
            twins += 1
            read = read_twin(twin, ref)
            assert read.hazards == (), f"{kind}:{spec.name}: {read.hazards}"
            modules |= {w.partition(":")[0] for w in read.kernels}
    assert twins >= 8
    assert modules == set(EXACT_KERNEL_MODULES)


def _run(item: str, examples: int = 30) -> Any:
    from mmkit.audit.invariants.twins import INVARIANTS
    from mmkit.audit.runner import RunContext, component_targets, run_check

    host = _host()
    s = load_settings(None, host.registry, env={})
    (target,) = component_targets(host, s, [item])
    inv = next(i for i in INVARIANTS if i.id == "twins.estimator_equivalence")
    return run_check(inv, target, RunContext(examples=examples, seed=0))


def test_the_audit_fails_a_twin_whose_decay_llvm_compiles_as_exp2(monkeypatch: Any) -> None:
    r = _run("estimator:broken_exp2_vol")
    assert r.status is Status.FAIL
    assert "round unlike its Python reference" in r.message
    assert "update_decay line" in r.counterexample and "HALF **" in r.counterexample
    assert "became exp2" in r.counterexample  # the IR read on a fresh compile
    # its streams alone pass it, even with ten times the examples: only the read sees it
    import mmkit.audit.invariants.twins as inv

    monkeypatch.setattr(inv, "check_exact_code", lambda target: None)
    assert _run("estimator:broken_exp2_vol", examples=300).status is Status.PASS


def test_a_correct_third_party_twin_is_read_and_passes() -> None:
    r = _run("estimator:ewma_vol")
    assert r.status is Status.PASS, r.message
    from mmkit_broken_fixtures._kernels_twins import update
    from mmkit_broken_fixtures.twins import EwmaVol

    update(np.zeros(2), np.zeros(1, dtype=np.int64), 100.0, 0.1)
    read = read_twin(EwmaVol().twin(), EwmaVol())
    assert read.kernels == ("mmkit_broken_fixtures._kernels_twins:update",)
    assert read.ir_read == 1 and read.hazards == ()
