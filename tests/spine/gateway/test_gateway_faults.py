"""Fault injection: dropped connections with reconnect reconciliation, silence, the --faults syntax."""

from __future__ import annotations

import pytest
from ib_async import IB, LimitOrder, MarketOrder, Stock

from spine.core.errors import InputError
from spine.gateway.faults import FaultPlan, ScheduledFault

ABC = Stock("ABC", "SMART", "USD")


def test_dropped_connection_gives_1100_and_a_reconnect_sees_the_same_open_orders_and_executions(
    gateway, connect, wait_until
):
    ib = connect(gateway, 3)
    codes: list[int] = []
    ib.errorEvent += lambda req_id, code, text, contract: codes.append(code)
    filled = ib.placeOrder(ABC, MarketOrder("BUY", 4, orderRef="fill-me"))
    resting = ib.placeOrder(ABC, LimitOrder("BUY", 2, 50.0, orderRef="resting"))
    wait_until(ib, lambda: resting.orderStatus.status == "Submitted")
    gateway.step()
    wait_until(ib, lambda: filled.isDone() and all(f.commissionReport.execId for f in filled.fills))
    before_fills = [
        (f.execution.execId, f.execution.shares, f.execution.price, f.commissionReport.commission) for f in ib.fills()
    ]

    assert gateway.drop_connections() == 1
    with pytest.raises(ConnectionError):  # ib_async's blocking wait ends with "Socket disconnect"
        wait_until(ib, lambda: False, what="disconnect")
    assert not ib.isConnected()
    assert 1100 in codes

    again = IB()
    try:
        again.connect("127.0.0.1", gateway.port, clientId=3, timeout=5)
        open_trades = again.openTrades()
        assert [(t.order.orderId, t.order.orderRef, t.orderStatus.status) for t in open_trades] == [
            (resting.order.orderId, "resting", "Submitted")
        ]
        after_fills = [
            (f.execution.execId, f.execution.shares, f.execution.price, f.commissionReport.commission)
            for f in again.fills()
        ]
        assert after_fills == before_fills
        assert [p.position for p in again.positions()] == [4.0]
        again.cancelOrder(open_trades[0].order)  # the restored order can still be cancelled
        wait_until(again, lambda: open_trades[0].orderStatus.status == "Cancelled")
    finally:
        again.disconnect()


def test_going_silent_sends_1100_holds_every_answer_then_sends_1102(gateway, ib, wait_until):
    notices: list[int] = []
    ib.errorEvent += lambda req_id, code, text, contract: notices.append(code)
    gateway.go_silent(0.3)
    wait_until(ib, lambda: 1100 in notices, what="1100")
    trade = ib.placeOrder(ABC, MarketOrder("BUY", 1))
    ib.sleep(0.1)
    assert trade.orderStatus.status == "PendingSubmit"  # nothing is answered while silent
    wait_until(ib, lambda: 1102 in notices, what="1102")
    wait_until(ib, lambda: trade.orderStatus.status == "Submitted", what="the held acknowledgement")
    assert ib.isConnected()


def test_faults_option_parses_every_kind():
    plan = FaultPlan.parse(["reject=201:No permissions,partial=0.5", "drop@30,silent=5@60,ack_delay=0.25"])
    assert plan.items == (
        ScheduledFault("reject", code=201, text="No permissions"),
        ScheduledFault("partial", fraction=0.5),
        ScheduledFault("drop", at_secs=30.0),
        ScheduledFault("silent", at_secs=60.0, seconds=5.0),
        ScheduledFault("ack_delay", seconds=0.25),
    )


@pytest.mark.parametrize("spec", ["explode", "partial=2", "silent=x", "reject=abc", "drop@-1"])
def test_bad_faults_option_is_an_input_error(spec):
    with pytest.raises(InputError, match="--faults"):
        FaultPlan.parse([spec])


def test_scheduled_fault_runs_at_start_up(start_gateway, connect, wait_until):
    gateway = start_gateway(faults=FaultPlan.parse(["reject=201:closed by schedule"]))
    ib = connect(gateway, 1)
    trade = ib.placeOrder(ABC, MarketOrder("BUY", 1))
    wait_until(ib, lambda: trade.isDone())
    assert any("closed by schedule" in entry.message for entry in trade.log)
