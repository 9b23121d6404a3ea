"""Parsers of ``POST /exchange`` replies (reference §3) and their mapping to ActionResults.

Shapes handled:

* HTTP 200 ``{"status":"ok","response":{"type":"order"|"cancel","data":{"statuses":[…]}}}``,
  each status ``{"resting":{oid[,cloid]}}``, ``{"filled":{totalSz,avgPx,oid[,cloid]}}``,
  ``{"error":"…"}``, ``"success"``, ``"waitingForFill"`` or ``"waitingForTrigger"``;
* HTTP 200 ``{"status":"ok","response":{"type":"default"}}`` (no data);
* HTTP 200 ``{"status":"err","response":"<message>"}`` (the whole action failed);
* HTTP 422 text/plain (schema), HTTP 429 (IP rate limit; ``Retry-After`` honoured),
  HTTP 5xx (server: the action's fate is unknown).

The outcome of an action whose fate is not known (5xx, transport failure, a 200 reply that
cannot be read) is ``Outcome.UNKNOWN``: resolve by query, never retry blindly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from mmkit import safejson
from mmkit.core.events import ActionResult
from mmkit.core.outcomes import Outcome, RejectReason
from mmkit.venues.hyperliquid._json import Reader
from mmkit.venues.hyperliquid.errors import ClassifiedError, classify_error

StatusKind = Literal["resting", "filled", "error", "success", "waitingForFill", "waitingForTrigger"]


@dataclass(frozen=True, slots=True)
class EntryStatus:
    """The venue's answer for one entry of a batched action."""

    kind: StatusKind
    oid: int | None = None
    cloid: str | None = None
    total_sz: float = 0.0
    avg_px: float = 0.0
    error: ClassifiedError | None = None


@dataclass(frozen=True, slots=True)
class ExchangeReply:
    """A parsed /exchange reply.

    ``error`` is set when the whole action failed (top-level ``err``, HTTP 422/429/5xx);
    ``unknown`` is True when the action may or may not have been applied (5xx).
    """

    http_status: int
    kind: str  # "order" | "cancel" | "default" | "err" | "http"
    statuses: tuple[EntryStatus, ...] = ()
    error: ClassifiedError | None = None
    unknown: bool = False
    retry_after_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _entry(rd: Reader, raw: object, path: str) -> EntryStatus:
    if isinstance(raw, str):
        if raw in ("success", "waitingForFill", "waitingForTrigger"):
            return EntryStatus(raw)  # type: ignore[arg-type]
        raise rd.fail(path, f"unknown status string {raw!r}")
    row = rd.obj(raw, path)
    if "error" in row:
        msg = row["error"]
        if not isinstance(msg, str):
            raise rd.fail(path + ".error", f"expected a string, got {msg!r}")
        return EntryStatus("error", error=classify_error(msg))
    if "resting" in row:
        r = rd.obj(row["resting"], path + ".resting")
        return EntryStatus(
            "resting",
            oid=rd.integer(r, "oid", path + ".resting"),
            cloid=rd.cloid(r, "cloid", path + ".resting"),
        )
    if "filled" in row:
        p = path + ".filled"
        f = rd.obj(row["filled"], p)
        return EntryStatus(
            "filled",
            oid=rd.integer(f, "oid", p),
            cloid=rd.cloid(f, "cloid", p),
            total_sz=rd.decimal(f, "totalSz", p),
            avg_px=rd.decimal(f, "avgPx", p),
        )
    raise rd.fail(path, f"expected resting, filled or error, got keys {sorted(row)[:5]}")


def parse_exchange_json(obj: object, http_status: int = 200) -> ExchangeReply:
    """A decoded 200 reply; :class:`ReplyError` (a VenueError) naming the field otherwise."""
    rd = Reader("exchange")
    try:
        safejson.check_depth(obj)
    except safejson.JsonRefused as exc:
        raise rd.fail("", str(exc)) from None
    top = rd.obj(obj, "")
    status = rd.get(top, "status", "")
    if status == "err":
        msg = rd.get(top, "response", "")
        if not isinstance(msg, str):
            try:
                msg = json.dumps(msg, allow_nan=False)[:500]
            except (ValueError, TypeError, RecursionError):
                msg = f"<unprintable {type(msg).__name__}>"
        return ExchangeReply(http_status, "err", error=classify_error(msg))
    if status != "ok":
        raise rd.fail("status", f"expected 'ok' or 'err', got {status!r}")
    resp = rd.obj(rd.get(top, "response", ""), "response")
    kind = rd.string(resp, "type", "response")
    if kind == "default":
        return ExchangeReply(http_status, "default")
    data = rd.obj(rd.get(resp, "data", "response"), "response.data")
    raw = rd.arr(rd.get(data, "statuses", "response.data"), "response.data.statuses")
    statuses = tuple(_entry(rd, s, f"response.data.statuses[{i}]") for i, s in enumerate(raw))
    return ExchangeReply(http_status, kind, statuses)


