from typing import Any

from mmkit import hookimpl


@hookimpl
def register_quoter(register: Any) -> None:  # no such hook: register_quoters
    return None
