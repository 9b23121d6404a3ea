"""What would make a compiled twin's kernel differ from its Python reference by an ulp, found
in the kernel's own source and in the code LLVM made of it.

A twin is exact because numba compiles IEEE arithmetic as written: the same operations in
the same order give the same bits as CPython. That holds only while LLVM keeps the
operations. It does not when:

* a ``pow`` has a constant operand: LLVM rewrites ``0.5 ** x`` as ``exp2(-x)``, ``x ** 0.5``
  as ``sqrt``, ``x ** 2.0`` as ``x * x`` (CPython calls libm's ``pow``, whose last bit can
  differ from each of those);
* fast-math flags reach an instruction (``fastmath=True`` on the kernel or on one it inlines):
  reassociation, fused multiply-adds, reciprocals;
* a call becomes one that rounds differently: ``llvm.fma`` / ``llvm.fmuladd`` (one rounding
  for two), ``exp2`` / ``exp10`` / ``powi``, ``minnum`` / ``maxnum`` (NaN handled unlike
  Python's ``min`` / ``max``), or a vector math library's function (Intel's SVML, which
  numba uses when the ``icc_rt`` package is installed, or glibc's libmvec) in place of
  libm's scalar one.

Random streams find such an ulp only where the values happen to round differently (the
RL agent's twin passed three full CI runs before one hit ``exp2``), so these checks read the
code instead: :func:`source_hazards` reads a kernel module's source for ``**`` and ``pow``
with a constant operand, :func:`ir_hazards` reads the optimised LLVM IR of every compiled
signature of its kernels. The IR exists only for kernels compiled in this process (numba's
cache keeps object code only): run the scan in a process whose ``NUMBA_CACHE_DIR`` is empty
(``tests/twins/test_kernel_exactness.py`` does). :data:`EXACT_KERNEL_MODULES` lists the
built-in twins' kernel modules; a third-party twin can scan its own the same way.

A ``**`` whose constant operand is harmless (integer operands: exact in both) is marked in
the source with ``# exact: <why>`` on its line.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import textwrap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

_UNKNOWN = object()

__all__ = [
    "EXACT_KERNEL_MODULES",
    "Hazard",
    "TwinRead",
    "dispatchers",
    "fresh_ir",
    "ir_hazards",
    "kernel_source_hazards",
    "option_hazards",
    "read_twin",
    "scan_ir",
    "source_hazards",
]

#: the built-in twins' kernel modules: each kernel must give its reference's bits
EXACT_KERNEL_MODULES: tuple[str, ...] = (
    "mmkit.estimators._kernels_kappa_orchestrator_twin",
    "mmkit.estimators._kernels_sigma_estimator_twin",
    "mmkit.estimators._kernels_warmup_twin",
    "mmkit.gates._kernels_data_quality_twin",
    "mmkit.gates._kernels_kill_switch_twin",
    "mmkit.quoting._kernels_glft_quoter_twin",
    "mmkit.execution._kernels_reconciler_twin",
    "mmkit.execution._kernels_order_table",
    "mmkit.execution._kernels_permit",
    "mmkit.signals._kernels_features",
    "mmkit.signals._kernels_leadlag_twin",
)


@dataclass(frozen=True)
class Hazard:
    """One place where a kernel may round unlike its reference."""

    #: ``module:function`` (and the signature, for the IR's)
    where: str
    #: what is wrong, in words
    what: str
    #: the source line or the IR instruction that shows it
    evidence: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what} ({self.evidence})"


#: fast-math flags on a floating-point instruction of the IR
_FAST = re.compile(
    r"= (?:fadd|fsub|fmul|fdiv|frem|fneg|fcmp|call|select|phi)"
    r"((?: (?:fast|reassoc|nnan|ninf|nsz|arcp|contract|afn))+) "
)
#: calls whose rounding (or NaN handling) is not the operation CPython performs
_CALLS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"@llvm\.exp2\.|@exp2\(|@exp2f\("), "pow with a constant base became exp2"),
    (re.compile(r"@llvm\.exp10\.|@exp10\("), "pow with a constant base became exp10"),
    (re.compile(r"@llvm\.powi\."), "pow with an integer exponent became powi (repeated products)"),
    (re.compile(r"@llvm\.fma\.|@llvm\.fmuladd\.|@fma\("), "a fused multiply-add (one rounding)"),
    (
        re.compile(r"@llvm\.(?:minnum|maxnum|minimum|maximum)\."),
        "min / max with other NaN rules than Python's",
    ),
    (re.compile(r"@__svml_"), "a function of Intel's SVML instead of libm's"),
    (re.compile(r"@_ZGV"), "a function of a vector math library instead of libm's"),
)


def ir_hazards(ir: str, where: str = "") -> list[Hazard]:
    """The hazards in optimised LLVM IR (each kind once, with its first instruction)."""
    out: list[Hazard] = []
    seen: set[str] = set()
    for line in ir.splitlines():
        if line.startswith(("declare", ";", "!", "attributes")):
            continue
        m = _FAST.search(line)
        if m and "fast-math" not in seen:
            seen.add("fast-math")
            what = f"fast-math flags ({m.group(1).strip()})"
            out.append(Hazard(where, what, line.strip()[:160]))
        if "call" not in line:
            continue
        for pat, what in _CALLS:
            if what not in seen and pat.search(line):
                seen.add(what)
                out.append(Hazard(where, what, line.strip()[:160]))
    return out


def dispatchers(module: ModuleType) -> Iterator[tuple[str, Any]]:
    """The numba dispatchers a module defines (not those it imports): ``(name, dispatcher)``."""
    from numba.core.dispatcher import Dispatcher

    for name, obj in vars(module).items():
        if isinstance(obj, Dispatcher) and obj.py_func.__module__ == module.__name__:
            yield name, obj


def scan_ir(modules: Iterable[str] = EXACT_KERNEL_MODULES) -> tuple[list[Hazard], list[str]]:
    """Every compiled signature of every kernel of ``modules``: the hazards in its IR, and
    the kernels it could not read: ``module:function`` with no compiled signature (nothing
    called it) or one loaded from numba's cache (no IR kept). A helper compiled with
    ``inline="always"`` has no code of its own: it is read in its callers' IR."""
    hazards: list[Hazard] = []
    unread: list[str] = []
    for mod_name in modules:
        mod = importlib.import_module(mod_name)
        for name, disp in dispatchers(mod):
            where = f"{mod_name}:{name}"
            overloads = list(disp.overloads.items())
            if disp.targetoptions.get("inline") == "always":
                continue
            if not overloads:
                unread.append(f"{where} (never compiled)")
            for sig, cres in overloads:
                lib = cres.library
                if getattr(lib, "_disable_inspection", False):
                    unread.append(f"{where}{sig} (loaded from the cache)")
                    continue
                hazards += ir_hazards(lib.get_llvm_str(), f"{where}{sig}")
    return hazards, unread


