"""The test aids of ``spine.gateway.testing``, each as the real ib_async client sees it."""

from __future__ import annotations

from decimal import Decimal

from ib_async import LimitOrder, MarketOrder, Stock

from brokers.fill_model import FillModel
from spine.gateway.protocol import InMsg
from spine.gateway.testing import (
    HistoryPacing,
    blackhole_next,
    commission_first,
    order_warning,
    roll_back_order_ids,
    send_notice,
    set_min_tick,
    withdraw_cash,
)
from tests.spine.gateway.conftest import watching_next_valid_id

ABC = Stock("ABC", "SMART", "USD")


def test_send_notice_reaches_every_client_with_the_gateways_words(gateway, connect, wait_until) -> None:
    first, second = connect(gateway, 1), connect(gateway, 2)
    heard: list[tuple[int, str]] = []
    first.errorEvent += lambda req_id, code, text, contract: heard.append((code, text))
    second.errorEvent += lambda req_id, code, text, contract: heard.append((code, text))
    gateway.call(lambda: send_notice(gateway.simulator, 1100))
    wait_until(first, lambda: len(heard) == 2, what="the notice at both clients")
    assert heard == [(1100, "Connectivity between IB and Trader Workstation has been lost.")] * 2


def test_blackhole_next_swallows_only_the_next_request_of_its_id(gateway, ib, wait_until) -> None:
    gateway.call(lambda: blackhole_next(gateway.simulator, InMsg.PLACE_ORDER))
    lost = ib.placeOrder(ABC, MarketOrder("BUY", 1))
    answered = ib.placeOrder(ABC, MarketOrder("BUY", 1))
    wait_until(ib, lambda: answered.orderStatus.status == "Submitted", what="the second order's answer")
    ib.reqCurrentTime()
    assert lost.orderStatus.status == "PendingSubmit"
    assert gateway.call(lambda: list(gateway.simulator.engine.orders)) == [(1, answered.order.orderId)]


def test_roll_back_order_ids_hands_new_connections_the_pinned_id(gateway, ib, wait_until) -> None:
    working = [ib.placeOrder(ABC, LimitOrder("BUY", 1, 50.0)) for _ in range(3)]
    wait_until(ib, lambda: all(t.orderStatus.status == "Submitted" for t in working), what="the working orders")
    gateway.call(lambda: roll_back_order_ids(gateway.simulator, 1))
    again, announced = watching_next_valid_id()
    try:
        again.connect("127.0.0.1", gateway.port, clientId=2, timeout=5)
    finally:
        again.disconnect()
    assert announced[0] == 1


def test_commission_first_sends_each_fills_commission_report_before_its_execution(
    start_gateway, connect, wait_until, messages_seen
) -> None:
    gateway = start_gateway(fill_model=FillModel(commission_bps=10.0))
    ib = connect(gateway, 1)
    trade = ib.placeOrder(ABC, MarketOrder("BUY", 2))
    wait_until(ib, lambda: trade.orderStatus.status == "Submitted", what="the acknowledgement")
    gateway.call(lambda: commission_first(gateway.simulator))
    seen = messages_seen(ib)
    gateway.step()
    wait_until(ib, lambda: len(seen) == 5, what="the fill's five messages")
    assert seen == ["openOrder", "commissionReport", "orderStatus", "execDetails", "orderStatus"]


def test_set_min_tick_changes_the_contract_details(gateway, ib) -> None:
    gateway.call(lambda: set_min_tick(gateway.simulator, "ABC", 0.05))
    (details,) = ib.reqContractDetails(ABC)
    assert details.minTick == 0.05


def test_withdraw_cash_lowers_the_cash_pushed_to_account_subscribers(gateway, ib, wait_until) -> None:
    def cash() -> float:
        return next(float(v.value) for v in ib.accountValues() if v.tag == "TotalCashValue")

    before = cash()
    gateway.call(lambda: withdraw_cash(gateway.simulator, 6_000.0))
    wait_until(ib, lambda: cash() == before - 6_000.0, what="the new cash")
    assert gateway.call(lambda: gateway.simulator.account.cash) == Decimal(repr(before)) - 6_000


def test_order_warning_reaches_the_owner_and_leaves_the_order_working(gateway, ib, wait_until) -> None:
    trade = ib.placeOrder(ABC, LimitOrder("BUY", 1, 50.0))
    wait_until(ib, lambda: trade.orderStatus.status == "Submitted", what="the working order")
    order_id = trade.order.orderId
    gateway.call(lambda: order_warning(gateway.simulator, 1, order_id, 399, "Order message: warning"))
    wait_until(ib, lambda: any(e.errorCode == 399 for e in trade.log), what="the warning in the trade's log")
    assert gateway.call(lambda: gateway.simulator.engine.orders[(1, order_id)].status) == "Submitted"


def test_history_pacing_refuses_an_identical_request_within_15_seconds() -> None:
    pacing = HistoryPacing()
    request = ("ABC", "", "5 D", "1 day")
    pacing.sent.append((0.0, "ABC", request))
    assert pacing.violation("ABC", request, 14.9) == "an identical request within 15 seconds"
    assert pacing.violation("ABC", request, 15.0) == ""


def test_history_pacing_refuses_a_sixth_request_for_one_contract_within_2_seconds() -> None:
    pacing = HistoryPacing()
    for i in range(5):
        pacing.sent.append((i * 0.1, "ABC", ("ABC", str(i), "1 D", "1 day")))
    assert pacing.violation("ABC", ("ABC", "new", "1 D", "1 day"), 0.5) == (
        "6 or more requests for one contract within 2 seconds"
    )
    assert pacing.violation("XYZ", ("XYZ", "new", "1 D", "1 day"), 0.5) == ""


def test_history_pacing_refuses_a_61st_request_in_10_minutes_and_scale_shrinks_the_window() -> None:
    pacing = HistoryPacing(scale=0.01)  # 10 minutes become 6 seconds
    for i in range(60):
        pacing.sent.append((i * 0.05, f"T{i}", (f"T{i}",)))
    assert pacing.violation("NEW", ("NEW",), 3.0) == "more than 60 requests in 10 minutes"
    assert pacing.violation("NEW", ("NEW",), 6.1) == ""
