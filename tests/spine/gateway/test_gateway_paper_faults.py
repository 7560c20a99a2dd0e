"""The faults the paper route must survive, each shown as the real ib_async client sees it."""

from __future__ import annotations

import pytest
from ib_async import IB, LimitOrder, MarketOrder, Stock

from brokers.fill_model import FillModel
from spine.core.errors import InputError
from spine.gateway.faults import FaultPlan, ScheduledFault
from tests.spine.gateway.conftest import watching_next_valid_id

ABC = Stock("ABC", "SMART", "USD")


def _fill_one(ib: IB, gateway, wait_until, quantity: float = 2, ref: str = "r"):  # type: ignore[no-untyped-def]
    trade = ib.placeOrder(ABC, MarketOrder("BUY", quantity, orderRef=ref))
    wait_until(ib, lambda: trade.orderStatus.status == "Submitted", what="the acknowledgement")
    return trade


def test_restart_drops_every_client_keeps_orders_and_positions_and_rolls_next_valid_id_back(
    gateway, connect, wait_until
):
    ib = connect(gateway, 4)
    filled = _fill_one(ib, gateway, wait_until, 3, "kept")
    resting = ib.placeOrder(ABC, LimitOrder("BUY", 1, 50.0, orderRef="resting"))
    wait_until(ib, lambda: resting.orderStatus.status == "Submitted", what="the resting order")
    gateway.step()
    wait_until(ib, lambda: filled.isDone(), what="the fill")
    highest = resting.order.orderId
    assert gateway.restart(rollback=2) == 1
    with pytest.raises(ConnectionError):
        wait_until(ib, lambda: False, what="the disconnect")
    again, announced = watching_next_valid_id()
    try:
        again.connect("127.0.0.1", gateway.port, clientId=4, timeout=5)
        assert announced[0] == highest + 1 - 2  # nextValidId rolled back by 2
        # ib_async then raises its own counter past the open order it is told about, so it does not collide.
        assert again.client._reqIdSeq > highest
        assert [p.position for p in again.positions()] == [3.0]
        assert [t.order.orderRef for t in again.openTrades()] == ["resting"]
        reused = again.placeOrder(ABC, MarketOrder("BUY", 1))  # the client may reuse an id: IB rejects it
        wait_until(again, lambda: reused.isDone() or reused.orderStatus.status == "Submitted", what="the answer")
        assert reused.order.orderId > highest or any(e.errorCode == 103 for e in reused.log)
    finally:
        again.disconnect()


def test_blackhole_accepts_the_next_order_and_never_answers(gateway, ib):
    gateway.blackhole()
    trade = ib.placeOrder(ABC, MarketOrder("BUY", 1, orderRef="lost"))
    ib.reqCurrentTime()  # a round trip: the order has arrived
    gateway.step()
    ib.reqCurrentTime()
    assert trade.orderStatus.status == "PendingSubmit" and trade.log[-1].status == "PendingSubmit"
    assert ib.reqOpenOrders() == [] and ib.reqExecutions() == []
    assert gateway.call(lambda: list(gateway.simulator.faults.swallowed)) == [trade.order.orderId]
    after = ib.placeOrder(ABC, MarketOrder("BUY", 1))  # only the next one: later orders are answered
    ib.reqCurrentTime()
    assert after.orderStatus.status == "Submitted"


def test_by_default_a_fill_reports_its_status_before_its_execution(start_gateway, connect, wait_until, messages_seen):
    gateway = start_gateway(fill_model=FillModel(commission_bps=10.0))
    ib = connect(gateway, 1)
    trade = _fill_one(ib, gateway, wait_until)
    seen = messages_seen(ib)
    gateway.step()
    wait_until(ib, lambda: bool(trade.fills) and trade.fills[0].commissionReport.execId, what="the fill")
    assert seen == ["orderStatus", "openOrder", "execDetails", "commissionReport"]


def test_exec_first_sends_exec_details_before_order_status(start_gateway, connect, wait_until, messages_seen):
    gateway = start_gateway(fill_model=FillModel(commission_bps=10.0))
    ib = connect(gateway, 1)
    trade = _fill_one(ib, gateway, wait_until)
    statuses_when_filled: list[int] = []
    trade.fillEvent += lambda t, fill: statuses_when_filled.append(t.orderStatus.status)
    gateway.exec_first()
    seen = messages_seen(ib)
    gateway.step()
    wait_until(ib, lambda: trade.isDone() and trade.fills[0].commissionReport.execId, what="the fill")
    assert seen == ["execDetails", "orderStatus", "openOrder", "commissionReport"]
    assert statuses_when_filled == ["Submitted"]  # the client learns of the fill while the order still says Submitted


def test_commission_first_sends_the_report_before_its_execution_and_ib_async_drops_it(
    start_gateway, connect, wait_until, messages_seen
):
    gateway = start_gateway(fill_model=FillModel(commission_bps=10.0))
    ib = connect(gateway, 1)
    trade = _fill_one(ib, gateway, wait_until)
    reports: list[float] = []
    ib.commissionReportEvent += lambda t, fill, report: reports.append(report.commission)
    gateway.commission_first()
    seen = messages_seen(ib)
    gateway.step()
    wait_until(ib, lambda: trade.isDone() and bool(trade.fills), what="the fill")
    ib.reqCurrentTime()
    assert seen == ["commissionReport", "execDetails", "orderStatus", "openOrder"]
    assert reports == [] and trade.fills[0].commissionReport.execId == ""  # lost: a later reqExecutions recovers it
    assert len(ib.reqExecutions()) == 1
    assert trade.fills[0].commissionReport.commission == pytest.approx(0.2)  # 2 x 101 at 10 bps


