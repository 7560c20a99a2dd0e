"""Orders: fills on the simulated clock, brackets with OCA, cancels, order ids, rejections, money."""

from __future__ import annotations

from decimal import Decimal

from ib_async import LimitOrder, MarketOrder, Order, Stock, StopLimitOrder, StopOrder

from brokers.fill_model import FillModel
from spine.config import SlippageSettings

ABC = Stock("ABC", "SMART", "USD")
XYZ = Stock("XYZ", "SMART", "USD")


def errors_of(ib) -> list[tuple[int, int, str]]:
    seen: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda req_id, code, text, contract: seen.append((req_id, code, text))
    return seen


def test_market_order_fills_at_the_next_bars_open(gateway, ib, wait_until):
    trade = ib.placeOrder(ABC, MarketOrder("BUY", 10))
    wait_until(ib, lambda: trade.orderStatus.status == "Submitted")
    gateway.step()
    wait_until(ib, lambda: trade.orderStatus.status == "Filled")
    status = trade.orderStatus
    assert (status.filled, status.remaining, status.avgFillPrice) == (10.0, 0.0, 101.0)


def test_limit_stop_and_stop_limit_orders_fill_when_the_bar_range_crosses_them(gateway, ib, wait_until):
    limit = ib.placeOrder(ABC, LimitOrder("BUY", 1, 93.5))  # lows 100, 101, 94: not before bar 4
    stop = ib.placeOrder(ABC, StopOrder("BUY", 1, 104.0))  # bar 2 high 106 crosses 104
    stop_limit = ib.placeOrder(ABC, StopLimitOrder("SELL", 1, 93.0, 96.0))  # bar 3 low 94 hits the stop
    wait_until(ib, lambda: stop_limit.orderStatus.status == "Submitted")
    gateway.step()
    assert not any(t.isDone() for t in (limit, stop, stop_limit))
    gateway.step()
    wait_until(ib, lambda: stop.isDone())
    assert stop.orderStatus.avgFillPrice == 104.0
    gateway.step()
    wait_until(ib, lambda: stop_limit.isDone())
    assert stop_limit.orderStatus.avgFillPrice == 96.0
    assert limit.orderStatus.status == "Submitted"


def test_bracket_parent_fills_children_activate_one_child_fills_and_oca_cancels_the_other(gateway, ib, wait_until):
    errors = errors_of(ib)
    parent, take_profit, stop_loss = trades = [
        ib.placeOrder(ABC, o) for o in ib.bracketOrder("BUY", 5, 103.0, 106.0, 96.0, orderRef="strat-A")
    ]
    wait_until(ib, lambda: stop_loss.orderStatus.status == "PreSubmitted", what="bracket acknowledged")
    assert parent.orderStatus.status == "Submitted"
    assert take_profit.orderStatus.status == "PreSubmitted"

    gateway.step()  # bar 1 opens at 101: the parent's limit 103 fills at the open
    wait_until(ib, lambda: take_profit.orderStatus.status == "Submitted" == stop_loss.orderStatus.status)
    assert parent.orderStatus.status == "Filled" and parent.orderStatus.avgFillPrice == 101.0

    gateway.step()  # bar 2 reaches 106: the take-profit fills, the stop is cancelled by OCA
    wait_until(ib, lambda: take_profit.isDone() and stop_loss.isDone(), what="OCA")
    assert take_profit.orderStatus.status == "Filled" and take_profit.orderStatus.avgFillPrice == 106.0
    assert stop_loss.orderStatus.status == "Cancelled"
    wait_until(ib, lambda: (stop_loss.order.orderId, 202) in [(r, c) for r, c, _ in errors], what="error 202")

    assert [f.execution.orderRef for f in ib.fills()] == ["strat-A", "strat-A"]
    completed = ib.reqCompletedOrders(apiOnly=False)
    assert sorted(t.order.orderRef for t in completed) == ["strat-A"] * 3
    assert {t.order.permId for t in completed} == {t.order.permId for t in trades}
    assert ib.positions() == [] or ib.positions()[0].position == 0


