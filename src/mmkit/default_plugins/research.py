"""Built-in research plugin (commands and components)."""

from __future__ import annotations
