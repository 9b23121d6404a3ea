"""Which numba kernels a component's code can call, read from its bytecode.

The audit reads a twin's kernels for arithmetic that rounds unlike Python
(:func:`mmkit.twins.exactness.read_twin`), so it must find them without being told: a
third-party twin may import its kernel module at the top, import a kernel inside a method,
keep one on the instance or reach it through a helper function. :func:`kernels_of` follows
the code the way a call could:

* every method of the object's class and its bases (properties' accessors, static and class
  methods, nested functions and lambdas included), and the kernels held on the instance;
* in that code, each global and closure name (and what a dict, list, tuple or set it names
  holds), each ``import`` / ``from ... import``, and each attribute
  named on a module it reaches (``kern.update``);
* into every plain function and class of the same top-level packages that the code reaches,
  and into every kernel's own Python source (a kernel that calls another).

It over-approximates on purpose (a branch never taken still counts), which is the safe side
for a check that looks for hazards. What it cannot see is a kernel reached only through a
value computed at run time (``getattr(mod, name)`` with a built name): such a twin's
kernels go unread, and :func:`mmkit.twins.exactness.read_twin` says how many it read.
"""

from __future__ import annotations

import builtins
import contextlib
import dis
import importlib
import importlib.util
import inspect
from collections import ChainMap
from collections.abc import Collection, Iterator, Mapping
from types import CodeType, FunctionType, ModuleType
from typing import Any

__all__ = ["kernels_of"]

#: a container the code names is looked into (a table of kernels) up to this many items
_MAX_ITEMS = 256


def _dispatcher_type() -> type:
    from numba.core.dispatcher import Dispatcher

    return Dispatcher


def _top(name: str | None) -> str:
    return (name or "").partition(".")[0]


def _codes(code: CodeType) -> Iterator[CodeType]:
    """A code object and every code object nested in it."""
    yield code
    for c in code.co_consts:
        if isinstance(c, CodeType):
            yield from _codes(c)


def _class_functions(cls: type, skip: Collection[str] = ()) -> Iterator[FunctionType]:
    for name, v in vars(cls).items():
        if name in skip:
            continue
        if isinstance(v, staticmethod | classmethod):
            v = v.__func__
        if isinstance(v, property):
            yield from (f for f in (v.fget, v.fset, v.fdel) if isinstance(f, FunctionType))
            continue
        inner = getattr(v, "func", None)  # functools.cached_property, partialmethod
        if isinstance(inner, FunctionType):
            yield inner
        if isinstance(v, FunctionType):
            yield v


def _import(name: str, level: int, package: str | None) -> ModuleType | None:
    try:
        full = importlib.util.resolve_name("." * level + name, package) if level else name
        return importlib.import_module(full)
    except (ImportError, ValueError):
        return None


class _Walk:
    def __init__(self, packages: set[str], skip: Collection[str]) -> None:
        self.packages = packages
        self.skip = skip
        self.kernels: dict[str, Any] = {}
        self.seen: set[int] = set()
        self.todo: list[tuple[CodeType, Mapping[str, Any]]] = []
        self.dispatcher = _dispatcher_type()

    def ours(self, module: str | None) -> bool:
        return _top(module) in self.packages

    def reach(self, value: Any) -> None:
        """Follow a value the code names: a kernel, or code of ours to read."""
        if id(value) in self.seen:
            return
        if isinstance(value, self.dispatcher):
            self.seen.add(id(value))
            fn = value.py_func  # type: ignore[attr-defined]
            self.kernels[f"{fn.__module__}:{fn.__qualname__}"] = value
            self.todo.append((fn.__code__, fn.__globals__))
            return
        if isinstance(value, dict | list | tuple | set | frozenset) and len(value) <= _MAX_ITEMS:
            self.seen.add(id(value))  # a table of kernels: _KERNELS = {"event": kern.step}
            for item in value.values() if isinstance(value, dict) else value:
                if not isinstance(item, int | float | str | bytes):
                    self.reach(item)
            return
        fn = getattr(value, "__func__", value)  # a bound method
        if isinstance(fn, FunctionType) and self.ours(fn.__module__):
            self.seen.add(id(value))
            free: dict[str, Any] = {}
            for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=False):
                with contextlib.suppress(ValueError):  # an empty cell
                    free[name] = cell.cell_contents
            self.todo.append((fn.__code__, ChainMap(free, fn.__globals__)))
        elif isinstance(value, type) and self.ours(value.__module__):
            self.seen.add(id(value))
            for klass in value.__mro__:
                if self.ours(klass.__module__):
                    for f in _class_functions(klass, self.skip):
                        self.reach(f)

    def read(self, code: CodeType, scope: Mapping[str, Any]) -> None:
        package = scope.get("__package__") or _top(scope.get("__name__"))
        for c in _codes(code):
            if id(c) in self.seen:
                continue
            self.seen.add(id(c))
            modules: list[ModuleType] = []
            consts: list[Any] = []
            current: ModuleType | None = None
            for ins in dis.get_instructions(c):
                if ins.opname == "LOAD_CONST":
                    consts.append(ins.argval)
                    continue
                if ins.opname == "IMPORT_NAME":
                    level = consts[-2] if len(consts) >= 2 and isinstance(consts[-2], int) else 0
                    names = consts[-1] if consts else None
                    current = _import(str(ins.argval), level, package)
                    if current is not None and not names:  # import m (as k): m.f reachable
                        modules.append(current)
                elif ins.opname == "IMPORT_FROM" and current is not None:
                    value = vars(current).get(str(ins.argval))
                    if value is None:
                        value = _import(f"{current.__name__}.{ins.argval}", 0, None)
                    if isinstance(value, ModuleType):
                        modules.append(value)
                    elif value is not None:
                        self.reach(value)
                elif ins.opname in ("LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF"):
                    name = str(ins.argval)
                    value = scope.get(name, getattr(builtins, name, None))
                    if isinstance(value, ModuleType):
                        modules.append(value)
                    elif value is not None:
                        self.reach(value)
                consts.clear()
            for mod in modules:
                names = vars(mod)  # not getattr: no module __getattr__ (lazy, deprecated) runs
                for name in c.co_names:
                    value = names.get(name)
                    if isinstance(value, ModuleType):
                        if value not in modules:
                            modules.append(value)
                    elif value is not None:
                        self.reach(value)

    def run(self) -> None:
        while self.todo:
            self.read(*self.todo.pop())


def kernels_of(obj: object, skip: Collection[str] = ()) -> dict[str, Any]:
    """The numba dispatchers ``obj``'s code can call, keyed ``module:function``, not
    following methods named in ``skip`` (a reference's ``twin``, which reaches the twin's
    code), on its class or on any class its code reaches."""
    cls = type(obj)
    packages = {_top(k.__module__) for k in cls.__mro__} - {"builtins", "abc", "typing"}
    walk = _Walk(packages, skip)
    walk.reach(cls)
    for value in list(getattr(obj, "__dict__", {}).values()):
        if isinstance(value, walk.dispatcher | FunctionType) or inspect.ismethod(value):
            walk.reach(value)
    walk.run()
    return walk.kernels
