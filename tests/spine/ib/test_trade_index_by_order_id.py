"""The trade index by order id: the same trades as the walk of every trade, whichever way
ib_async learnt of them.

A real (unconnected) ib_async ``IB`` is fed the replies TWS sends (``openOrder``, ``orderStatus``,
``completedOrder``) and a disconnect's reset; the index's answer, filtered to working trades, must be
what a walk of ``IB.openTrades()`` finds under that id.
"""

from __future__ import annotations

from ib_async import IB, Contract, Order, OrderState
from ib_async import OrderStatus as IBOrderStatus

from spine.ib.trade_index import TradeIndex


def _open_order(ib: IB, order_id: int, client_id: int = 1, status: str = "Submitted", perm: int = 0) -> None:
    order = Order(orderId=order_id, clientId=client_id, permId=perm or 1000 + order_id, action="BUY",
                  totalQuantity=1, orderType="MKT", orderRef=f"LIVE_SPINE:d0x-ABC:entry:{order_id}")  # fmt: skip
    ib.wrapper.openOrder(order_id, Contract(symbol="ABC", secType="STK"), order, OrderState(status=status))


def _status(ib: IB, order_id: int, status: str, perm: int = 0) -> None:
    ib.wrapper.orderStatus(order_id, status, 0.0, 1.0, 0.0, perm or 1000 + order_id, 0, 0.0, 1, "", 0.0)


def _working(index: TradeIndex, order_id: int) -> list:
    found = index.trades_of(order_id)
    assert found is not None
    return [t for t in found if t.orderStatus.status not in IBOrderStatus.DoneStates]


def _walk(ib: IB, order_id: int) -> list:
    return [t for t in ib.openTrades() if t.order.orderId == order_id]


def test_trades_held_before_and_added_after_the_index_was_made_are_found_as_the_walk_finds_them() -> None:
    ib = IB()
    ib.wrapper.clientId = 1
    _open_order(ib, 1)
    index = TradeIndex(ib)
    _open_order(ib, 2)
    for n in range(3, 40):
        _open_order(ib, n)
    for order_id in (1, 2, 17, 39):
        assert _working(index, order_id) == _walk(ib, order_id) and len(_walk(ib, order_id)) == 1
    assert index.trades_of(99) == [] and _walk(ib, 99) == []


def test_an_ended_trade_is_returned_and_left_out_by_its_status_as_the_walk_leaves_it() -> None:
    ib = IB()
    index = TradeIndex(ib)
    _open_order(ib, 4)
    assert len(_working(index, 4)) == 1
    _status(ib, 4, "Cancelled")
    assert len(index.trades_of(4) or []) == 1
    assert _working(index, 4) == _walk(ib, 4) == []


def test_the_same_order_id_of_two_clients_is_found_twice_in_the_walk_s_order() -> None:
    ib = IB()
    index = TradeIndex(ib)
    _open_order(ib, 8, client_id=1)
    _open_order(ib, 8, client_id=2)
    assert len(_walk(ib, 8)) == 2
    assert _working(index, 8) == _walk(ib, 8)


def test_a_disconnect_s_new_dict_is_read_whole() -> None:
    ib = IB()
    index = TradeIndex(ib)
    _open_order(ib, 5)
    assert len(_working(index, 5)) == 1
    ib.wrapper.reset()
    assert index.trades_of(5) == [] == _walk(ib, 5)
    _open_order(ib, 5, perm=2005)
    assert _working(index, 5) == _walk(ib, 5) and len(_walk(ib, 5)) == 1


def test_a_completed_order_under_a_key_already_held_has_the_dict_read_again() -> None:
    ib = IB()
    index = TradeIndex(ib)
    _open_order(ib, 0, perm=777)  # an order placed in TWS: ib_async keys it by permId
    assert len(index.trades_of(0) or []) == 1
    ib.wrapper.permId2Trade.clear()  # so ib_async stores the completed order under the same key
    ib.wrapper._results["completedOrders"] = []
    order = Order(orderId=12, clientId=1, permId=777, action="BUY", totalQuantity=1, orderType="MKT")
    ib.wrapper.completedOrder(Contract(symbol="ABC", secType="STK"), order, OrderState(status="PreSubmitted"))
    assert len(ib.wrapper.trades) == 1
    assert index.trades_of(0) == [] and _working(index, 12) == _walk(ib, 12)
    assert len(_walk(ib, 12)) == 1


def test_an_ib_whose_wrapper_was_replaced_is_walked() -> None:
    ib = IB()
    index = TradeIndex(ib)
    ib.wrapper = type(ib.wrapper)(ib)
    assert index.trades_of(1) is None
