from typing import Any

from tests.foundation.toy_plugin import SpreadQuoter, ToyQuoterParams

from mmkit import hookimpl


@hookimpl
def register_quoters(register: Any) -> None:
    register("toy_quoter", lambda ctx: SpreadQuoter(ToyQuoterParams(), 1.0))
