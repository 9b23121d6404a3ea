"""Stable reason codes of the built-in gates (the ``reason`` of a :class:`GateDecision`)."""

from __future__ import annotations

# data-quality gate
NO_DATA = "NoData"
FEED_DISCONNECTED = "FeedDisconnected"
STALE = "Stale"
SEQUENCE_GAP = "SequenceGap"
TIMESTAMP_REGRESSION = "TimestampRegression"
EMPTY_BOOK = "EmptyBook"
CROSSED = "Crossed"
POSITION_UNKNOWN = "PositionUnknown"

DATA_QUALITY_REASONS = (
    NO_DATA,
    FEED_DISCONNECTED,
    STALE,
    SEQUENCE_GAP,
    TIMESTAMP_REGRESSION,
    EMPTY_BOOK,
    CROSSED,
    POSITION_UNKNOWN,
)

# kill switch
DRAWDOWN = "MaxDrawdown"
DAILY_LOSS = "DailyLoss"
MAX_POSITION = "MaxPosition"
STALE_TOO_LONG = "StaleTooLong"
UNEXPLAINED_POSITION = "PositionChangeWithoutFill"
LIQUIDATION = "Liquidation"
TOO_MANY_REJECTIONS = "TooManyRejections"
PNL_UNAVAILABLE = "PnlUnavailable"

KILL_SWITCH_REASONS = (
    DRAWDOWN,
    DAILY_LOSS,
    MAX_POSITION,
    STALE_TOO_LONG,
    UNEXPLAINED_POSITION,
    LIQUIDATION,
    TOO_MANY_REJECTIONS,
    PNL_UNAVAILABLE,
)
