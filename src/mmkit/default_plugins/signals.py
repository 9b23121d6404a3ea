"""Built-in signals plugin (commands and components)."""

from __future__ import annotations
