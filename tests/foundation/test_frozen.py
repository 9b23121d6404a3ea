"""quick_init: the faster constructor of the hot path's frozen dataclasses builds the very
object the dataclass's own ``__init__`` builds, for every class it is applied to."""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mmkit.components
import mmkit.core.actions
import mmkit.core.events
import mmkit.execution.pending  # noqa: F401  (registers its classes)
from mmkit.core.frozen import DATACLASS_INITS, quick_init

CLASSES = sorted(DATACLASS_INITS, key=lambda c: f"{c.__module__}.{c.__qualname__}")

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=5),
    st.tuples(st.integers(), st.integers()),
)


def build(cls: type, init: Any, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """An instance of ``cls`` built by ``init``, or the exception it raised."""
    obj: Any = object.__new__(cls)
    try:
        init(obj, *args, **kwargs)
    except Exception as exc:  # the comparison covers refusals too
        return (type(exc), str(exc))
    return obj


def fields_of(obj: Any) -> Any:
    if isinstance(obj, tuple):
        return obj
    return [(f.name, getattr(obj, f.name)) for f in dataclasses.fields(obj)]


def test_every_hot_path_class_is_covered() -> None:
    names = {c.__name__ for c in CLASSES}
    # the order actions are tuple records now (tests/foundation/test_records.py)
    assert {"Trade", "TradeBatch", "OrderUpdate", "Quote"} <= names
    assert {"ActionResult", "OwnFill", "Timer", "GateDecision", "QueryRequest"} <= names


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_quick_init_builds_what_the_dataclass_builds(cls: type, data: st.DataObject) -> None:
    fields = [f for f in dataclasses.fields(cls) if f.init]
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for f in fields:
        optional = f.default is not dataclasses.MISSING or (
            f.default_factory is not dataclasses.MISSING
        )
        if optional and data.draw(st.booleans(), label=f"omit {f.name}"):
            continue
        v = data.draw(values, label=f.name)
        by_keyword = bool(kwargs) or data.draw(st.booleans(), label=f"{f.name} by keyword")
        if by_keyword:
            kwargs[f.name] = v
        else:
            args.append(v)
    want = build(cls, DATACLASS_INITS[cls], args, kwargs)
    got = build(cls, vars(cls)["__init__"], args, kwargs)
    a, b = fields_of(want), fields_of(got)
    if isinstance(a, tuple):
        assert a == b  # the same refusal (TradeBatch's checks)
        return
    assert len(a) == len(b)
    for (name, x), (_, y) in zip(a, b, strict=True):
        # the very object passed in, or an equal default (a factory's fresh one)
        assert x is y or (type(x) is type(y) and x == y), name
    has_eq = vars(cls).get("__eq__") is not None
    assert got == want or not has_eq or any(v != v for _, v in a)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(got, fields[0].name if fields else "x", 1)


def test_instances_stay_frozen_hashable_and_picklable() -> None:
    from mmkit.core.actions import Modify
    from mmkit.core.types import Side

    m = Modify(1, "0x" + "0" * 32, 5, Side.BUY, 100.0, 0.2)
    assert m == Modify(1, "0x" + "0" * 32, 5, Side.BUY, 100.0, 0.2)
    assert hash(m) == hash(Modify(1, "0x" + "0" * 32, 5, Side.BUY, 100.0, 0.2))
    assert pickle.loads(pickle.dumps(m)) == m
    assert dataclasses.replace(m, px=101.0).px == 101.0
    with pytest.raises(TypeError):
        Modify(1, "0x", 5)  # type: ignore[call-arg]  # missing fields, as before
    with pytest.raises(TypeError):
        Modify(1, "0x", 5, Side.BUY, 1.0, 1.0, bogus=1)  # type: ignore[call-arg]


def test_quick_init_refuses_what_it_cannot_do() -> None:
    @dataclasses.dataclass(slots=True)
    class Mutable:
        x: int

    with pytest.raises(TypeError, match="not a frozen, slotted dataclass"):
        quick_init(Mutable)

    @dataclasses.dataclass(frozen=True, slots=True)
    class WithInitVar:
        x: int
        scale: dataclasses.InitVar[int] = 1

        def __post_init__(self, scale: int) -> None:
            pass

    with pytest.raises(TypeError, match="more than its fields"):
        quick_init(WithInitVar)


def test_kw_only_and_factories_and_post_init() -> None:
    seen: list[int] = []

    @quick_init
    @dataclasses.dataclass(frozen=True, slots=True)
    class K:
        a: int
        b: list[int] = dataclasses.field(default_factory=list)
        c: int = dataclasses.field(default=3, kw_only=True)
        d: int = dataclasses.field(default=4, init=False)

        def __post_init__(self) -> None:
            seen.append(self.a)

    k1, k2 = K(1), K(2, c=9)
    assert (k1.a, k1.b, k1.c, k1.d) == (1, [], 3, 4) and k1.b is not k2.b
    assert k2.c == 9 and seen == [1, 2]
    with pytest.raises(TypeError):
        K(1, [], 5)  # type: ignore[call-arg]  # c is keyword-only
