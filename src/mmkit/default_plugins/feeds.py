"""Built-in feeds (registered through the same hook as third-party plugins)."""

from __future__ import annotations
