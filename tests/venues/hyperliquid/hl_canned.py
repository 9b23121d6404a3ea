"""Canned Hyperliquid replies (shapes from the protocol reference) for tests."""

from __future__ import annotations

from typing import Any

USER = "0x14791697260e4c9a71f18484c9f997b308e59325"
CLOID1 = "0x00000000000000000000000000000001"
CLOID2 = "0x00000000000000000000000000000002"

META: dict[str, Any] = {
    "universe": [
        {"name": "BTC", "szDecimals": 5, "maxLeverage": 50},
        {"name": "ETH", "szDecimals": 4, "maxLeverage": 25},
        {
            "name": "LOOM",
            "szDecimals": 1,
            "maxLeverage": 3,
            "isDelisted": True,
            "marginMode": "strictIsolated",
            "onlyIsolated": True,
        },
    ],
    "marginTables": [
        [50, {"description": "", "marginTiers": [{"lowerBound": "0.0", "maxLeverage": 50}]}]
    ],
    "collateralToken": 0,
}

L2BOOK: dict[str, Any] = {
    "coin": "BTC",
    "time": 1754450974231,
    "levels": [
        [{"px": "113377.0", "sz": "7.6699", "n": 17}, {"px": "113376.0", "sz": "1", "n": 1}],
        [{"px": "113397.0", "sz": "0.11543", "n": 3}],
    ],
}

CLEARINGHOUSE: dict[str, Any] = {
    "assetPositions": [
        {
            "type": "oneWay",
            "position": {
                "coin": "ETH",
                "szi": "0.0335",
                "entryPx": "2986.3",
                "positionValue": "100.02765",
                "unrealizedPnl": "-0.0134",
                "returnOnEquity": "-0.0026789",
                "liquidationPx": "2866.26936529",
                "marginUsed": "4.967826",
                "maxLeverage": 50,
                "leverage": {"type": "isolated", "value": 20, "rawUsd": "-95.059824"},
                "cumFunding": {"allTime": "514.085417", "sinceOpen": "0.0", "sinceChange": "0.0"},
            },
        }
    ],
    "marginSummary": {
        "accountValue": "13109.48",
        "totalNtlPos": "100.03",
        "totalRawUsd": "13009.45",
        "totalMarginUsed": "4.97",
    },
    "crossMarginSummary": {
        "accountValue": "13104.51",
        "totalNtlPos": "0.0",
        "totalRawUsd": "13104.51",
        "totalMarginUsed": "0.0",
    },
    "crossMaintenanceMarginUsed": "0.0",
    "withdrawable": "13104.514502",
    "time": 1708622398623,
}

OPEN_ORDERS: list[dict[str, Any]] = [
    {
        "coin": "BTC",
        "side": "A",
        "limitPx": "29792.0",
        "sz": "0.5",
        "oid": 91490942,
        "timestamp": 1681247412573,
        "origSz": "5.0",
        "cloid": CLOID1,
    },
    {
        "coin": "BTC",
        "side": "B",
        "limitPx": "29000",
        "sz": "0.1",
        "oid": 91490943,
        "timestamp": 1681247412574,
        "origSz": "0.1",
        "reduceOnly": True,
    },
    {
        "coin": "ETH",
        "side": "B",
        "limitPx": "1000",
        "sz": "1",
        "oid": 5,
        "timestamp": 1681247412575,
        "origSz": "1",
    },
]


def fill(
    tid: int,
    oid: int = 90542681,
    coin: str = "BTC",
    time: int = 1681222254710,
    cloid: str | None = None,
    side: str = "B",
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "coin": coin,
        "px": "18.435",
        "sz": "93.53",
        "side": side,
        "time": time,
        "startPosition": "26.86",
        "dir": "Open Long",
        "closedPnl": "0.0",
        "hash": "0xa166",
        "oid": oid,
        "crossed": False,
        "fee": "-0.01",
        "feeToken": "USDC",
        "tid": tid,
    }
    if cloid is not None:
        row["cloid"] = cloid
    return row


ORDER_STATUS: dict[str, Any] = {
    "status": "order",
    "order": {
        "order": {
            "coin": "BTC",
            "side": "B",
            "limitPx": "100000",
            "sz": "0.0",
            "oid": 7,
            "timestamp": 1724361546000,
            "origSz": "0.01",
            "cloid": CLOID1,
            "tif": "Alo",
            "reduceOnly": False,
            "orderType": "Limit",
            "isTrigger": False,
            "triggerPx": "0.0",
            "triggerCondition": "N/A",
            "isPositionTpsl": False,
            "children": [],
        },
        "status": "filled",
        "statusTimestamp": 1724361546645,
    },
}

RATE_LIMIT: dict[str, Any] = {
    "cumVlm": "2854574.59",
    "nRequestsUsed": 2890,
    "nRequestsCap": 2864574,
    "nRequestsSurplus": 0,
}


def order_ok(*statuses: Any) -> dict[str, Any]:
    return {"status": "ok", "response": {"type": "order", "data": {"statuses": list(statuses)}}}


def cancel_ok(*statuses: Any) -> dict[str, Any]:
    return {"status": "ok", "response": {"type": "cancel", "data": {"statuses": list(statuses)}}}


DEFAULT_OK: dict[str, Any] = {"status": "ok", "response": {"type": "default"}}


def err(message: str) -> dict[str, Any]:
    return {"status": "err", "response": message}
