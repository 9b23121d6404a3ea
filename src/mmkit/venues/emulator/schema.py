"""Shape checks of ``/exchange`` bodies: what the venue refuses with HTTP 422 before it even
looks at the signature (unknown variant, wrong type, fractional leverage, a market order)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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


class SchemaError(Exception):
    """The body does not fit the venue's types: HTTP 422 with a text/plain body."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"{MESSAGES['schema_422']}: {detail}")


def _int(obj: Mapping[str, Any], key: str, where: str) -> int:
    v = obj.get(key)
    if isinstance(v, bool) or not isinstance(v, int):
        raise SchemaError(f"{where}.{key}: invalid type, expected an integer, got {v!r}")
    return v


def _bool(obj: Mapping[str, Any], key: str, where: str) -> bool:
    v = obj.get(key)
    if not isinstance(v, bool):
        raise SchemaError(f"{where}.{key}: invalid type, expected a boolean, got {v!r}")
    return v


def _str(obj: Mapping[str, Any], key: str, where: str) -> str:
    v = obj.get(key)
    if not isinstance(v, str):
        raise SchemaError(f"{where}.{key}: invalid type, expected a string, got {v!r}")
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
            raise SchemaError(f"{where}.t.limit.tif: unknown variant {tif!r}, expected {TIFS}")
    elif "trigger" in t:
        trig = _obj(t["trigger"], where + ".t.trigger")
        _bool(trig, "isMarket", where + ".t.trigger")
        _str(trig, "triggerPx", where + ".t.trigger")
        if trig.get("tpsl") not in ("tp", "sl"):
            raise SchemaError(f"{where}.t.trigger.tpsl: unknown variant {trig.get('tpsl')!r}")
    else:
        raise SchemaError(f"{where}.t: unknown variant {sorted(t)!r}, expected limit or trigger")
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
    if kind not in L1_ACTIONS and kind not in USER_SIGNED_ACTIONS:
        raise SchemaError(f"action.type: unknown variant {kind!r}")
    if kind == "order":
        for i, w in enumerate(_list(a, "orders", "action")):
            check_order_wire(w, f"action.orders[{i}]")
        g = a.get("grouping")
        if not (g in ("na", "normalTpsl", "positionTpsl") or isinstance(g, Mapping)):
            raise SchemaError(f"action.grouping: unknown variant {g!r}")
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
