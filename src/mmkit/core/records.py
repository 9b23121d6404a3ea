"""Frozen value classes stored as tuples, with the dataclass API (the order actions).

A quoting cycle on a busy market sends ten actions, and a frozen, slotted dataclass costs
~0.5 µs to build even through :func:`~mmkit.core.frozen.quick_init`'s ``__init__``: ten
of them are ~5 µs of a cycle whose whole budget is ~50. A tuple is built in C:
``tuple.__new__(cls, values)`` costs ~0.14 µs. (Building a batch of them by ``map`` over
a kernel's output columns was measured too, and is slower than a plain loop on Python
3.11: ``docs/twins.md``.)

:func:`tuple_record` turns a class body (annotated fields, defaults) into such a class
that still behaves as the frozen dataclass it replaces, for everything a plugin may rely
on:

* ``dataclasses.fields``, ``is_dataclass``, ``replace``, ``asdict`` and ``astuple`` work
  (the class carries the dataclass's own field records); ``copy.replace`` too;
* the constructor takes the same positional and keyword arguments, with the same
  defaults, and refuses a missing or unknown one with ``TypeError``;
* fields read by name (a C getter per field: ~19 ns a read against ~9 for a slot);
* equality is by class and fields, as a dataclass's (a ``Cancel`` never equals a
  ``QueryOrder`` of the same fields, nor a plain tuple), the hash is the dataclass's
  (``hash`` of the fields' tuple), and there is no ordering (``<`` raises);
* frozen: assignment or deletion raises :class:`dataclasses.FrozenInstanceError`;
* the same ``repr``, ``__match_args__``, pickling and copying.

What differs, and is documented where the actions are: an instance **is** a tuple
(``isinstance(a, tuple)``, ``len``, iteration and indexing work, and ``json`` encodes it
as a list). A record takes no ``__post_init__`` and no default factories (refused at
import), and it cannot be subclassed (refused where the subclass is defined).

The hot paths build records with :data:`new_record` (``tuple.__new__``): the values in
field order, all of them, unchecked, exactly as the generated constructor stores them.
``tests/foundation/test_records.py`` proves each action class equal to the frozen, slotted
dataclass of the same fields on every point above.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from operator import itemgetter
from typing import Any, TypeVar, dataclass_transform

__all__ = ["new_record", "tuple_record"]

T = TypeVar("T")

#: ``new_record(cls, values)``: a record built from its values in field order, through
#: ``tuple.__new__`` directly (what the generated constructor calls, without its frame)
new_record: Any = tuple.__new__

try:  # the C field getter collections.namedtuple uses (CPython); else an itemgetter
    from collections import _tuplegetter  # type: ignore[attr-defined]

    def _getter(index: int, doc: str) -> Any:
        return _tuplegetter(index, doc)
except ImportError:  # pragma: no cover - another Python implementation

    def _getter(index: int, doc: str) -> Any:
        return property(itemgetter(index), doc=doc)


def _frozen(self: object, name: str, value: object = None) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")


def _no_subclass(cls: type) -> None:
    raise TypeError(f"{cls.__qualname__}: a tuple record cannot be subclassed")


def _comparisons() -> dict[str, Callable[..., Any]]:
    tuple_eq, tuple_ne = tuple.__eq__, tuple.__ne__

    def __eq__(self: tuple[Any, ...], other: object) -> Any:  # noqa: N807
        if other.__class__ is self.__class__:
            return tuple_eq(self, other)
        # another class: a dataclass says NotImplemented; a plain tuple must not then
        # compare equal through tuple's reflected equality
        return False if isinstance(other, tuple) else NotImplemented

    def __ne__(self: tuple[Any, ...], other: object) -> Any:  # noqa: N807
        if other.__class__ is self.__class__:
            return tuple_ne(self, other)
        return True if isinstance(other, tuple) else NotImplemented

    def _unordered(self: object, other: object) -> Any:
        return NotImplemented

    return {
        "__eq__": __eq__,
        "__ne__": __ne__,
        "__hash__": tuple.__hash__,
        "__lt__": _unordered,
        "__le__": _unordered,
        "__gt__": _unordered,
        "__ge__": _unordered,
    }


@dataclass_transform(frozen_default=True)
def tuple_record(cls: type[T]) -> type[T]:
    """The record class of ``cls``'s fields (module doc): a tuple subclass with the frozen
    dataclass API. ``TypeError`` at import for what a record cannot be (module doc)."""
    if "__post_init__" in vars(cls):
        raise TypeError(f"tuple_record: {cls.__name__} has a __post_init__")
    bases = tuple(b for b in cls.__bases__ if b is not object)
    if bases:
        raise TypeError(f"tuple_record: {cls.__name__} derives from {bases}")
    # the dataclass of the same body gives the field records, defaults and repr
    model: Any = dataclasses.dataclass(frozen=True)(
        type(cls.__name__, (), {k: v for k, v in vars(cls).items() if k != "__dict__"})
    )
    fields = dataclasses.fields(model)
    ns: dict[str, Any] = {"_tuple_new": tuple.__new__}
    args: list[str] = []
    for f in fields:
        if f.default_factory is not dataclasses.MISSING or not f.init or f.kw_only:
            raise TypeError(f"tuple_record: {cls.__name__}.{f.name} must be a plain field")
        if f.default is dataclasses.MISSING:
            args.append(f.name)
        else:
            ns[f"_default_{f.name}"] = f.default
            args.append(f"{f.name}=_default_{f.name}")
    names = [f.name for f in fields]
    values = "".join(f"{n}, " for n in names)
    src = f"def __new__(_cls, {', '.join(args)}):\n    return _tuple_new(_cls, ({values}))\n"
    exec(src, ns)  # generated from the class's own field names, as dataclasses does
    new = ns["__new__"]
    new.__qualname__ = f"{cls.__qualname__}.__new__"
    body: dict[str, Any] = {
        "__slots__": (),
        "__module__": cls.__module__,
        "__qualname__": cls.__qualname__,
        "__doc__": cls.__doc__,
        "__annotations__": dict(vars(cls).get("__annotations__", {})),
        "__dataclass_fields__": model.__dataclass_fields__,
        "__dataclass_params__": model.__dataclass_params__,
        "__match_args__": tuple(names),
        "__new__": new,
        "__repr__": model.__repr__,
        "__getnewargs__": lambda self: tuple(self),
        "__replace__": lambda self, /, **changes: dataclasses.replace(self, **changes),
        "__setattr__": _frozen,
        "__delattr__": _frozen,
        "__init_subclass__": classmethod(_no_subclass),
        **_comparisons(),
    }
    for k, v in vars(cls).items():  # methods and class constants of the body
        if k not in body and k not in names and k not in ("__dict__", "__weakref__"):
            body[k] = v
    for i, n in enumerate(names):
        body[n] = _getter(i, f"field {n}")
    record: type[T] = type(cls.__name__, (tuple,), body)
    return record
