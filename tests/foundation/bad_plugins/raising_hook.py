from typing import Any

from mmkit import hookimpl


@hookimpl
def register_gates(register: Any) -> None:
    raise RuntimeError("boom in register_gates")
