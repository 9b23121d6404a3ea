"""Re-export of the audit harness's fake venue, for tests and plugin authors.

The implementation lives in :mod:`mmkit.audit.harness` (production code may import that;
nothing under ``src/mmkit`` outside :mod:`mmkit.testing` imports this module). See
:mod:`mmkit.audit.harness.venue` for the venue's semantics and fault knobs.
"""

from __future__ import annotations

from mmkit.audit.harness import *  # noqa: F403  (every public name of the harness)
from mmkit.audit.harness import __all__ as __all__
