"""IB's error and notice codes: one table for the IB thread and the gateway simulator alike.

IB sends every refusal, warning and connection notice as an ``error`` message with a
numeric code. The IB thread reads them (``spine.ib.translation``: what an order error does
to its order; ``spine.ib.connection``: what a notice does to the session), and ``spine
gateway`` sends them with the real gateway's meaning. Named sets say how Spine reacts.
"""

from __future__ import annotations

from enum import IntEnum


class ErrorCode(IntEnum):
    """The IB error and notice codes Spine sends or reads, named as the TWS API documents them."""

    DUPLICATE_ORDER_ID = 103
    PRICE_NOT_ON_TICK = 110
    CANCEL_NOT_CANCELLABLE = 161
    HISTORICAL_DATA_ERROR = 162
    NO_SECURITY_DEFINITION = 200
    ORDER_REJECTED = 201
    ORDER_CANCELLED = 202
    VALIDATION_ERROR = 321
    CLIENT_ID_IN_USE = 326
    MARKET_DATA_NOT_SUBSCRIBED = 354
    ORDER_MESSAGE_WARNING = 399
    FUNDAMENTALS_NOT_AVAILABLE = 430
    CONNECTIVITY_LOST = 1100
    CONNECTIVITY_RESTORED_DATA_LOST = 1101
    CONNECTIVITY_RESTORED_DATA_MAINTAINED = 1102
    MARKET_DATA_FARM_OK = 2104
    HMDS_FARM_OK = 2106
    MARGIN_WARNING = 2148
    SEC_DEF_FARM_OK = 2158
    DEEP_DATA_NOT_SUPPORTED = 10092
    ORDER_NOT_FOUND_TO_CANCEL = 10147
    ORDER_CANNOT_BE_CANCELLED = 10148
    TICK_BY_TICK_NOT_SUPPORTED = 10189
    NEWS_NOT_AVAILABLE = 10276


# codes about one order: the order's state may change (``translation.bt_status_for_error``)
ORDER_ERROR_CODES = frozenset(
    {
        ErrorCode.ORDER_REJECTED,
        ErrorCode.ORDER_CANCELLED,
        ErrorCode.DUPLICATE_ORDER_ID,
        ErrorCode.PRICE_NOT_ON_TICK,
        ErrorCode.CANCEL_NOT_CANCELLABLE,
        ErrorCode.ORDER_MESSAGE_WARNING,
        ErrorCode.ORDER_NOT_FOUND_TO_CANCEL,
        ErrorCode.ORDER_CANNOT_BE_CANCELLED,
        ErrorCode.MARGIN_WARNING,
    }
)
# order codes that change nothing: a cancel that could not act, a warning on a working order
NO_CHANGE_CODES = frozenset(
    {
        ErrorCode.CANCEL_NOT_CANCELLABLE,
        ErrorCode.ORDER_MESSAGE_WARNING,
        ErrorCode.ORDER_NOT_FOUND_TO_CANCEL,
        ErrorCode.ORDER_CANNOT_BE_CANCELLED,
    }
)
# connection notices: the link to IB was lost, or came back with or without its data
CONNECTIVITY_CODES = frozenset(
    {
        ErrorCode.CONNECTIVITY_LOST,
        ErrorCode.CONNECTIVITY_RESTORED_DATA_LOST,
        ErrorCode.CONNECTIVITY_RESTORED_DATA_MAINTAINED,
    }
)

__all__ = ["CONNECTIVITY_CODES", "NO_CHANGE_CODES", "ORDER_ERROR_CODES", "ErrorCode"]
