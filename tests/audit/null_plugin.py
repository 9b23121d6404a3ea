"""A test plugin: a venue and a feed that do nothing, so that a config naming only audit
reference and broken components validates whatever else is registered."""

from __future__ import annotations

from typing import Any

from mmkit import hookimpl

NAME = "audit_null"


class NullVenue:
    def on_market(self, event: Any, now_ns: int) -> None:
        return None

    def submit(self, actions: Any, now_ns: int) -> None:
        return None

    def drain(self, now_ns: int) -> list[Any]:
        return []


class NullFeed:
    def events(self) -> Any:
        return iter(())


@hookimpl
def register_venues(register: Any) -> None:
    register(NAME, lambda ctx: NullVenue(), description="test: does nothing")


@hookimpl
def register_feeds(register: Any) -> None:
    register(NAME, lambda ctx: NullFeed(), description="test: no events")
