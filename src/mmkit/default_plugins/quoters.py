"""Built-in quoters (registered through the same hook as third-party plugins)."""

from __future__ import annotations

from typing import Any

from mmkit import hookimpl


@hookimpl
def register_quoters(register: Any) -> None:
    from mmkit.quoting.params import GlftParams

    register(
        "glft",
        "mmkit.quoting.glft_quoter:build",
        params=GlftParams,
        description="GLFT / exact-HJB optimal depths, post-only exposure-capped ladder",
    )
