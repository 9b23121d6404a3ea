from typing import Any

from mmkit import hookimpl


@hookimpl
def register_estimators(register: Any) -> None:
    register("bad params", lambda ctx: None)  # not an identifier
    register("no_dataclass", lambda ctx: None, params=dict)