def parse_retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value.strip()[:32])
    except ValueError:
        return None
    return seconds if 0 <= seconds < 3600 else None  # also refuses NaN


def parse_exchange_http(
    http_status: int, text: str, retry_after: str | None = None
) -> ExchangeReply:
    """Any HTTP answer of /exchange; raises VenueError only for an unreadable 200 reply."""
    if http_status == 200:
        obj = Reader("exchange").loads(text, "HTTP 200 body")
        return parse_exchange_json(obj, 200)
    snippet = text.strip()[:300]
    if http_status == 429:
        return ExchangeReply(
            429,
            "http",
            error=ClassifiedError(
                RejectReason.RATE_LIMITED_IP, f"HTTP 429 (IP rate limit) {snippet}".strip()
            ),
            retry_after_s=parse_retry_after(retry_after),
        )
    if http_status == 422:
        return ExchangeReply(422, "http", error=ClassifiedError(RejectReason.SCHEMA, snippet))
    if http_status >= 500:
        return ExchangeReply(
            http_status,
            "http",
            unknown=True,
            error=ClassifiedError(RejectReason.SERVER, f"HTTP {http_status} {snippet}".strip()),
        )
    return ExchangeReply(
        http_status,
        "http",
        error=ClassifiedError(
            classify_error(snippet).reason, f"HTTP {http_status} {snippet}".strip()
        ),
    )


# --------------------------------------------------------------------------------------
# -> ActionResult
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pending:
    """What the client remembers of one entry it sent: the answer goes back to it."""

    request_id: int
    cloid: str | None
    oid: int | None = None


def _from_entry(p: Pending, st: EntryStatus, ts: int, local_ts: int) -> ActionResult:
    if st.kind == "resting" or st.kind in ("waitingForFill", "waitingForTrigger"):
        return ActionResult(
            ts, p.request_id, st.cloid or p.cloid, st.oid, Outcome.RESTING, local_ts=local_ts
        )
    if st.kind == "filled":
        return ActionResult(
            ts,
            p.request_id,
            st.cloid or p.cloid,
            st.oid,
            Outcome.FILLED,
            filled_sz=st.total_sz,
            avg_px=st.avg_px,
            local_ts=local_ts,
        )
    if st.kind == "success":
        return ActionResult(ts, p.request_id, p.cloid, p.oid, Outcome.CANCELED, local_ts=local_ts)
    err = st.error or ClassifiedError(RejectReason.OTHER, "error without a message")
    return ActionResult(
        ts,
        p.request_id,
        p.cloid,
        p.oid,
        Outcome.REJECTED,
        err.reason,
        err.message,
        local_ts=local_ts,
    )


def unknown_results(
    pending: Sequence[Pending],
    ts: int,
    message: str,
    reason: RejectReason = RejectReason.NONE,
    local_ts: int = -1,
) -> list[ActionResult]:
    return [
        ActionResult(
            ts, p.request_id, p.cloid, p.oid, Outcome.UNKNOWN, reason, message, local_ts=local_ts
        )
        for p in pending
    ]


def results_of(
    reply: ExchangeReply, pending: Sequence[Pending], ts: int, local_ts: int = -1
) -> list[ActionResult]:
    """One ActionResult per entry sent, in the order sent.

    A whole-action error applies to every entry; so does a single ``error`` status answering
    a larger batch (pre-validation). A reply with another number of statuses than entries
    sent leaves the unmatched entries UNKNOWN.
    """
    if reply.error is not None:
        outcome = Outcome.UNKNOWN if reply.unknown else Outcome.REJECTED
        e = reply.error
        return [
            ActionResult(
                ts, p.request_id, p.cloid, p.oid, outcome, e.reason, e.message, local_ts=local_ts
            )
            for p in pending
        ]
    statuses = reply.statuses
    if reply.kind == "default":
        # success without data (single modify, scheduleCancel, updateLeverage): done
        return [
            ActionResult(ts, p.request_id, p.cloid, p.oid, Outcome.RESTING, local_ts=local_ts)
            for p in pending
        ]
    if len(statuses) == 1 and len(pending) > 1 and statuses[0].kind == "error":
        statuses = statuses * len(pending)
    out = [_from_entry(p, s, ts, local_ts) for p, s in zip(pending, statuses, strict=False)]
    if len(pending) != len(statuses):
        out += unknown_results(
            pending[len(out) :],
            ts,
            f"venue answered {len(statuses)} statuses for {len(pending)} entries",
            local_ts=local_ts,
        )
    return out


__all__ = [
    "EntryStatus",
    "ExchangeReply",
    "Pending",
    "parse_exchange_http",
    "parse_exchange_json",
    "parse_retry_after",
    "results_of",
    "unknown_results",
]
