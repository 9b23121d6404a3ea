"""What every twin needs to hold its reference's attributes in arrays and call its kernels.

* :func:`float_slot`, :func:`int_slot`, :func:`bool_slot`: class attributes that read and
  write one slot of one of the twin's state arrays, so that the reference's attribute (and
  the reference's own methods that use it) keep working on the twin;
* :func:`compiled_entry` (from :mod:`mmkit.core.entry_points`): a kernel's compiled entry
  point for one fixed signature, called directly: about a third of numba's dispatcher cost
  on a ten-argument call, for a twin that passes only its own arrays and values it has
  checked (an entry point does not check types: a float where an int is expected is
  truncated, silently);
* :func:`spilling_float_slot`, :func:`spilling_int_slot`, :func:`spilling_bool_slot`: the
  same for a twin that holds a value only when its slot holds it exactly as the reference
  would (a Python float, an int within int64, a bool); any other value makes the twin
  ``_spill()`` (become its reference, in place, every value in its own attribute) before
  it is stored as the reference stores it.
"""

from __future__ import annotations

from typing import Any

from mmkit.core.entry_points import compiled_entry

__all__ = [
    "bool_slot",
    "compiled_entry",
    "float_slot",
    "int_slot",
    "spilling_bool_slot",
    "spilling_float_slot",
    "spilling_int_slot",
]

_I64_MIN = -(2**63)
_I64_MAX = 2**63 - 1


def float_slot(array: str, slot: int, doc: str) -> Any:
    """A property over ``self.<array>[slot]`` as a Python float."""

    def get(self: Any) -> float:
        return float(getattr(self, array)[slot])

    def put(self: Any, value: float) -> None:
        getattr(self, array)[slot] = float(value)

    return property(get, put, doc=doc)


def int_slot(array: str, slot: int, doc: str) -> Any:
    """A property over ``self.<array>[slot]`` as a Python int."""

    def get(self: Any) -> int:
        return int(getattr(self, array)[slot])

    def put(self: Any, value: int) -> None:
        getattr(self, array)[slot] = int(value)

    return property(get, put, doc=doc)


def bool_slot(array: str, slot: int, doc: str) -> Any:
    """A property over ``self.<array>[slot]`` (an int array) as a bool."""

    def get(self: Any) -> bool:
        return bool(getattr(self, array)[slot])

    def put(self: Any, value: bool) -> None:
        getattr(self, array)[slot] = 1 if value else 0

    return property(get, put, doc=doc)


def spilling_float_slot(array: str, slot: int, name: str) -> Any:
    """A property ``name`` over ``self.<array>[slot]`` that reads back a Python float and
    stores only a Python float; any other value (a numpy scalar, an int) makes the twin
    ``_spill()`` first and is then stored as an ordinary attribute."""

    def get(self: Any) -> Any:
        return getattr(self, array).item(slot)

    def put(self: Any, value: Any) -> None:
        if type(value) is float:
            getattr(self, array)[slot] = value
        else:
            self._spill()
            setattr(self, name, value)

    return property(get, put, doc=f"``{name}``, in ``{array}[{slot}]``")


def spilling_int_slot(
    array: str, slot: int, name: str, low: int = _I64_MIN, high: int = _I64_MAX
) -> Any:
    """A property ``name`` over ``self.<array>[slot]`` (an int64 array) that stores only a
    Python int within ``[low, high]`` (int64's range by default); any other value spills
    the twin first (:func:`spilling_float_slot`)."""

    def get(self: Any) -> Any:
        return getattr(self, array).item(slot)

    def put(self: Any, value: Any) -> None:
        if type(value) is int and low <= value <= high:
            getattr(self, array)[slot] = value
        else:
            self._spill()
            setattr(self, name, value)

    return property(get, put, doc=f"``{name}``, in ``{array}[{slot}]``")


def spilling_bool_slot(array: str, slot: int, name: str) -> Any:
    """A property ``name`` over ``self.<array>[slot]`` (an int64 array, 1 or 0) that stores
    only a bool; any other value spills the twin first (:func:`spilling_float_slot`)."""

    def get(self: Any) -> Any:
        return getattr(self, array).item(slot) != 0

    def put(self: Any, value: Any) -> None:
        if type(value) is bool:
            getattr(self, array)[slot] = 1 if value else 0
        else:
            self._spill()
            setattr(self, name, value)

    return property(get, put, doc=f"``{name}``, in ``{array}[{slot}]``")