def test_untransmitted_bracket_legs_are_held_until_the_last_leg_arrives(gateway, ib, wait_until):
    legs = ib.bracketOrder("BUY", 5, 103.0, 106.0, 96.0, orderRef="held")
    parent = ib.placeOrder(ABC, legs[0])
    take_profit = ib.placeOrder(ABC, legs[1])
    ib.reqCurrentTime()  # a round trip: the server has read both legs
    assert parent.orderStatus.status == take_profit.orderStatus.status == "PendingSubmit"
    gateway.step()
    ib.reqCurrentTime()
    assert parent.orderStatus.status == "PendingSubmit" and not ib.fills()
    ib.placeOrder(ABC, legs[2])
    wait_until(ib, lambda: parent.orderStatus.status == "Submitted")


def test_cancel_order_gives_cancelled_and_error_202(gateway, ib, wait_until):
    errors = errors_of(ib)
    trade = ib.placeOrder(ABC, LimitOrder("BUY", 3, 50.0, orderRef="cheap"))
    wait_until(ib, lambda: trade.orderStatus.status == "Submitted")
    ib.cancelOrder(trade.order)
    wait_until(ib, lambda: trade.orderStatus.status == "Cancelled")
    assert (trade.order.orderId, 202) in [(r, c) for r, c, _ in errors]
    gateway.step()
    assert ib.reqOpenOrders() == []


def test_global_cancel_cancels_every_open_order_of_every_client(gateway, connect, wait_until):
    first, second = connect(gateway, 1), connect(gateway, 2)
    a = first.placeOrder(ABC, LimitOrder("BUY", 1, 50.0))
    b = second.placeOrder(XYZ, LimitOrder("SELL", 1, 99.0))
    wait_until(first, lambda: a.orderStatus.status == "Submitted" and b.orderStatus.status == "Submitted")
    first.reqGlobalCancel()
    wait_until(first, lambda: a.orderStatus.status == "Cancelled" and b.orderStatus.status == "Cancelled")
    assert first.reqAllOpenOrders() == []


def test_duplicate_order_id_gets_error_103(gateway, ib, wait_until):
    errors = errors_of(ib)
    trade = ib.placeOrder(ABC, MarketOrder("BUY", 1))
    wait_until(ib, lambda: trade.orderStatus.status == "Submitted")
    gateway.step()
    wait_until(ib, lambda: trade.isDone())
    used = trade.order.orderId
    ib.client.placeOrder(used, ABC, MarketOrder("BUY", 1))  # the filled order's id, sent again
    wait_until(ib, lambda: any(code == 103 for _, code, _ in errors), what="error 103")
    assert (used, 103, "Duplicate order id") in errors


def test_order_for_an_unknown_ticker_gets_error_200(ib, wait_until):
    errors = errors_of(ib)
    trade = ib.placeOrder(Stock("NOPE", "SMART", "USD"), MarketOrder("BUY", 1))
    wait_until(ib, lambda: any(code == 200 for _, code, _ in errors), what="error 200")
    assert errors[-1][0] == trade.order.orderId


def test_order_beyond_the_available_funds_is_rejected_with_201_and_the_reason(start_gateway, connect, wait_until):
    ib = connect(start_gateway(cash=1_000.0), 1)
    errors = errors_of(ib)
    trade = ib.placeOrder(ABC, MarketOrder("BUY", 100))  # about 10,050 needed, 1,000 available
    wait_until(ib, lambda: trade.isDone(), what="rejection")
    ((order_id, _, text),) = [e for e in errors if e[1] == 201]
    assert order_id == trade.order.orderId
    assert text.startswith("Order rejected - reason:") and "insufficient funds" in text
    assert trade.orderStatus.status in ("Cancelled", "Inactive")


def test_injected_rejection_uses_the_given_code_and_text(gateway, ib, wait_until):
    errors = errors_of(ib)
    gateway.reject_next_order(201, "No trading permissions")
    rejected = ib.placeOrder(ABC, MarketOrder("BUY", 1))
    wait_until(ib, lambda: rejected.isDone())
    assert (rejected.order.orderId, 201, "Order rejected - reason:No trading permissions") in errors
    accepted = ib.placeOrder(ABC, MarketOrder("BUY", 1))
    wait_until(ib, lambda: accepted.orderStatus.status == "Submitted")


