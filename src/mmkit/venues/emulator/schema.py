"""Shape checks of ``/exchange`` bodies: what the venue refuses with HTTP 422 before it even
looks at the signature (unknown variant, wrong type, fractional leverage, a market order)."""

from __future__ import annotations

import reprlib
from collections.abc import Mapping
from typing import Any

from mmkit.safejson import JsonRefused, check_depth, in_i64
from mmkit.venues.hyperliquid.errors import MESSAGES

L1_ACTIONS = frozenset(
    {
        "order",
        "cancel",
        "cancelByCloid",
        "modify",
        "batchModify",
        "scheduleCancel",
        "updateLeverage",
        "noop",
        "reserveRequestWeight",
    }
)
USER_SIGNED_ACTIONS = frozenset({"approveAgent"})
TIFS = ("Alo", "Gtc", "Ioc")

_REPR = reprlib.Repr()
_REPR.maxlevel = 2
_REPR.maxstring = 40
_REPR.maxlong = 30


class SchemaError(Exception):
    """The body does not fit the venue's types: HTTP 422 with a text/plain body."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"{MESSAGES['schema_422']}: {detail}")


def _shown(v: object) -> str:
    """A bounded rendering of a bad value for the 422 text."""
    try:
        text = _REPR.repr(v)
    except (RecursionError, ValueError):
        text = f"<{type(v).__name__}>"
    return text[:80]


def _int(obj: Mapping[str, Any], key: str, where: str) -> int:
    """An integer field; like the venue's u64/i64 fields, one outside 64 bits is a 422."""
    v = obj.get(key)
    if isinstance(v, bool) or not isinstance(v, int):
        raise SchemaError(f"{where}.{key}: invalid type, expected an integer, got {_shown(v)}")
    if not in_i64(v):
        raise SchemaError(f"{where}.{key}: invalid value, integer outside 64 bits")
    return v


def _bool(obj: Mapping[str, Any], key: str, where: str) -> bool:
    v = obj.get(key)
    if not isinstance(v, bool):
        raise SchemaError(f"{where}.{key}: invalid type, expected a boolean, got {_shown(v)}")
    return v


def _str(obj: Mapping[str, Any], key: str, where: str) -> str:
    v = obj.get(key)
    if not isinstance(v, str):
        raise SchemaError(f"{where}.{key}: invalid type, expected a string, got {_shown(v)}")
    return v


def _obj(v: object, where: str) -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        raise SchemaError(f"{where}: invalid type, expected an object")
    return v


def _list(obj: Mapping[str, Any], key: str, where: str) -> list[Any]:
    v = obj.get(key)
    if not isinstance(v, list):
        raise SchemaError(f"{where}.{key}: invalid type, expected a sequence")
    return v


def check_order_wire(raw: object, where: str) -> Mapping[str, Any]:
    w = _obj(raw, where)
    _int(w, "a", where)
    _bool(w, "b", where)
    _str(w, "p", where)
    _str(w, "s", where)
    _bool(w, "r", where)
    t = _obj(w.get("t"), where + ".t")
    if "limit" in t:
        tif = _obj(t["limit"], where + ".t.limit").get("tif")
        if tif not in TIFS:
            raise SchemaError(
                f"{where}.t.limit.tif: unknown variant {_shown(tif)}, expected {TIFS}"
            )
    elif "trigger" in t:
        trig = _obj(t["trigger"], where + ".t.trigger")
        _bool(trig, "isMarket", where + ".t.trigger")
        _str(trig, "triggerPx", where + ".t.trigger")
        if trig.get("tpsl") not in ("tp", "sl"):
            raise SchemaError(f"{where}.t.trigger.tpsl: unknown variant {_shown(trig.get('tpsl'))}")
    else:
        raise SchemaError(
            f"{where}.t: unknown variant {_shown(sorted(t))}, expected limit or trigger"
        )
    if "c" in w and w["c"] is not None:
        _str(w, "c", where)
    return w


def _oid_or_cloid(m: Mapping[str, Any], where: str) -> None:
    v = m.get("oid")
    if isinstance(v, bool) or not isinstance(v, int | str):
        raise SchemaError(f"{where}.oid: invalid type, expected an integer or a cloid string")


def batch_length(action: Mapping[str, Any]) -> int:
    for key in ("orders", "cancels", "modifies"):
        v = action.get(key)
        if isinstance(v, list):
            return len(v)
    return 1


def check_action(raw: object) -> Mapping[str, Any]:
    """The action, if it fits one of the supported variants; else :class:`SchemaError`."""
    a = _obj(raw, "action")
    kind = a.get("type")
    if not isinstance(kind, str) or (kind not in L1_ACTIONS and kind not in USER_SIGNED_ACTIONS):
        raise SchemaError(f"action.type: unknown variant {_shown(kind)}")
    if kind == "order":
        for i, w in enumerate(_list(a, "orders", "action")):
            check_order_wire(w, f"action.orders[{i}]")
        g = a.get("grouping")
        if not (g in ("na", "normalTpsl", "positionTpsl") or isinstance(g, Mapping)):
            raise SchemaError(f"action.grouping: unknown variant {_shown(g)}")
    elif kind == "cancel":
        for i, c in enumerate(_list(a, "cancels", "action")):
            c = _obj(c, f"action.cancels[{i}]")
            _int(c, "a", f"action.cancels[{i}]")
            _int(c, "o", f"action.cancels[{i}]")
    elif kind == "cancelByCloid":
        for i, c in enumerate(_list(a, "cancels", "action")):
            c = _obj(c, f"action.cancels[{i}]")
            _int(c, "asset", f"action.cancels[{i}]")
            _str(c, "cloid", f"action.cancels[{i}]")
    elif kind == "batchModify":
        for i, m in enumerate(_list(a, "modifies", "action")):
            m = _obj(m, f"action.modifies[{i}]")
            _oid_or_cloid(m, f"action.modifies[{i}]")
            check_order_wire(m.get("order"), f"action.modifies[{i}].order")
    elif kind == "modify":
        _oid_or_cloid(a, "action")
        check_order_wire(a.get("order"), "action.order")
    elif kind == "scheduleCancel":
        if "time" in a and a["time"] is not None:
            _int(a, "time", "action")
    elif kind == "updateLeverage":
        _int(a, "asset", "action")
        _bool(a, "isCross", "action")
        _int(a, "leverage", "action")
    elif kind == "reserveRequestWeight":
        _int(a, "weight", "action")
    elif kind == "approveAgent":
        _str(a, "agentAddress", "action")
        _str(a, "hyperliquidChain", "action")
        _str(a, "signatureChainId", "action")
        _int(a, "nonce", "action")
    return a


def check_envelope(raw: object) -> Mapping[str, Any]:
    """The request body, if it fits the venue's ``/exchange`` envelope; else SchemaError."""
    try:
        check_depth(raw)
    except JsonRefused as exc:
        raise SchemaError(f"body: {exc}") from None
    body = _obj(raw, "body")
    _int(body, "nonce", "body")
    _obj(body.get("signature"), "body.signature")
    v = body.get("vaultAddress")
    if v is not None and not isinstance(v, str):
        raise SchemaError("body.vaultAddress: invalid type, expected a string or null")
    e = body.get("expiresAfter")
    if e is not None and (isinstance(e, bool) or not isinstance(e, int)):
        raise SchemaError("body.expiresAfter: invalid type, expected an integer or null")
    check_action(body.get("action"))
    return body


__all__ = [
    "L1_ACTIONS",
    "USER_SIGNED_ACTIONS",
    "SchemaError",
    "batch_length",
    "check_action",
    "check_envelope",
    "check_order_wire",
]
