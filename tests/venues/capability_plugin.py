"""A test plugin registering venues of every capability (loaded with ``extra_modules``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mmkit import hookimpl
from mmkit.components import EventSink
from mmkit.core.actions import Action
from mmkit.core.events import Event
from mmkit.hookspecs import RegisterVenue
from mmkit.registry import BuildContext, LiveContext


class PaperVenue:
    """A simulated venue that answers nothing (the contract's shape is all that matters)."""

    def on_market(self, event: Event, now_ns: int) -> None:
        pass

    def submit(self, actions: Sequence[Action], now_ns: int) -> None:
        pass

    def drain(self, now_ns: int) -> list[Event]:
        return []


class WireVenue:
    """A live venue remembering what its factory was given."""

    def __init__(self, live: LiveContext) -> None:
        self.live = live
        self.sink: EventSink | None = None

    async def start(self, sink: EventSink) -> None:
        self.sink = sink

    async def submit(self, actions: Sequence[Action]) -> None:
        pass

    async def close(self) -> None:
        pass


def build_paper(ctx: BuildContext[Any]) -> PaperVenue:
    return PaperVenue()


def build_wire(ctx: BuildContext[Any]) -> WireVenue:
    assert ctx.live is not None
    return WireVenue(ctx.live)


def build_not_async(ctx: BuildContext[Any]) -> PaperVenue:
    return PaperVenue()  # a synchronous venue where an AsyncVenue is due: refused at build


@hookimpl
def register_venues(register: RegisterVenue) -> None:
    register("paper_only", build_paper, description="simulated only (plain factory)")
    register("wire", live=build_wire, description="live only")
    register("both_sides", simulated=build_paper, live=build_wire, description="both")
    register("bad_live", live=build_not_async, description="live factory returns a sync venue")
    register("no_side")  # refused: neither side
    register("twice", build_paper, simulated=build_paper)  # refused: simulated given twice
    register("bad_string", live="no_colon_here")  # refused: not 'module:attr'


@hookimpl
def register_quoters(register: Any) -> None:
    register("liveish_quoter", build_paper, live=build_wire)  # refused: only venues have sides