def _value(node: ast.expr, scope: dict[str, Any]) -> Any:
    """The value a name or a dotted name has in ``scope`` (numba freezes a kernel's globals
    as compile-time constants), or ``_UNKNOWN``."""
    if isinstance(node, ast.Name):
        return scope.get(node.id, _UNKNOWN)
    if isinstance(node, ast.Attribute):
        base = _value(node.value, scope)
        return _UNKNOWN if base is _UNKNOWN else getattr(base, node.attr, _UNKNOWN)
    return _UNKNOWN


def _const(node: ast.expr, scope: dict[str, Any] | None = None) -> bool:
    """A numeric literal, minus one, or a name whose global value is a number: numba
    compiles a global as the constant it holds, so ``HALF ** x`` is ``0.5 ** x`` to LLVM."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    if isinstance(node, ast.Constant):
        value: Any = node.value
    elif scope is not None:
        value = _value(node, scope)
    else:
        return False
    return isinstance(value, int | float) and not isinstance(value, bool)


def _pow_operands(node: ast.AST) -> tuple[ast.expr, ast.expr] | None:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        return node.left, node.right
    if isinstance(node, ast.Call) and len(node.args) == 2:
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
        if name in ("pow", "power"):
            return node.args[0], node.args[1]
    return None


def source_hazards(module: ModuleType | str) -> list[Hazard]:
    """``**``, ``pow`` and ``power`` with a numeric literal (or a name of a global number)
    for an operand in the source of a module's kernels, unless the line says ``# exact:``
    why it is harmless."""
    mod = importlib.import_module(module) if isinstance(module, str) else module
    out: list[Hazard] = []
    for name, disp in dispatchers(mod):
        out += kernel_source_hazards(f"{mod.__name__}:{name}", disp)
    return out


def kernel_source_hazards(where: str, disp: Any) -> list[Hazard]:
    """The constant ``pow`` of one kernel's source (see :func:`source_hazards`)."""
    try:
        lines, first = inspect.getsourcelines(disp.py_func)
    except (OSError, TypeError) as exc:
        return [Hazard(where, "its source could not be read", str(exc))]
    scope = getattr(disp.py_func, "__globals__", {})
    out: list[Hazard] = []
    for node in ast.walk(ast.parse(textwrap.dedent("".join(lines)))):
        ops = _pow_operands(node)
        if not isinstance(node, ast.expr) or ops is None:
            continue
        if not (_const(ops[0], scope) or _const(ops[1], scope)):
            continue
        line = lines[node.lineno - 1]
        if "# exact:" in line:
            continue
        at = f"{where} line {first + node.lineno - 1}"
        out.append(Hazard(at, "pow with a constant operand", line.strip()))
    return out