def test_injected_partial_fill_fills_part_of_the_order_then_the_rest_on_the_next_bar(gateway, ib, wait_until):
    gateway.fill_next_order_partially(0.4)
    trade = ib.placeOrder(ABC, MarketOrder("BUY", 10))
    wait_until(ib, lambda: trade.orderStatus.status == "Submitted")
    gateway.step()
    wait_until(ib, lambda: trade.orderStatus.filled == 4.0, what="partial fill")
    assert (trade.orderStatus.status, trade.orderStatus.remaining) == ("Submitted", 6.0)
    gateway.step()
    wait_until(ib, lambda: trade.orderStatus.status == "Filled")
    assert [f.execution.shares for f in trade.fills] == [4.0, 6.0]
    assert trade.orderStatus.avgFillPrice == (4 * 101.0 + 6 * 102.0) / 10


def test_volume_share_slippage_caps_each_fill_at_a_share_of_bar_volume(start_gateway, connect, wait_until):
    model = FillModel(slippage=SlippageSettings(model="volume_share", volume_limit=0.00001, price_impact=0.0))
    gateway = start_gateway(fill_model=model)
    ib = connect(gateway, 1)
    trade = ib.placeOrder(ABC, MarketOrder("BUY", 25))  # 10 shares per 1,000,000-share bar
    wait_until(ib, lambda: trade.orderStatus.status == "Submitted")
    gateway.step(3)
    wait_until(ib, lambda: trade.orderStatus.status == "Filled")
    assert [f.execution.shares for f in trade.fills] == [10.0, 10.0, 5.0]


def test_delayed_acknowledgement_arrives_after_the_delay(gateway, ib, wait_until):
    gateway.delay_acks(0.2)
    trade = ib.placeOrder(ABC, MarketOrder("BUY", 1))
    ib.sleep(0.05)
    assert trade.orderStatus.status == "PendingSubmit"
    wait_until(ib, lambda: trade.orderStatus.status == "Submitted", what="delayed ack")


def test_modifying_a_working_order_changes_its_price(gateway, ib, wait_until):
    trade = ib.placeOrder(ABC, LimitOrder("BUY", 2, 50.0))
    wait_until(ib, lambda: trade.orderStatus.status == "Submitted")
    trade.order.lmtPrice = 102.5
    ib.placeOrder(ABC, trade.order)
    ib.reqCurrentTime()
    gateway.step()
    wait_until(ib, lambda: trade.isDone())
    assert trade.orderStatus.avgFillPrice == 101.0  # bar 1 opens at 101, below the new limit


def test_executions_and_commissions_match_the_cash_change_to_the_cent(start_gateway, connect, wait_until):
    model = FillModel(slippage=SlippageSettings(model="fixed_bps", bps=7.0), commission_bps=13.0)
    gateway = start_gateway(fill_model=model)
    ib = connect(gateway, 1)

    def cash() -> Decimal:
        return next(Decimal(v.value) for v in ib.accountValues() if v.tag == "TotalCashValue" and v.currency == "USD")

    before = cash()
    orders = [(ABC, MarketOrder("BUY", 7)), (XYZ, MarketOrder("BUY", 13)), (ABC, MarketOrder("SELL", 3))]
    for contract, order in orders:
        trade = ib.placeOrder(contract, order)
        wait_until(ib, lambda t=trade: t.orderStatus.status == "Submitted")
        gateway.step()
        wait_until(ib, lambda t=trade: t.isDone() and all(f.commissionReport.execId for f in t.fills))
    wait_until(ib, lambda: len(ib.fills()) == 3)
    flows = Decimal(0)
    for fill in ib.fills():
        notional = Decimal(repr(fill.execution.shares)) * Decimal(repr(fill.execution.price))
        flows += -notional if fill.execution.side == "BOT" else notional
        flows -= Decimal(repr(fill.commissionReport.commission))
    assert all(f.commissionReport.commission > 0 for f in ib.fills())
    wait_until(ib, lambda: cash() != before)
    assert (cash() - before).quantize(Decimal("0.01")) == flows.quantize(Decimal("0.01"))


def test_low_level_order_without_transmit_then_cancel_is_silent(ib, wait_until):
    order = Order(action="BUY", totalQuantity=1, orderType="LMT", lmtPrice=10.0, transmit=False)
    trade = ib.placeOrder(ABC, order)
    ib.cancelOrder(trade.order)
    wait_until(ib, lambda: trade.orderStatus.status == "Cancelled")
    assert ib.reqOpenOrders() == []
