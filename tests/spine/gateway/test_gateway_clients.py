"""Three unmodified IB clients nobody here wrote connect and trade: ib_async 2.x, ib_insync 0.9.86, IB's ibapi.

Each negotiates its own server version (178, 176, 178) and goes through the same
session: account values, positions, contract details, historical bars, a bracket with
an orderRef on every leg, its fills, executions and commission reports.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import ib_async
import ib_insync
import pytest
from ibapi.client import EClient
from ibapi.contract import Contract
from ibapi.order import Order
from ibapi.wrapper import EWrapper

from brokers.fill_model import FillModel
from spine.config import SlippageSettings
from spine.gateway import GatewayThread

WAIT = 5.0


def _wait(sleep: Callable[[float], Any], predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        sleep(0.005)


def _trade_with_an_ib_style_client(lib: Any, gateway: GatewayThread, client_id: int) -> None:
    """The session for ib_async and ib_insync, which share the ``IB`` interface."""
    ib = lib.IB()
    ib.connect("127.0.0.1", gateway.port, clientId=client_id, timeout=WAIT)
    try:
        assert ib.client.serverVersion() == (178 if lib is ib_async else 176)
        values = {(v.tag, v.currency): v.value for v in ib.accountValues()}
        assert values[("NetLiquidation", "USD")] == "1000000.00"
        assert ib.positions() == []
        (contract,) = ib.qualifyContracts(lib.Stock("ABC", "SMART", "USD"))
        assert contract.conId > 0 and contract.secType == "STK"
        gateway.step(1)
        bars = ib.reqHistoricalData(contract, "", "5 D", "1 day", "TRADES", True)
        assert [b.close for b in bars] == [100.5, 102.0]
        legs = ib.bracketOrder("BUY", 10, 102.5, 110.0, 95.0, orderRef="strat-B")
        trades = [ib.placeOrder(contract, leg) for leg in legs]
        _wait(ib.sleep, lambda: all(t.orderStatus.status in ("Submitted", "PreSubmitted") for t in trades), "acks")
        gateway.step(1)  # 2020-01-06 opens 102.0: the parent fills at the open, below its limit
        _wait(
            ib.sleep,
            lambda: (
                trades[0].orderStatus.status == "Filled"
                and trades[0].fills
                and trades[0].fills[0].commissionReport.execId
            ),
            "the parent's fill and commission",
        )
        gateway.step(1)  # 2020-01-07: low 94 takes the stop at 95, the take-profit is cancelled
        _wait(ib.sleep, lambda: trades[2].orderStatus.status == "Filled" and trades[1].isDone(), "the stop")
        assert trades[1].orderStatus.status == "Cancelled"
        fills = ib.fills()
        _wait(ib.sleep, lambda: all(f.commissionReport.execId for f in ib.fills()), "commission reports")
        assert [(f.execution.side, f.execution.shares, f.execution.price) for f in fills] == [
            ("BOT", 10.0, 102.0),
            ("SLD", 10.0, 95.0),
        ]
        assert {f.execution.orderRef for f in fills} == {"strat-B"}
        assert [t.order.orderRef for t in trades] == ["strat-B"] * 3
        assert [f.commissionReport.commission for f in ib.fills()] == [1.02, 0.95]  # 10 bps to the cent
        assert ib.fills()[1].commissionReport.realizedPNL == pytest.approx(-71.97)
        executions = ib.reqExecutions()
        assert len(executions) == 2
        _wait(ib.sleep, lambda: not ib.positions() or ib.positions()[0].position == 0, "flat position")
    finally:
        ib.disconnect()


@pytest.fixture
def priced_gateway(start_gateway) -> GatewayThread:
    return start_gateway(fill_model=FillModel(slippage=SlippageSettings(model="none"), commission_bps=10.0))


def test_ib_async_connects_at_178_and_trades_a_bracket(priced_gateway):
    _trade_with_an_ib_style_client(ib_async, priced_gateway, 11)


def test_ib_insync_0_9_86_connects_at_176_and_trades_a_bracket(priced_gateway):
    assert ib_insync.__version__ == "0.9.86"
    _trade_with_an_ib_style_client(ib_insync, priced_gateway, 12)


class _Recorder(EWrapper, EClient):
    """IB's official client driven the documented way: EClient for requests, EWrapper callbacks."""

    def __init__(self) -> None:
        EClient.__init__(self, self)
        self.events: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self.seen: list[tuple[Any, ...]] = []

    def _put(self, *event: Any) -> None:
        self.events.put(event)

    def nextValidId(self, orderId: int) -> None:
        self._put("nextValidId", orderId)

    def managedAccounts(self, accountsList: str) -> None:
        self._put("accounts", accountsList)

    def error(self, reqId, *args) -> None:
        self._put("error", reqId, *args)

    def updateAccountValue(self, key, val, currency, accountName) -> None:
        self._put("account", key, val, currency)

    def accountDownloadEnd(self, accountName) -> None:
        self._put("accountEnd")

    def position(self, account, contract, position, avgCost) -> None:
        self._put("position", contract.symbol, float(position))

    def positionEnd(self) -> None:
        self._put("positionEnd")

    def contractDetails(self, reqId, contractDetails) -> None:
        self._put("details", contractDetails.contract.symbol, contractDetails.contract.conId)

    def contractDetailsEnd(self, reqId) -> None:
        self._put("detailsEnd", reqId)

    def historicalData(self, reqId, bar) -> None:
        self._put("bar", bar.date, bar.close)

    def historicalDataEnd(self, reqId, start, end) -> None:
        self._put("barsEnd", reqId)

    def openOrder(self, orderId, contract, order, orderState) -> None:
        self._put("open", orderId, order.orderRef, orderState.status)

    def orderStatus(self, orderId, status, filled, remaining, *rest) -> None:
        self._put("status", orderId, status, float(filled))

    def execDetails(self, reqId, contract, execution) -> None:
        self._put(
            "exec",
            reqId,
            execution.orderId,
            execution.orderRef,
            execution.side,
            float(execution.shares),
            execution.price,
            execution.execId,
        )

    def execDetailsEnd(self, reqId) -> None:
        self._put("execEnd", reqId)

    def commissionAndFeesReport(self, report) -> None:
        self._put("commission", report.execId, report.commissionAndFees)

    def commissionReport(self, report) -> None:
        self._put("commission", report.execId, report.commission)

    def wait_for(self, predicate: Callable[[tuple[Any, ...]], bool], what: str) -> tuple[Any, ...]:
        """The first event (seen or arriving) that satisfies ``predicate``."""
        for event in self.seen:
            if predicate(event):
                return event
        deadline = time.monotonic() + WAIT
        while True:
            try:
                event = self.events.get(timeout=max(deadline - time.monotonic(), 0.001))
            except queue.Empty:
                raise AssertionError(f"ibapi: timed out waiting for {what}; saw {self.seen[-10:]}") from None
            self.seen.append(event)
            if predicate(event):
                return event


