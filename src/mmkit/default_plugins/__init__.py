"""The built-in plugins. Each module implements ``register_*`` hooks exactly as a
third-party plugin would; :data:`mmkit.plugin_manager.DEFAULT_PLUGINS` lists them.

These modules must stay cheap to import (no numpy/numba/scipy at module level): they run
on every ``mmkit`` start. Factories are given as ``"module:attribute"`` strings so the
implementation is imported only when a component is built.
"""