def option_hazards(where: str, disp: Any) -> list[Hazard]:
    """A kernel compiled with fast-math (``fastmath=True`` or a set of its flags)."""
    fm = disp.targetoptions.get("fastmath")
    if fm:
        return [Hazard(where, "compiled with fast-math", f"fastmath={fm!r}")]
    return []


@dataclass(frozen=True)
class TwinRead:
    """What :func:`read_twin` read of a twin's own kernels, and what it found."""

    #: the twin's own kernels (``module:function``), read in their source and options
    kernels: tuple[str, ...]
    #: the compiled signatures whose IR was read (on a fresh compile)
    ir_read: int
    #: what may round unlike the reference
    hazards: tuple[Hazard, ...]

    def summary(self) -> str:
        k, n = len(self.kernels), self.ir_read
        return (
            f"{k} kernel{'s' if k != 1 else ''} of its own read (source and options), "
            f"the LLVM IR of {n} compiled signature{'s' if n != 1 else ''}"
        )


def fresh_ir(disp: Any, sig: Any) -> str:
    """The optimised LLVM IR of ``disp`` for ``sig``, from a compile of its Python source
    that bypasses numba's cache (which keeps no IR)."""
    import warnings

    from numba import njit

    opts = {k: v for k, v in disp.targetoptions.items() if k not in ("cache", "nopython")}
    fresh = njit(**opts)(disp.py_func)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fresh.compile(sig)
    text: str = fresh.inspect_llvm(sig)
    return text


def read_twin(
    twin: object, reference: object, ir_skip: Iterable[str] = EXACT_KERNEL_MODULES
) -> TwinRead:
    """Read the kernels ``twin`` runs that ``reference`` does not (a kernel both call gives
    both the same bits): their source for constant ``pow`` (:func:`kernel_source_hazards`),
    their options for fast-math, and the IR of every signature this process compiled, on a
    fresh compile (:func:`fresh_ir`), except for the modules of ``ir_skip`` (the built-in
    twins', whose every kernel the test suite reads on a cold compile). A kernel whose code
    cannot be read is a hazard: it cannot be shown exact."""
    from mmkit.twins.reach import kernels_of

    theirs = kernels_of(reference, skip=("twin",))
    own = {w: d for w, d in sorted(kernels_of(twin, skip=("twin",)).items()) if w not in theirs}
    skip = set(ir_skip)
    hazards: list[Hazard] = []
    ir_read = 0
    for where, disp in own.items():
        hazards += kernel_source_hazards(where, disp) + option_hazards(where, disp)
        if disp.py_func.__module__ in skip or disp.targetoptions.get("inline") == "always":
            continue
        for sig in list(disp.signatures):
            try:
                hazards += ir_hazards(fresh_ir(disp, sig), f"{where}{sig}")
            except Exception as exc:  # numba raises many kinds; the kernel stays unproven
                hazards.append(Hazard(f"{where}{sig}", "its IR could not be read", repr(exc)))
                continue
            ir_read += 1
    return TwinRead(tuple(own), ir_read, tuple(hazards))