def _stock(symbol: str) -> Contract:
    contract = Contract()
    contract.symbol, contract.secType, contract.exchange, contract.currency = symbol, "STK", "SMART", "USD"
    return contract


def _order(
    action: str,
    order_type: str,
    quantity: float,
    *,
    limit: float | None = None,
    stop: float | None = None,
    parent: int = 0,
    transmit: bool = True,
) -> Order:
    order = Order()
    order.action, order.orderType, order.totalQuantity = action, order_type, quantity
    if limit is not None:
        order.lmtPrice = limit
    if stop is not None:
        order.auxPrice = stop
    order.parentId, order.transmit, order.orderRef = parent, transmit, "strat-C"
    order.eTradeOnly = order.firmQuoteOnly = False
    return order


def test_ibapi_official_client_connects_at_178_and_trades_a_bracket(priced_gateway):
    app = _Recorder()
    app.connect("127.0.0.1", priced_gateway.port, 13)
    reader = threading.Thread(target=app.run, name="ibapi-reader", daemon=True)
    reader.start()
    try:
        first_id = app.wait_for(lambda e: e[0] == "nextValidId", "nextValidId")[1]
        assert app.serverVersion() == 178
        app.reqAccountUpdates(True, "")
        app.wait_for(lambda e: e[0] == "accountEnd", "account download")
        assert ("account", "NetLiquidation", "1000000.00", "USD") in app.seen
        app.reqPositions()
        app.wait_for(lambda e: e[0] == "positionEnd", "positions")
        app.reqContractDetails(7, _stock("ABC"))
        assert app.wait_for(lambda e: e[0] == "details", "contract details")[1] == "ABC"
        priced_gateway.step(1)
        app.reqHistoricalData(8, _stock("ABC"), "", "5 D", "1 day", "TRADES", 1, 1, False, [])
        app.wait_for(lambda e: e == ("barsEnd", 8), "bars")
        assert [e[2] for e in app.seen if e[0] == "bar"] == [100.5, 102.0]
        parent = first_id
        app.placeOrder(parent, _stock("ABC"), _order("BUY", "LMT", 10, limit=102.5, transmit=False))
        app.placeOrder(parent + 1, _stock("ABC"), _order("SELL", "LMT", 10, limit=110.0, parent=parent, transmit=False))
        app.placeOrder(parent + 2, _stock("ABC"), _order("SELL", "STP", 10, stop=95.0, parent=parent))
        app.wait_for(lambda e: e[:2] == ("open", parent + 2), "the bracket's acknowledgement")
        priced_gateway.step(1)
        app.wait_for(lambda e: e[0] == "status" and e[1] == parent and e[2] == "Filled", "the parent's fill")
        priced_gateway.step(1)
        app.wait_for(lambda e: e[0] == "status" and e[1] == parent + 2 and e[2] == "Filled", "the stop's fill")
        app.wait_for(lambda e: e[0] == "status" and e[1] == parent + 1 and e[2] == "Cancelled", "the OCA cancel")
        fills = [e for e in app.seen if e[0] == "exec"]
        assert [(e[2], e[3], e[4], e[5], e[6]) for e in fills] == [
            (parent, "strat-C", "BOT", 10.0, 102.0),
            (parent + 2, "strat-C", "SLD", 10.0, 95.0),
        ]
        for execution in fills:
            app.wait_for(lambda e, x=execution[7]: e[0] == "commission" and e[1] == x, "commission report")
        assert sorted(e[2] for e in app.seen if e[0] == "commission") == [0.95, 1.02]
        assert {e[2] for e in app.seen if e[0] == "open"} == {"strat-C"}
        app.reqExecutions(21, __import__("ibapi.execution", fromlist=["ExecutionFilter"]).ExecutionFilter())
        app.wait_for(lambda e: e == ("execEnd", 21), "the executions answer")
        assert len([e for e in app.seen if e[0] == "exec" and e[1] == 21]) == 2
    finally:
        app.disconnect()
        reader.join(WAIT)
