"""Quoting: optimal depths (GLFT closed form, exact HJB solver) and the ladder builder.

Public API for quoter plugins:

* :mod:`mmkit.quoting.glft` - Guéant–Lehalle–Fernandez-Tapia closed-form depths (math only);
* :mod:`mmkit.quoting.hjb` - the exact finite-horizon solver and its infinite-horizon limit;
* :mod:`mmkit.quoting.ladder` - :class:`~mmkit.quoting.ladder.LadderBuilder`, which turns two
  optimal depths into venue-valid, post-only, exposure-capped levels;
* :mod:`mmkit.quoting.params` - parameter dataclasses (standard library only).

Nothing heavy is imported here.
"""
