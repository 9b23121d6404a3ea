"""Tuple records (mmkit.core.records): each order action behaves as the frozen, slotted
dataclass of the same fields on everything the record promises (construction and its
refusals, fields, repr, equality, hash, replace, asdict, astuple, pickle, copies,
frozenness, no ordering, pattern matching), and ``new_record`` builds what the
constructor builds. A deliberately broken record (plain tuple equality, no hash, a
settable field) fails the same comparison."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from operator import itemgetter
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.core import actions
from mmkit.core.records import new_record, tuple_record

RECORDS: list[Any] = [
    actions.Place,
    actions.Modify,
    actions.Cancel,
    actions.CancelAll,
    actions.SyncState,
    actions.QueryOrder,
]


def twin_dataclass(record: Any) -> Any:
    """The frozen, slotted dataclass the record replaces: same name, fields and defaults."""
    spec = [
        (f.name, f.type)
        if f.default is dataclasses.MISSING
        else (f.name, f.type, dataclasses.field(default=f.default))
        for f in dataclasses.fields(record)
    ]
    return dataclasses.make_dataclass(record.__name__, spec, frozen=True, slots=True)


MODELS = {r: twin_dataclass(r) for r in RECORDS}

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=4),
    st.tuples(st.integers(), st.integers()),
    st.lists(st.integers(), max_size=2),  # unhashable: hash must refuse alike
)


def outcome(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return ("ok", fn(*args, **kwargs))
    except Exception as exc:  # the comparison covers refusals too
        return ("raised", type(exc))


def same(a: Any, b: Any) -> bool:
    """Equal values, NaN equal to NaN, of the same type (records unpacked by field)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (a != a and b != b)
    if dataclasses.is_dataclass(a) and dataclasses.is_dataclass(b):
        return type(a).__name__ == type(b).__name__ and same(
            [getattr(a, f.name) for f in dataclasses.fields(a)],
            [getattr(b, f.name) for f in dataclasses.fields(b)],
        )
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and bool(a == b)


def _round_trip(obj: Any, protocol: int) -> Any:
    return pickle.loads(pickle.dumps(obj, protocol))


def differences(rec: Any, ref: Any, rec2: Any, ref2: Any, change: dict[str, Any]) -> list[str]:
    """Where the record ``rec`` (and a second one, ``rec2``) behaves otherwise than the
    dataclass instances ``ref`` / ``ref2`` of the same values; [] when alike."""
    out: list[str] = []

    def check(what: str, a: Any, b: Any) -> None:
        if not same(a, b):
            out.append(f"{what}: record {a!r} != dataclass {b!r}")

    check(
        "fields",
        [f.name for f in dataclasses.fields(rec)],
        [f.name for f in dataclasses.fields(ref)],
    )
    check(
        "values",
        [getattr(rec, f.name) for f in dataclasses.fields(rec)],
        [getattr(ref, f.name) for f in dataclasses.fields(ref)],
    )
    check("repr", repr(rec), repr(ref))
    check("eq self", rec == rec, ref == ref)
    check("eq other", rec == rec2, ref == ref2)
    check("ne other", rec != rec2, ref != ref2)
    check("eq plain tuple", rec == tuple(getattr(rec, n) for n in rec.__match_args__), False)
    check("hash", outcome(hash, rec), outcome(hash, ref))
    check(
        "replace",
        outcome(dataclasses.replace, rec, **change),
        outcome(dataclasses.replace, ref, **change),
    )
    check("asdict", outcome(dataclasses.asdict, rec), outcome(dataclasses.asdict, ref))
    check("astuple", outcome(dataclasses.astuple, rec), outcome(dataclasses.astuple, ref))
    check("is_dataclass", dataclasses.is_dataclass(rec), dataclasses.is_dataclass(ref))
    # (the model dataclass is not importable by name, so it cannot pickle: the record must
    # come back as itself, of its own class, in every protocol)
    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
        check(f"pickle {proto}", outcome(_round_trip, rec, proto), ("ok", rec))
    check("copy", outcome(copy.copy, rec), outcome(copy.copy, ref))
    check("deepcopy", outcome(copy.deepcopy, rec), outcome(copy.deepcopy, ref))
    check("lt", outcome(lambda: rec < rec2), outcome(lambda: ref < ref2))
    name = dataclasses.fields(rec)[0].name
    check("setattr", outcome(setattr, rec, name, 1), outcome(setattr, ref, name, 1))
    check("delattr", outcome(delattr, rec, name), outcome(delattr, ref, name))
    check("match_args", type(rec).__match_args__, type(ref).__match_args__)
    return out


