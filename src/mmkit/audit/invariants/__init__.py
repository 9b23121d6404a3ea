"""Built-in invariants, one module per area of the seed report.

Each module exposes ``INVARIANTS: list[Invariant]``; :mod:`mmkit.default_plugins.invariants`
registers them through the ``register_invariants`` hook.
"""
