"""What every twin needs to hold its reference's attributes in arrays and call its kernels.

* :func:`float_slot`, :func:`int_slot`, :func:`bool_slot`: class attributes that read and
  write one slot of one of the twin's state arrays, so that the reference's attribute (and
  the reference's own methods that use it) keep working on the twin;
* :func:`compiled_entry` (from :mod:`mmkit.core.entry_points`): a kernel's compiled entry
  point for one fixed signature, called directly: about a third of numba's dispatcher cost
  on a ten-argument call, for a twin that passes only its own arrays and values it has
  checked (an entry point does not check types: a float where an int is expected is
  truncated, silently).
"""

from __future__ import annotations

from typing import Any

from mmkit.core.entry_points import compiled_entry

__all__ = ["bool_slot", "compiled_entry", "float_slot", "int_slot"]


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