@st.composite
def call_args(draw: st.DrawFn, record: Any) -> tuple[list[Any], dict[str, Any]]:
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(record):
        if f.default is not dataclasses.MISSING and draw(st.booleans(), label=f"omit {f.name}"):
            continue
        v = draw(values, label=f.name)
        if bool(kwargs) or draw(st.booleans(), label=f"{f.name} by keyword"):
            kwargs[f.name] = v
        else:
            args.append(v)
    if draw(st.booleans(), label="bad call"):  # a refusal must be the same refusal
        if draw(st.booleans(), label="unknown keyword"):
            kwargs["bogus"] = 1
        elif args:
            args.pop()
    return args, kwargs


@pytest.mark.parametrize("record", RECORDS, ids=lambda c: c.__name__)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_a_record_behaves_as_its_frozen_dataclass(record: Any, data: st.DataObject) -> None:
    model = MODELS[record]
    args, kwargs = data.draw(call_args(record), label="call")
    got, want = outcome(record, *args, **kwargs), outcome(model, *args, **kwargs)
    assert got[0] == want[0], (got, want)
    if got[0] == "raised":
        assert got[1] is want[1]  # the same refusal (TypeError)
        return
    rec, ref = got[1], want[1]
    # a second instance: equal or not, as drawn
    if data.draw(st.booleans(), label="second equal"):
        rec2, ref2 = record(*args, **kwargs), model(*args, **kwargs)
    else:
        a2, k2 = data.draw(call_args(record).filter(lambda c: "bogus" not in c[1]), label="2nd")
        r2, m2 = outcome(record, *a2, **k2), outcome(model, *a2, **k2)
        if r2[0] == "raised":
            rec2, ref2 = rec, ref
        else:
            rec2, ref2 = r2[1], m2[1]
    names = [f.name for f in dataclasses.fields(record)]
    change = {
        n: data.draw(values, label=f"replace {n}")
        for n in data.draw(st.lists(st.sampled_from(names), max_size=2, unique=True))
    }
    assert differences(rec, ref, rec2, ref2, change) == []
    # new_record: the values in field order give the constructor's record
    built = new_record(record, tuple(getattr(rec, n) for n in names))
    assert type(built) is record and same(built, rec)


def test_records_of_different_classes_never_equal() -> None:
    c: object = actions.Cancel(1, None, 3)
    q: object = actions.QueryOrder(1, None, 3)
    assert c != q
    assert (c == q) is False  # both operators, each by class
    assert cast(object, actions.SyncState(2, "x")) != actions.CancelAll(2, "x")
    assert c != (1, None, 3, False)
    assert (c == (1, None, 3, False)) is False


def test_pattern_matching_reads_fields_by_name_and_position() -> None:
    m = actions.Cancel(7, "0x" + "0" * 32, None)
    match m:
        case actions.Cancel(rid, str(cloid), oid, emergency=False):
            assert (rid, oid) == (7, None) and cloid.startswith("0x")
        case _:
            pytest.fail("no match")


def test_a_broken_record_is_caught() -> None:
    """The comparison is not blind: records with plain tuple equality, without the
    dataclass's hash, or with a settable field differ from the dataclass."""
    base = actions.QueryOrder
    model = MODELS[base]
    ns = {
        n: getattr(base, n)
        for n in ("__dataclass_fields__", "__dataclass_params__", "__match_args__", "__repr__")
    }
    getters = {n: property(itemgetter(i)) for i, n in enumerate(base.__match_args__)}
    plain_eq = type(
        "QueryOrder", (tuple,), {**ns, **getters, "__slots__": (), "__new__": base.__new__}
    )
    rec, ref = plain_eq(1, None, 3), model(1, None, 3)
    found = differences(rec, ref, rec, ref, {})
    assert any(d.startswith("eq plain tuple") for d in found)
    assert any(d.startswith("setattr") for d in found)
    unhashable = type("QueryOrder", (tuple,), {**ns, **getters, "__slots__": (), "__hash__": None})
    found = differences(unhashable((1, None, 3)), ref, ref, ref, {})
    assert any(d.startswith("hash") for d in found)


def test_what_a_record_refuses_to_be() -> None:
    with pytest.raises(TypeError, match="__post_init__"):

        @tuple_record
        class WithPost:
            x: int

            def __post_init__(self) -> None:
                pass

    with pytest.raises(TypeError, match="plain field"):

        @tuple_record
        class WithFactory:
            x: list[int] = dataclasses.field(default_factory=list)

    with pytest.raises(TypeError, match="cannot be subclassed"):

        class Sub(actions.Modify):
            pass


def test_an_action_in_a_counterexample_reads_as_an_action() -> None:
    """The audit's counterexample text shows an action by its repr (class and fields), not
    as the bare list of values a tuple would give."""
    from mmkit.audit.notes import describe_ops, value_text

    c = actions.Cancel(1, None, 3)
    assert value_text([c, (1, 2)]) == f"[{c!r}, [1, 2]]"
    assert repr(c) in describe_ops([(0, c)])
