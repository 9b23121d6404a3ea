"""Built-in ``mmkit venue emulate`` command (the loopback Hyperliquid emulator)."""

from __future__ import annotations
