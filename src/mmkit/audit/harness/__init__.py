"""The audit harness: an in-process exchange with fault knobs, and what drives it.

Production code (the audit's invariants) may import this package; :mod:`mmkit.testing`
re-exports it for tests and plugin authors.

* :class:`FakeVenue` (:mod:`.venue`): a fault-injecting wrapper over the simulated exchange
  (:class:`mmkit.venues.sim.venue.SimVenue`: its book, matching, fills, order ids and
  strings), with deterministic fault knobs from the one fault catalogue
  (:mod:`mmkit.venues.faults`) and inspection helpers;
* :class:`VenueLoop`, :class:`ScriptedQuoter`, :class:`SwitchGate`, :func:`book`
  (:mod:`.loop`): step an engine against the venue in simulated time.
"""

from __future__ import annotations

from mmkit.audit.harness.loop import Driven, ScriptedQuoter, SwitchGate, VenueLoop, book
from mmkit.audit.harness.venue import (
    UNKNOWN_OID,
    FakeVenue,
    VenueOrder,
    harness_params,
    reason_from_message,
)

__all__ = [
    "UNKNOWN_OID",
    "Driven",
    "FakeVenue",
    "ScriptedQuoter",
    "SwitchGate",
    "VenueLoop",
    "VenueOrder",
    "book",
    "harness_params",
    "reason_from_message",
]
