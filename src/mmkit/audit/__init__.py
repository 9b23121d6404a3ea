"""``mmkit audit``: the seed report's invariants as property tests against any plugin set."""
