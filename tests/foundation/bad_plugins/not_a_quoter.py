from typing import Any

from mmkit import hookimpl


class Nothing:
    def quot(self) -> None:  # misspelt: not a Quoter
        return None


@hookimpl
def register_quoters(register: Any) -> None:
    register("not_a_quoter", lambda ctx: Nothing())