def test_external_fill_has_order_id_zero_no_order_ref_and_moves_the_position(gateway, ib, wait_until):
    events = []
    ib.execDetailsEvent += lambda trade, fill: events.append(fill)
    gateway.external_fill("ABC", 5)
    wait_until(ib, lambda: bool(ib.fills()) and bool(ib.positions()), what="the external fill")
    assert events == []  # ib_async has no trade for it, so it fires no execDetailsEvent: watch fills()/positions()
    (fill,) = ib.fills()
    assert (fill.execution.orderId, fill.execution.orderRef, fill.execution.shares) == (0, "", 5.0)
    assert fill.execution.price == 100.5
    assert [(p.contract.symbol, p.position) for p in ib.positions()] == [("ABC", 5.0)]
    assert ib.openTrades() == []


def test_margin_warning_is_error_2148_to_every_client(gateway, connect, wait_until):
    clients = [connect(gateway, 1), connect(gateway, 2)]
    codes: dict[int, list[int]] = {1: [], 2: []}
    for client_id, ib in zip((1, 2), clients, strict=True):
        ib.errorEvent += lambda req_id, code, text, contract, c=client_id: codes[c].append(code)
    gateway.margin_warning()
    for ib, client_id in zip(clients, (1, 2), strict=True):
        wait_until(ib, lambda c=client_id: 2148 in codes[c], what="2148")


def test_data_lost_sends_1100_then_1101_and_ends_market_data(gateway, ib, wait_until):
    notices: list[int] = []
    ib.errorEvent += lambda req_id, code, text, contract: notices.append(code)
    (abc,) = ib.qualifyContracts(ABC)
    ticker = ib.reqMktData(abc)
    wait_until(ib, lambda: ticker.last == 100.5, what="the first tick")
    gateway.data_lost(0.2)
    wait_until(ib, lambda: 1101 in notices, what="1101")
    assert 1100 in notices and 1102 not in notices
    gateway.step()
    ib.reqCurrentTime()
    ib.sleep(0.05)
    assert ticker.last == 100.5  # the subscription was lost: the client must request market data again
    again = ib.reqMktData(abc, "", False, False)
    wait_until(ib, lambda: again.last == 102.0, what="a fresh tick after resubscribing")


def test_faults_option_parses_the_paper_route_faults():
    plan = FaultPlan.parse(
        ["restart=3@10,blackhole,exec_first", "commission_first,external_fill=ABC:-2", "margin_warning@5,data_lost=2"]
    )
    assert plan.items == (
        ScheduledFault("restart", at_secs=10.0, count=3),
        ScheduledFault("blackhole"),
        ScheduledFault("exec_first"),
        ScheduledFault("commission_first"),
        ScheduledFault("external_fill", symbol="ABC", quantity=-2.0),
        ScheduledFault("margin_warning", at_secs=5.0),
        ScheduledFault("data_lost", seconds=2.0),
    )


@pytest.mark.parametrize(
    "spec",
    ["restart=-1", "blackhole=1", "external_fill=ABC:0", "data_lost=nan", "silent=inf", "ack_delay=nan", "drop@nan"],
)
def test_bad_paper_fault_arguments_are_input_errors(spec):
    with pytest.raises(InputError, match="--faults"):
        FaultPlan.parse([spec])


def test_scheduled_margin_warning_reaches_a_client(start_gateway, connect, wait_until):
    gateway = start_gateway(faults=FaultPlan.parse(["margin_warning@0.2"]))
    ib = connect(gateway, 1)
    codes: list[int] = []
    ib.errorEvent += lambda req_id, code, text, contract: codes.append(code)
    wait_until(ib, lambda: 2148 in codes, what="the scheduled 2148")


def test_bracket_legs_whose_parent_was_swallowed_are_rejected_and_never_work(gateway, ib, wait_until):
    parent_order, take_profit_order, stop_order = ib.bracketOrder("BUY", 5, 103.0, 106.0, 96.0, orderRef="lost-parent")
    gateway.blackhole()
    parent = ib.placeOrder(ABC, parent_order)
    take_profit = ib.placeOrder(ABC, take_profit_order)
    stop = ib.placeOrder(ABC, stop_order)
    wait_until(ib, lambda: take_profit.isDone() and stop.isDone(), what="the legs' rejection")
    assert parent.orderStatus.status == "PendingSubmit"
    assert take_profit.orderStatus.status == stop.orderStatus.status == "Inactive"
    assert [e.errorCode for e in stop.log if e.errorCode] == [201]
    assert any(f"parent order {parent.order.orderId} not found" in e.message for e in stop.log)
    assert ib.reqOpenOrders() == []
    for _ in range(4):  # the bars reach both legs' prices: nothing fills
        gateway.step()
    ib.reqCurrentTime()
    assert ib.reqExecutions() == [] and ib.positions() == []
