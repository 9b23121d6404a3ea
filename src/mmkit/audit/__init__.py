"""``mmkit audit``: the report's invariants as property tests against any plugin set.

Modules:

* :mod:`~mmkit.audit.invariant` — the API: Invariant, Severity, AuditTarget, AuditContext,
  Concern, Skip;
* :mod:`~mmkit.audit.invariants` — the built-in invariants, one module per area
  (``engine`` holds the cross-cutting ones);
* :mod:`~mmkit.audit.runner` — runs invariants against components, classifies outcomes;
* :mod:`~mmkit.audit.results` and :mod:`~mmkit.audit.render` — the report and its formats
  (table, Markdown in the seed report's shape, JSON, JUnit XML, the catalogue);
* :mod:`~mmkit.audit.streams` and :mod:`~mmkit.audit.reference` — adversarial event streams
  and simple correct components, for writing checks;
* :mod:`~mmkit.audit.cli` — the ``mmkit audit`` command.

Nothing is imported here: the CLI loads this package at start-up.
"""
