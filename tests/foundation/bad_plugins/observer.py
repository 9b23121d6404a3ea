"""Implements the observer hooks only (for the hook listing test)."""

from typing import Any

from mmkit import hookimpl

SEEN: list[Any] = []


@hookimpl
def mmkit_on_fill(fill: Any, run: Any) -> None:
    SEEN.append(fill)
