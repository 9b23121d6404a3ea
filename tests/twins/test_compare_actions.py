"""The twins' action comparison (``mmkit.twins.compare.actions_diff``, what the audit's
system equivalence uses) reads every field of every action: the actions are tuple records
with no slots of their own, and a comparison that read slots would find nothing to
compare. A change of any one field of any action is reported; equal lists give ""."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.core import actions
from mmkit.core.types import Side, Tif
from mmkit.twins.compare import actions_diff

CLOID = "0x" + "ab" * 16

RID = st.integers(0, 99)
OID = st.integers(0, 10**9)
#: side, px, sz, tif, reduce_only, level: the fields a PLACE and a MODIFY share
PRICED = (
    st.sampled_from(list(Side)),
    st.floats(1.0, 1e5),
    st.floats(0.001, 10.0),
    st.sampled_from(list(Tif)),
    st.booleans(),
    st.integers(0, 9),
)
ACTION = st.one_of(
    st.builds(actions.Place, RID, st.just(CLOID), *PRICED),
    st.builds(actions.Modify, RID, st.just(CLOID), st.one_of(st.none(), OID), *PRICED),
    st.builds(actions.Cancel, RID, st.just(CLOID), OID, st.booleans()),
    st.builds(actions.QueryOrder, RID, st.just(CLOID), OID),
)


def changed(value: Any) -> Any:
    """A different value of the same type."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, Side):
        return Side.SELL if value is Side.BUY else Side.BUY
    if isinstance(value, Tif):
        return Tif.GTC if value is not Tif.GTC else Tif.ALO
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return math.nextafter(value, math.inf) if value < 1e300 else value / 2
    if isinstance(value, str):
        return "0x" + "cd" * 16
    return 7  # None -> an oid


@settings(max_examples=200, deadline=None)
@given(acts=st.lists(ACTION, min_size=1, max_size=5), data=st.data())
def test_any_changed_field_is_reported(acts: list[Any], data: st.DataObject) -> None:
    assert actions_diff(acts, list(acts)) == ""
    i = data.draw(st.integers(0, len(acts) - 1), label="action")
    names = [f.name for f in dataclasses.fields(acts[i])]
    name = data.draw(st.sampled_from(names), label="field")
    other = list(acts)
    other[i] = dataclasses.replace(acts[i], **{name: changed(getattr(acts[i], name))})
    assert actions_diff(acts, other) != "", (acts[i], other[i])
