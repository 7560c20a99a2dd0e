"""The trade index by intent: never misses an intent ib_async holds an order of, whichever way ib_async learnt of it.

A real (unconnected) ib_async ``IB`` is fed the replies TWS sends (``openOrder``,
``completedOrder``) and Spine's own ``placeOrder`` path; the index must name every intent an
orderRef of its trades names, and the resend check must refuse it as the full walk does.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from ib_async import IB, Contract, Order, OrderState

from spine.ib.routing import OrderRoutingMixin
from spine.ib.trade_index import TradeIndex


def _open_order(ib: IB, order_id: int, ref: str, status: str = "Submitted") -> None:
    order = Order(orderId=order_id, clientId=1, permId=1000 + order_id, action="BUY", totalQuantity=1,
                  orderType="MKT", orderRef=ref)  # fmt: skip
    ib.wrapper.openOrder(order_id, Contract(symbol="ABC", secType="STK"), order, OrderState(status=status))


def _worker(ib: IB) -> SimpleNamespace:
    return SimpleNamespace(_known_intents=set(), ib=ib, _trade_index=TradeIndex(ib))


def test_an_intent_no_trade_names_is_not_held_and_the_resend_check_passes_it() -> None:
    ib = IB()
    index = TradeIndex(ib)
    _open_order(ib, 1, "LIVE_SPINE:d0abc-ABC:entry:1")
    assert not index.may_hold("d0new-ABC")
    assert not index.may_hold("d0abc-AB")  # a prefix is another intent


def test_orders_restored_from_ib_after_the_index_was_made_are_held() -> None:
    ib = IB()
    worker = _worker(ib)
    _open_order(ib, 7, "LIVE_SPINE:d0late-ABC:stop:2")
    assert worker._trade_index.may_hold("d0late-ABC")
    assert "already works at IB" in OrderRoutingMixin._resend_refusal(worker, "d0late-ABC")  # type: ignore[arg-type]


def test_orders_ib_async_held_before_the_index_was_made_are_held() -> None:
    ib = IB()
    _open_order(ib, 3, "PROHIBITED_LLM_DISCOVERY_LINK:d0old-TSM:entry:1")
    assert TradeIndex(ib).may_hold("d0old-TSM")


def test_a_ref_rewritten_in_place_by_an_open_order_reply_is_held_under_its_new_intent() -> None:
    ib = IB()
    index = TradeIndex(ib)
    _open_order(ib, 5, "LIVE_SPINE:d0first-ABC:entry:1")
    assert index.may_hold("d0first-ABC")  # read: the trade is now behind the index's mark
    _open_order(ib, 5, "LIVE_SPINE:d0moved-ABC:entry:1")  # the same order, changed in TWS: ib_async edits its ref
    assert len(ib.wrapper.trades) == 1
    assert index.may_hold("d0moved-ABC")
    worker = SimpleNamespace(_known_intents=set(), ib=ib, _trade_index=index)
    assert "already works at IB" in OrderRoutingMixin._resend_refusal(worker, "d0moved-ABC")  # type: ignore[arg-type]


def test_a_completed_order_reply_is_held_and_the_walk_decides_from_its_status() -> None:
    ib = IB()
    worker = _worker(ib)
    worker._trade_index.may_hold("x")  # the index has read the empty book
    ib.wrapper._results["completedOrders"] = []
    for order_id, intent, status in ((9, "d0ended-ABC", "Cancelled"), (10, "d0odd-ABC", "PreSubmitted")):
        order = Order(orderId=order_id, clientId=1, permId=2000 + order_id, action="SELL", totalQuantity=1,
                      orderType="STP", orderRef=f"LIVE_SPINE:{intent}:stop:1")  # fmt: skip
        ib.wrapper.completedOrder(Contract(symbol="ABC", secType="STK"), order, OrderState(status=status))
        assert worker._trade_index.may_hold(intent)
    assert OrderRoutingMixin._resend_refusal(worker, "d0ended-ABC") == ""  # type: ignore[arg-type]
    assert "already works at IB" in OrderRoutingMixin._resend_refusal(worker, "d0odd-ABC")  # type: ignore[arg-type]


def test_an_order_placed_through_ib_async_is_held() -> None:
    ib = IB()
    index = TradeIndex(ib)
    index.may_hold("x")
    ib.client.placeOrder = lambda *a: None  # type: ignore[method-assign]  # unconnected: nothing to write to
    ib.placeOrder(Contract(symbol="ABC", secType="STK"), Order(orderId=11, action="BUY", totalQuantity=1,
                                                               orderType="MKT", orderRef="LIVE_SPINE:d0sent-ABC:entry:1"))  # fmt: skip
    assert index.may_hold("d0sent-ABC")


def test_a_reset_book_is_read_again_whole() -> None:
    ib = IB()
    index = TradeIndex(ib)
    _open_order(ib, 1, "LIVE_SPINE:d0gone-ABC:entry:1")
    assert index.may_hold("d0gone-ABC")
    ib.wrapper.reset()  # what a disconnect does
    assert not index.may_hold("d0gone-ABC")
    _open_order(ib, 1, "LIVE_SPINE:d0back-ABC:entry:1")  # restored from IB at the next connect
    assert index.may_hold("d0back-ABC")


def test_an_ib_whose_wrapper_was_replaced_always_answers_maybe() -> None:
    ib = IB()
    index = TradeIndex(ib)
    ib.wrapper = type(ib.wrapper)(ib)
    assert index.may_hold("d0anything-ABC")


@pytest.mark.parametrize("count", [1, 50, 300])
def test_the_index_agrees_with_the_full_walk_on_every_intent(count: int) -> None:
    ib = IB()
    index = TradeIndex(ib)
    for i in range(count):
        _open_order(ib, i + 1, f"LIVE_SPINE:d0n{i}-ABC:{'entry' if i % 2 else 'stop'}:1",
                    "Cancelled" if i % 3 == 0 else "Submitted")  # fmt: skip
        if i % 7 == 0:
            index.may_hold("x")  # read part of the book now and then, as sends do
    named = [f"d0n{i}-ABC" for i in range(count + 2)]
    indexed = SimpleNamespace(_known_intents=set(), ib=ib, _trade_index=index)
    walking = SimpleNamespace(_known_intents=set(), ib=ib, _trade_index=SimpleNamespace(may_hold=lambda _: True))
    answers = [OrderRoutingMixin._resend_refusal(indexed, intent) for intent in named]  # type: ignore[arg-type]
    assert answers == [OrderRoutingMixin._resend_refusal(walking, intent) for intent in named]  # type: ignore[arg-type]
    assert sum("already works at IB" in a for a in answers) == sum(1 for i in range(count) if i % 3)
    assert not index.may_hold(f"d0n{count}-ABC")
