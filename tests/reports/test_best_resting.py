"""best_resting: the best bid / ask among resting orders, against sorted() as the oracle."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from mmkit.core.events import OpenOrder
from mmkit.core.resting import best_resting
from mmkit.core.types import Side

orders = st.lists(
    st.builds(
        OpenOrder,
        oid=st.integers(0, 10**6),
        cloid=st.none(),
        side=st.sampled_from([Side.BUY, Side.SELL]),
        px=st.floats(1.0, 1e5),
        sz=st.sampled_from([0.0, 0.001, 1.0]),
        orig_sz=st.just(1.0),
    ),
    max_size=12,
)


@given(orders)
def test_best_resting_matches_sorted(os_: list[OpenOrder]) -> None:
    bid, ask = best_resting(os_)
    bids = sorted(o.px for o in os_ if o.side is Side.BUY and o.sz > 0)
    asks = sorted(o.px for o in os_ if o.side is Side.SELL and o.sz > 0)
    assert (bid == bids[-1]) if bids else math.isnan(bid)
    assert (ask == asks[0]) if asks else math.isnan(ask)
