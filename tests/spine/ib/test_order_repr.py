"""Spine's ``Order`` is ib_async's to ib_async, and its repr is ib_async's text, to the character.

ib_async formats its log lines from these reprs; they are compared here with what ib_async's own
``Order`` gives for the same fields set, on the orders Spine sends and on odd values.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime

import ib_async
import pytest
from ib_async import SoftDollarTier, Stock, TagValue, Trade, TradeLogEntry

from spine.ib.order_repr import Order, non_defaults

CASES = {
    "blank": {},
    "limit entry": {"orderId": 12, "clientId": 7, "action": "BUY", "totalQuantity": 100, "orderType": "LMT",
                    "lmtPrice": 101.5, "tif": "GTC", "orderRef": "LIVE_SPINE:d0abc-ABC:entry:1", "transmit": False},
    "stop leg": {"orderId": 13, "parentId": 12, "action": "SELL", "totalQuantity": 100, "orderType": "STP",
                 "auxPrice": 95.25, "ocaGroup": "oca-12", "ocaType": 1, "permId": 4321},
    "NaN and None": {"lmtPrice": math.nan, "account": None, "totalQuantity": 0.0},
    "lists and tier": {"algoParams": [TagValue("a", "1")], "orderComboLegs": [], "softDollarTier": SoftDollarTier("n", "v", "d")},
}  # fmt: skip


@pytest.mark.parametrize("fields", CASES.values(), ids=CASES.keys())
def test_the_repr_is_ib_async_s_text(fields: dict) -> None:
    ours, theirs = Order(**fields), ib_async.Order(**fields)
    assert repr(ours) == repr(theirs) and str(ours) == str(theirs)
    assert non_defaults(ours) == ib_async.util.dataclassNonDefaults(theirs)


def test_a_trade_s_log_line_is_the_same_text() -> None:
    fields = CASES["limit entry"]
    now = datetime(2026, 1, 2, tzinfo=UTC)

    def line(order: ib_async.Order) -> str:
        trade = Trade(Stock("ABC", "SMART", "USD"), order, ib_async.OrderStatus(orderId=12, status="Submitted"), [],
                      [TradeLogEntry(now, "PendingSubmit", ""), TradeLogEntry(now, "Submitted", "")])  # fmt: skip
        return f"orderStatus: {trade}"

    assert line(Order(**fields)) == line(ib_async.Order(**fields))


def test_it_is_ib_async_s_order_with_the_same_fields_name_and_identity_equality() -> None:
    order = Order(orderId=3)
    assert isinstance(order, ib_async.Order) and type(order).__qualname__ == "Order"
    assert [f.name for f in dataclasses.fields(order)] == [f.name for f in dataclasses.fields(ib_async.Order)]
    assert order != Order(orderId=3) and order == order
    assert dataclasses.replace(order, lmtPrice=2.0).lmtPrice == 2.0
